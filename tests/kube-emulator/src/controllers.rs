//! What controllers and the kubelet would do, as calls: a Deployment with its ReplicaSet and pods
//! (owner references with uid and `controller: true`, `pod-template-hash` labels), rollouts, Jobs
//! and their pods, CronJobs and the Jobs they start, a Volcano-style job with several task
//! templates, and pods moving through their lifecycle by status writes.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::{ApiError, Emulator};

fn rfc3339(unix: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_secs(unix.max(0) as u64);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Now, in unix seconds.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn owner_ref(owner: &Value) -> Value {
    json!({"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
           "uid": owner["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true})
}

/// The ReplicaSet controller's `pod-template-hash`: a short stable hash of the template.
fn template_hash(template: &Value) -> String {
    let h = sk_core::stable_hash(template);
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = h;
    (0..10)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
            n /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

const REVISION: &str = "deployment.kubernetes.io/revision";
const REVISION_POINTER: &str = "/metadata/annotations/deployment.kubernetes.io~1revision";

fn with_label(template: &Value, key: &str, value: &str) -> Value {
    let mut t = template.clone();
    t["metadata"]["labels"][key] = json!(value);
    t
}

impl Emulator {
    /// A pod as a controller creates it from `template`: generated name, owner reference, and what
    /// admission and the scheduler add (service account, token volume, node).
    pub fn create_pod(&self, ns: &str, prefix: &str, template: &Value, owner: &Value) -> Result<Value, ApiError> {
        let mut spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
        let node = format!("node-{}", self.object_count() % 3 + 1);
        spec["nodeName"] = json!(node);
        spec["serviceAccountName"] = json!("default");
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"generateName": format!("{prefix}-"), "namespace": ns,
                         "labels": template.pointer("/metadata/labels").cloned().unwrap_or(json!({})),
                         "annotations": template.pointer("/metadata/annotations").cloned().unwrap_or(json!({})),
                         "ownerReferences": [owner_ref(owner)]},
            "spec": spec,
            "status": {"phase": "Pending"},
        });
        let created = self.create(pod)?;
        let name = created["metadata"]["name"].as_str().unwrap_or_default().to_string();
        // The token volume's name has a random suffix, so that every pod differs from its template.
        let mut with_volume = created.clone();
        let volume = format!("kube-api-access-{}", &name[name.len().saturating_sub(5)..]);
        with_volume["spec"]["volumes"] =
            json!([{"name": volume, "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}]);
        if let Some(containers) = with_volume["spec"]["containers"].as_array_mut() {
            for c in containers {
                c["volumeMounts"] = json!([{"name": volume, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}]);
            }
        }
        self.update(with_volume)
    }

    fn pods_owned_by(&self, ns: &str, owner_uid: &str) -> Vec<Value> {
        self.list_owned_by("v1", "Pod", ns, owner_uid)
    }

    /// The ReplicaSets a Deployment owns.
    fn replicasets_of(&self, deployment: &Value) -> Vec<Value> {
        let ns = deployment["metadata"]["namespace"].as_str().unwrap_or_default();
        self.list_owned_by("apps/v1", "ReplicaSet", ns, deployment["metadata"]["uid"].as_str().unwrap_or_default())
    }

    fn scale_replicaset(&self, rs: &Value, replicas: usize) -> Result<(), ApiError> {
        let ns = rs["metadata"]["namespace"].as_str().unwrap_or_default();
        let uid = rs["metadata"]["uid"].as_str().unwrap_or_default();
        let mut updated = rs.clone();
        updated["spec"]["replicas"] = json!(replicas);
        let rs = self.update(updated)?;
        let mut pods = self.pods_owned_by(ns, uid);
        let template = rs["spec"]["template"].clone();
        let prefix = rs["metadata"]["name"].as_str().unwrap_or_default().to_string();
        while pods.len() < replicas {
            pods.push(self.create_pod(ns, &prefix, &template, &rs)?);
        }
        for extra in pods.iter().skip(replicas) {
            self.delete("v1", "Pod", ns, extra["metadata"]["name"].as_str().unwrap_or_default())?;
        }
        Ok(())
    }

    /// The ReplicaSet of a Deployment for its current template, created if needed.
    fn replicaset_for(&self, deployment: &Value) -> Result<Value, ApiError> {
        let ns = deployment["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = deployment["metadata"]["name"].as_str().unwrap_or_default();
        let hash = template_hash(&deployment["spec"]["template"]);
        let rs_name = format!("{name}-{hash}");
        if let Ok(rs) = self.get("apps/v1", "ReplicaSet", ns, &rs_name) {
            return Ok(rs);
        }
        let template = with_label(&deployment["spec"]["template"], "pod-template-hash", &hash);
        let revision = deployment.pointer(REVISION_POINTER).and_then(Value::as_str).unwrap_or("1");
        let mut selector = deployment["spec"]["selector"].clone();
        selector["matchLabels"]["pod-template-hash"] = json!(hash);
        self.create(json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs_name, "namespace": ns, "labels": template["metadata"]["labels"],
                         "annotations": {REVISION: revision},
                         "ownerReferences": [owner_ref(deployment)]},
            "spec": {"replicas": 0, "selector": selector, "template": template},
        }))
    }

    /// Creates a Deployment of `replicas` pods from `template` (`{"metadata": {"labels": ...},
    /// "spec": ...}`), with its ReplicaSet and pods.
    pub fn create_deployment(&self, ns: &str, name: &str, replicas: usize, template: Value) -> Result<Value, ApiError> {
        let labels = template.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({"app": name}));
        let template = with_label(&template, "app", labels.get("app").and_then(Value::as_str).unwrap_or(name));
        let deployment = self.create(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": name}, "annotations": {REVISION: "1"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": template["metadata"]["labels"]}, "template": template},
        }))?;
        let rs = self.replicaset_for(&deployment)?;
        self.scale_replicaset(&rs, replicas)?;
        self.get("apps/v1", "Deployment", ns, name)
    }

    pub fn scale_deployment(&self, ns: &str, name: &str, replicas: usize) -> Result<Value, ApiError> {
        let mut d = self.get("apps/v1", "Deployment", ns, name)?;
        d["spec"]["replicas"] = json!(replicas);
        let d = self.update(d)?;
        let rs = self.replicaset_for(&d)?;
        self.scale_replicaset(&rs, replicas)?;
        Ok(d)
    }

    /// A rollout: the Deployment gets a new template, a new ReplicaSet (new `pod-template-hash`)
    /// takes all replicas, and the old ones are scaled to zero.
    pub fn update_deployment_template(&self, ns: &str, name: &str, template: Value) -> Result<Value, ApiError> {
        let mut d = self.get("apps/v1", "Deployment", ns, name)?;
        let app = d["spec"]["selector"]["matchLabels"].clone();
        let mut template = template;
        for (k, v) in app.as_object().into_iter().flatten() {
            template["metadata"]["labels"][k] = v.clone();
        }
        d["spec"]["template"] = template;
        // As the deployment controller numbers rollouts: one past the newest ReplicaSet's revision.
        let newest = self
            .replicasets_of(&d)
            .iter()
            .filter_map(|rs| rs.pointer(REVISION_POINTER)?.as_str()?.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        d["metadata"]["annotations"][REVISION] = json!((newest + 1).to_string());
        let d = self.update(d)?;
        let replicas = d["spec"]["replicas"].as_u64().unwrap_or(1) as usize;
        let new_rs = self.replicaset_for(&d)?;
        for rs in self.replicasets_of(&d) {
            if rs["metadata"]["name"] != new_rs["metadata"]["name"] {
                self.scale_replicaset(&rs, 0)?;
            }
        }
        self.scale_replicaset(&new_rs, replicas)?;
        Ok(d)
    }

    /// Deletes a Deployment and, as the garbage collector would, its ReplicaSets and pods.
    pub fn delete_deployment(&self, ns: &str, name: &str) -> Result<(), ApiError> {
        let d = self.delete("apps/v1", "Deployment", ns, name)?;
        for rs in self.replicasets_of(&d) {
            for pod in self.pods_owned_by(ns, rs["metadata"]["uid"].as_str().unwrap_or_default()) {
                self.delete("v1", "Pod", ns, pod["metadata"]["name"].as_str().unwrap_or_default())?;
            }
            self.delete("apps/v1", "ReplicaSet", ns, rs["metadata"]["name"].as_str().unwrap_or_default())?;
        }
        Ok(())
    }

    fn job_object(ns: &str, name: &str, pods: usize, template: &Value, owner: Option<&Value>) -> Value {
        let mut job = json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"completions": pods, "parallelism": pods, "template": template},
        });
        if let Some(owner) = owner {
            job["metadata"]["ownerReferences"] = json!([owner_ref(owner)]);
        }
        job
    }

    fn start_job_pods(&self, job: &Value, pods: usize) -> Result<Vec<Value>, ApiError> {
        let ns = job["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = job["metadata"]["name"].as_str().unwrap_or_default();
        let uid = job["metadata"]["uid"].as_str().unwrap_or_default();
        let mut template = job["spec"]["template"].clone();
        for (k, v) in [
            ("job-name", name),
            ("batch.kubernetes.io/job-name", name),
            ("controller-uid", uid),
            ("batch.kubernetes.io/controller-uid", uid),
        ] {
            template = with_label(&template, k, v);
        }
        (0..pods).map(|_| self.create_pod(ns, name, &template, job)).collect()
    }

    /// A Job and its `pods` pods.
    pub fn create_job(
        &self,
        ns: &str,
        name: &str,
        pods: usize,
        template: Value,
    ) -> Result<(Value, Vec<Value>), ApiError> {
        let job = self.create(Self::job_object(ns, name, pods, &template, None))?;
        let pods = self.start_job_pods(&job, pods)?;
        Ok((job, pods))
    }

    /// A CronJob whose jobs run `pods` pods of `template`.
    pub fn create_cronjob(
        &self,
        ns: &str,
        name: &str,
        schedule: &str,
        pods: usize,
        template: Value,
    ) -> Result<Value, ApiError> {
        self.create(json!({
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"schedule": schedule, "jobTemplate": {"spec": {"completions": pods, "parallelism": pods, "template": template}}},
        }))
    }

    /// What the CronJob controller does at a scheduled time: a Job owned by the CronJob, and its pods.
    pub fn run_cronjob_once(&self, ns: &str, name: &str) -> Result<(Value, Vec<Value>), ApiError> {
        let cron = self.get("batch/v1", "CronJob", ns, name)?;
        let pods = cron.pointer("/spec/jobTemplate/spec/completions").and_then(Value::as_u64).unwrap_or(1) as usize;
        let template = cron["spec"]["jobTemplate"]["spec"]["template"].clone();
        let job_name = format!("{name}-{}", now() / 60);
        let job = self.create(Self::job_object(ns, &job_name, pods, &template, Some(&cron)))?;
        let pods = self.start_job_pods(&job, pods)?;
        Ok((job, pods))
    }

    /// A Volcano-style job (`batch.volcano.sh/v1alpha1` Job, registered if needed) with one task
    /// per `(task name, replicas, template)`, and the pods of every task.
    pub fn create_custom_job(
        &self,
        ns: &str,
        name: &str,
        tasks: &[(&str, usize, Value)],
    ) -> Result<(Value, Vec<Value>), ApiError> {
        self.register_kind(crate::kinds::volcano_job());
        let task_specs: Vec<Value> = tasks
            .iter()
            .map(|(task, replicas, template)| json!({"name": task, "replicas": replicas, "template": template}))
            .collect();
        let job = self.create(json!({
            "apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"minAvailable": tasks.iter().map(|t| t.1).sum::<usize>(), "schedulerName": "volcano", "tasks": task_specs},
        }))?;
        let mut pods = Vec::new();
        for (task, replicas, template) in tasks {
            let template = with_label(template, "volcano.sh/task-spec", task);
            for _ in 0..*replicas {
                pods.push(self.create_pod(ns, &format!("{name}-{task}"), &template, &job)?);
            }
        }
        Ok((job, pods))
    }

    fn set_pod_status(&self, ns: &str, name: &str, status: impl FnOnce(&Value) -> Value) -> Result<Value, ApiError> {
        let mut pod = self.get("v1", "Pod", ns, name)?;
        pod["status"] = status(&pod);
        self.update_status(pod)
    }

    fn container_names(pod: &Value, field: &str) -> Vec<String> {
        pod.pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .map(|cs| cs.iter().filter_map(|c| c["name"].as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }

    pub fn set_pod_pending(&self, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.set_pod_status(ns, name, |pod| {
            let waiting: Vec<Value> = Self::container_names(pod, "containers")
                .iter()
                .map(|c| json!({"name": c, "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}))
                .collect();
            json!({"phase": "Pending", "containerStatuses": waiting})
        })
    }

    /// Every container running since `started_at` (unix seconds); init containers finished just before.
    pub fn set_pod_running(&self, ns: &str, name: &str, started_at: i64) -> Result<Value, ApiError> {
        self.set_pod_status(ns, name, |pod| {
            let init: Vec<Value> = Self::container_names(pod, "initContainers")
                .iter()
                .map(|c| json!({"name": c, "ready": true, "restartCount": 0, "state": {"terminated": {
                    "exitCode": 0, "reason": "Completed", "startedAt": rfc3339(started_at - 2), "finishedAt": rfc3339(started_at - 1)}}}))
                .collect();
            let running: Vec<Value> = Self::container_names(pod, "containers")
                .iter()
                .map(|c| json!({"name": c, "ready": true, "restartCount": 0, "started": true,
                                "state": {"running": {"startedAt": rfc3339(started_at)}}}))
                .collect();
            json!({"phase": "Running", "startTime": rfc3339(started_at - 2), "initContainerStatuses": init, "containerStatuses": running})
        })
    }

    /// Every container terminated at `finished_at` with `exit_code`: phase Succeeded (0) or Failed.
    pub fn set_pod_terminated(
        &self,
        ns: &str,
        name: &str,
        finished_at: i64,
        exit_code: i32,
    ) -> Result<Value, ApiError> {
        self.set_pod_status(ns, name, |pod| {
            let mut status = pod.get("status").cloned().unwrap_or_else(|| json!({}));
            let started = |c: &Value| {
                c.pointer("/state/running/startedAt").cloned().unwrap_or_else(|| json!(rfc3339(finished_at)))
            };
            let previous: Vec<Value> = status["containerStatuses"].as_array().cloned().unwrap_or_default();
            let terminated: Vec<Value> = Self::container_names(pod, "containers")
                .iter()
                .map(|name| {
                    let prev = previous.iter().find(|c| c["name"] == name.as_str()).cloned().unwrap_or_default();
                    json!({"name": name, "ready": false, "restartCount": 0, "state": {"terminated": {
                        "exitCode": exit_code, "reason": if exit_code == 0 { "Completed" } else { "Error" },
                        "startedAt": started(&prev), "finishedAt": rfc3339(finished_at)}}})
                })
                .collect();
            status["phase"] = json!(if exit_code == 0 { "Succeeded" } else { "Failed" });
            status["containerStatuses"] = json!(terminated);
            status
        })
    }

    /// The first init container running since `started_at` (unix seconds), later ones and the
    /// main containers waiting, as the kubelet reports a pod that is still initialising.
    pub fn set_pod_initializing(&self, ns: &str, name: &str, started_at: i64) -> Result<Value, ApiError> {
        self.set_pod_status(ns, name, |pod| {
            let init: Vec<Value> = Self::container_names(pod, "initContainers")
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let state = if i == 0 {
                        json!({"running": {"startedAt": rfc3339(started_at)}})
                    } else {
                        json!({"waiting": {"reason": "PodInitializing"}})
                    };
                    json!({"name": c, "ready": false, "restartCount": 0, "started": i == 0, "state": state})
                })
                .collect();
            let waiting: Vec<Value> = Self::container_names(pod, "containers")
                .iter()
                .map(|c| {
                    json!({"name": c, "ready": false, "restartCount": 0, "started": false,
                                "state": {"waiting": {"reason": "PodInitializing"}}})
                })
                .collect();
            json!({"phase": "Pending", "startTime": rfc3339(started_at),
                   "conditions": [{"type": "Initialized", "status": "False", "reason": "ContainersNotInitialized",
                                   "lastTransitionTime": rfc3339(started_at)}],
                   "initContainerStatuses": init, "containerStatuses": waiting})
        })
    }

    /// What the Job controller writes when every pod of a Job has succeeded: the pods terminated
    /// with exit code 0 at `finished_at`, then the Job's status with `succeeded`, `completionTime`
    /// and a `Complete` condition.
    pub fn complete_job(&self, ns: &str, name: &str, finished_at: i64) -> Result<Value, ApiError> {
        let mut job = self.get("batch/v1", "Job", ns, name)?;
        let uid = job["metadata"]["uid"].as_str().unwrap_or_default().to_string();
        let pods = self.pods_owned_by(ns, &uid);
        for pod in &pods {
            self.set_pod_terminated(ns, pod["metadata"]["name"].as_str().unwrap_or_default(), finished_at, 0)?;
        }
        let started =
            job.pointer("/metadata/creationTimestamp").cloned().unwrap_or_else(|| json!(rfc3339(finished_at)));
        job["status"] = json!({"succeeded": pods.len(), "active": 0, "startTime": started,
                               "completionTime": rfc3339(finished_at),
                               "conditions": [{"type": "Complete", "status": "True", "lastProbeTime": rfc3339(finished_at),
                                               "lastTransitionTime": rfc3339(finished_at)}]});
        self.update_status(job)
    }

    /// The status the ReplicaSet and Deployment controllers report for a Deployment, from its pods
    /// as they are now (ready: phase Running): `replicas`, `readyReplicas`, `availableReplicas`,
    /// `updatedReplicas`, `observedGeneration`. The other helpers leave status alone, so a test
    /// chooses when these writes happen.
    pub fn sync_deployment_status(&self, ns: &str, name: &str) -> Result<Value, ApiError> {
        let mut d = self.get("apps/v1", "Deployment", ns, name)?;
        let current_hash = template_hash(&d["spec"]["template"]);
        let (mut replicas, mut ready, mut updated) = (0, 0, 0);
        for mut rs in self.replicasets_of(&d) {
            let pods = self.pods_owned_by(ns, rs["metadata"]["uid"].as_str().unwrap_or_default());
            let rs_ready = pods.iter().filter(|p| p.pointer("/status/phase") == Some(&json!("Running"))).count();
            rs["status"] = json!({"replicas": pods.len(), "fullyLabeledReplicas": pods.len(), "readyReplicas": rs_ready,
                                  "availableReplicas": rs_ready, "observedGeneration": rs["metadata"]["generation"]});
            self.update_status(rs.clone())?;
            replicas += pods.len();
            ready += rs_ready;
            if rs.pointer("/metadata/labels/pod-template-hash") == Some(&json!(current_hash)) {
                updated += pods.len();
            }
        }
        // The conditions the deployment controller keeps, with the times it last wrote them: a
        // controller that resyncs writes status again even when the counts stay.
        let at = crate::state::now_rfc3339();
        let available = if ready >= replicas { "True" } else { "False" };
        let (reason, message) = if updated == replicas && ready == replicas {
            ("NewReplicaSetAvailable", format!("ReplicaSet \"{name}-{current_hash}\" has successfully progressed."))
        } else {
            ("ReplicaSetUpdated", format!("ReplicaSet \"{name}-{current_hash}\" is progressing."))
        };
        d["status"] = json!({"observedGeneration": d["metadata"]["generation"], "replicas": replicas,
                             "updatedReplicas": updated, "readyReplicas": ready, "availableReplicas": ready,
                             "unavailableReplicas": replicas - ready,
                             "conditions": [
                                 {"type": "Available", "status": available,
                                  "reason": if available == "True" { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                                  "message": if available == "True" { "Deployment has minimum availability." } else { "Deployment does not have minimum availability." },
                                  "lastUpdateTime": at, "lastTransitionTime": at},
                                 {"type": "Progressing", "status": "True", "reason": reason, "message": message,
                                  "lastUpdateTime": at, "lastTransitionTime": at}]});
        self.update_status(d)
    }

    /// What kube-scheduler writes on a pod it could not place: phase Pending and a
    /// `PodScheduled=False` condition. It retries every pod it could not place and writes again
    /// when its verdict reads differently (`attempt` varies the nodes it counted).
    pub fn set_pod_unschedulable(&self, ns: &str, name: &str, attempt: u32) -> Result<Value, ApiError> {
        self.set_pod_status(ns, name, |pod| {
            let nodes = 3 + attempt % 2;
            let message = format!(
                "0/{nodes} nodes are available: {nodes} Insufficient cpu. preemption: 0/{nodes} nodes are available: {nodes} No preemption victims found for incoming pod."
            );
            let since = pod
                .pointer("/status/conditions/0/lastTransitionTime")
                .cloned()
                .unwrap_or_else(|| json!(crate::state::now_rfc3339()));
            json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "lastProbeTime": null,
                   "lastTransitionTime": since, "reason": "Unschedulable", "message": message}],
                   "qosClass": "Burstable"})
        })
    }

    pub fn delete_pod(&self, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.delete("v1", "Pod", ns, name)
    }
}

/// A pod template with one container of `image`.
pub fn template(app: &str, image: &str) -> Value {
    json!({"metadata": {"labels": {"app": app}},
           "spec": {"containers": [{"name": app, "image": image, "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}],
                    "restartPolicy": "Always"}})
}
