//! The controllers API creates what the real controllers create, and typed kube clients
//! (`Api<Pod>`, `Api<ReplicaSet>`...) read it back: owner references with uid and
//! `controller: true`, `pod-template-hash` labels, rollouts, Jobs, CronJobs, a Volcano-style job,
//! and pod lifecycles.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::Client;
use kube_emulator::controllers::{now, template};
use kube_emulator::Emulator;
use serde_json::{json, Value};

async fn client(emu: &Emulator) -> Client {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&emu.kubeconfig_yaml()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    Client::try_from(config).unwrap()
}

fn owner(o: &Value) -> (String, String, Option<bool>) {
    let r = &o["metadata"]["ownerReferences"][0];
    (r["kind"].as_str().unwrap_or("").into(), r["uid"].as_str().unwrap_or("").into(), r["controller"].as_bool())
}

fn uid(o: &Value) -> String {
    o["metadata"]["uid"].as_str().unwrap().into()
}

fn name(o: &Value) -> String {
    o["metadata"]["name"].as_str().unwrap().into()
}

#[tokio::test]
async fn deployments_replicasets_and_pods_as_the_controllers_make_them() {
    let emu = Emulator::start().await.unwrap();
    let d = emu.create_deployment("prod", "web", 3, template("web", "nginx:1.27")).unwrap();
    let rss = emu.list("apps/v1", "ReplicaSet", Some("prod"));
    assert_eq!(rss.len(), 1);
    let rs = &rss[0];
    assert_eq!(owner(rs), ("Deployment".into(), uid(&d), Some(true)));
    let hash = rs["metadata"]["labels"]["pod-template-hash"].as_str().unwrap().to_string();
    assert_eq!(name(rs), format!("web-{hash}"));
    assert_eq!(rs["spec"]["selector"]["matchLabels"]["pod-template-hash"], hash.as_str());
    let pods = emu.list("v1", "Pod", Some("prod"));
    assert_eq!(pods.len(), 3);
    for p in &pods {
        assert_eq!(owner(p), ("ReplicaSet".into(), uid(rs), Some(true)));
        assert_eq!(p["metadata"]["labels"]["pod-template-hash"], hash.as_str());
        assert!(name(p).starts_with(&format!("web-{hash}-")), "{}", name(p));
    }

    emu.scale_deployment("prod", "web", 5).unwrap();
    assert_eq!(emu.list("v1", "Pod", Some("prod")).len(), 5);
    emu.scale_deployment("prod", "web", 2).unwrap();
    assert_eq!(emu.list("v1", "Pod", Some("prod")).len(), 2);

    // A rollout: a new ReplicaSet with a new hash takes the pods; the old one is scaled to zero.
    let d2 = emu.update_deployment_template("prod", "web", template("web", "nginx:1.28")).unwrap();
    assert_eq!(d2["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2");
    let rss = emu.list("apps/v1", "ReplicaSet", Some("prod"));
    assert_eq!(rss.len(), 2);
    let new_rs = rss.iter().find(|r| name(r) != name(rs)).unwrap();
    let old_rs = rss.iter().find(|r| name(r) == name(rs)).unwrap();
    let new_hash = new_rs["metadata"]["labels"]["pod-template-hash"].as_str().unwrap();
    assert_ne!(new_hash, hash);
    assert_eq!(old_rs["spec"]["replicas"], 0);
    assert_eq!(new_rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2");
    let pods = emu.list("v1", "Pod", Some("prod"));
    assert_eq!(pods.len(), 2, "the old pods are gone");
    assert!(pods.iter().all(|p| owner(p).1 == uid(new_rs) && p["metadata"]["labels"]["pod-template-hash"] == new_hash));
    assert!(pods.iter().all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.28"));

    // Status, when a test asks for it, counts running pods as ready.
    emu.set_pod_running("prod", &name(&pods[0]), now()).unwrap();
    let status = emu.sync_deployment_status("prod", "web").unwrap()["status"].clone();
    assert_eq!((status["replicas"].as_u64(), status["readyReplicas"].as_u64()), (Some(2), Some(1)));
    assert_eq!(status["updatedReplicas"], 2);

    // Typed clients read all of it.
    let client = client(&emu).await;
    let typed: Vec<ReplicaSet> =
        Api::<ReplicaSet>::namespaced(client.clone(), "prod").list(&ListParams::default()).await.unwrap().items;
    assert_eq!(typed.len(), 2);
    let deployment = Api::<Deployment>::namespaced(client.clone(), "prod").get("web").await.unwrap();
    assert_eq!(deployment.status.unwrap().ready_replicas, Some(1));

    emu.delete_deployment("prod", "web").unwrap();
    assert_eq!(emu.object_count(), 0, "the garbage collector's work: nothing left");
}

#[tokio::test]
async fn jobs_cronjobs_and_custom_jobs() {
    let emu = Emulator::start().await.unwrap();
    let (job, pods) = emu.create_job("batch", "once", 2, template("once", "busybox")).unwrap();
    assert_eq!(pods.len(), 2);
    for p in &pods {
        assert_eq!(owner(p), ("Job".into(), uid(&job), Some(true)));
        assert_eq!(p["metadata"]["labels"]["job-name"], "once");
        assert_eq!(p["metadata"]["labels"]["batch.kubernetes.io/controller-uid"], uid(&job).as_str());
    }
    let done = emu.complete_job("batch", "once", now()).unwrap();
    assert_eq!(done["status"]["succeeded"], 2);
    assert_eq!(done["status"]["conditions"][0]["type"], "Complete");
    let pod = emu.get("v1", "Pod", "batch", &name(&pods[0])).unwrap();
    assert_eq!(pod["status"]["phase"], "Succeeded");

    let cron = emu.create_cronjob("batch", "nightly", "0 3 * * *", 1, template("nightly", "busybox")).unwrap();
    let (job, pods) = emu.run_cronjob_once("batch", "nightly").unwrap();
    assert_eq!(owner(&job), ("CronJob".into(), uid(&cron), Some(true)));
    assert_eq!(pods.len(), 1);
    assert_eq!(owner(&pods[0]), ("Job".into(), uid(&job), Some(true)));

    let (vcjob, pods) = emu
        .create_custom_job(
            "batch",
            "train",
            &[("ps", 1, template("ps", "tf:1")), ("worker", 3, template("worker", "tf:1"))],
        )
        .unwrap();
    assert_eq!(vcjob["apiVersion"], "batch.volcano.sh/v1alpha1");
    assert_eq!(vcjob["spec"]["tasks"][1]["template"]["spec"]["containers"][0]["name"], "worker");
    assert_eq!(pods.len(), 4);
    let tasks: BTreeSet<&str> =
        pods.iter().map(|p| p["metadata"]["labels"]["volcano.sh/task-spec"].as_str().unwrap()).collect();
    assert_eq!(tasks, BTreeSet::from(["ps", "worker"]));
    assert!(pods.iter().all(|p| owner(p) == ("Job".into(), uid(&vcjob), Some(true))));

    let client = client(&emu).await;
    let jobs = Api::<Job>::namespaced(client, "batch").list(&ListParams::default()).await.unwrap();
    assert_eq!(jobs.items.len(), 2, "the batch/v1 Jobs only");
}

#[tokio::test]
async fn pod_lifecycle_by_status_writes() {
    let emu = Emulator::start().await.unwrap();
    let mut t = template("app", "app:1");
    t["spec"]["initContainers"] = json!([{"name": "migrate", "image": "app:1"}, {"name": "warm", "image": "app:1"}]);
    let (_, pods) = emu.create_job("ns", "j", 1, t).unwrap();
    let pod = name(&pods[0]);
    let client = client(&emu).await;
    let api = Api::<Pod>::namespaced(client, "ns");

    emu.set_pod_pending("ns", &pod).unwrap();
    assert_eq!(api.get(&pod).await.unwrap().status.unwrap().phase.as_deref(), Some("Pending"));

    let t0 = 1_700_000_000;
    emu.set_pod_initializing("ns", &pod, t0).unwrap();
    let s = api.get(&pod).await.unwrap().status.unwrap();
    let init = s.init_container_statuses.unwrap();
    assert!(init[0].state.as_ref().unwrap().running.is_some());
    assert!(init[1].state.as_ref().unwrap().waiting.is_some());

    emu.set_pod_running("ns", &pod, t0 + 10).unwrap();
    let s = api.get(&pod).await.unwrap().status.unwrap();
    assert_eq!(s.phase.as_deref(), Some("Running"));
    let running = s.container_statuses.unwrap()[0].state.clone().unwrap().running.unwrap();
    assert_eq!(running.started_at.unwrap().0.as_second(), t0 + 10);
    assert!(s.init_container_statuses.unwrap().iter().all(|c| c.state.as_ref().unwrap().terminated.is_some()));

    emu.set_pod_terminated("ns", &pod, t0 + 70, 1).unwrap();
    let s = api.get(&pod).await.unwrap().status.unwrap();
    assert_eq!(s.phase.as_deref(), Some("Failed"));
    let term = s.container_statuses.unwrap()[0].state.clone().unwrap().terminated.unwrap();
    assert_eq!((term.exit_code, term.started_at.unwrap().0.as_second()), (1, t0 + 10));
    assert_eq!(term.finished_at.unwrap().0.as_second(), t0 + 70);
}

async fn next(stream: &mut (impl futures::Stream<Item = Result<Event<Pod>, watcher::Error>> + Unpin)) -> String {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.next()).await.unwrap() {
            Some(Ok(Event::Apply(p) | Event::InitApply(p))) => {
                return format!("apply {:?}", p.metadata.labels.unwrap_or_default().get("v"))
            }
            Some(Ok(Event::Delete(_))) => return "delete".to_string(),
            _ => {}
        }
    }
}

#[tokio::test]
async fn typed_writes_and_a_selector_watch() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu).await;
    let api = Api::<Pod>::namespaced(client, "default");
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p", "labels": {"app": "a"}},
                                                  "spec": {"containers": [{"name": "c", "image": "i"}]}}))
    .unwrap();
    let created = api.create(&PostParams::default(), &pod).await.unwrap();
    assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());

    let cfg = watcher::Config::default().labels("app=a");
    let mut stream = watcher::watcher(api.clone(), cfg).boxed();
    assert_eq!(next(&mut stream).await, "apply None");
    let relabel = |labels: Value| Patch::Merge(json!({"metadata": {"labels": labels}}));
    api.patch("p", &PatchParams::default(), &relabel(json!({"v": "1"}))).await.unwrap();
    assert_eq!(next(&mut stream).await, "apply Some(\"1\")");
    // Leaving the selector is a deletion for this watch; coming back, an addition.
    api.patch("p", &PatchParams::default(), &relabel(json!({"app": "b"}))).await.unwrap();
    assert_eq!(next(&mut stream).await, "delete");
    api.patch("p", &PatchParams::default(), &relabel(json!({"app": "a", "v": "2"}))).await.unwrap();
    assert_eq!(next(&mut stream).await, "apply Some(\"2\")");
}

#[tokio::test]
async fn owned_objects_are_those_whose_owner_references_name_the_uid() {
    let emu = Emulator::start().await.unwrap();
    let d = emu.create_deployment("prod", "web", 2, template("web", "nginx:1.27")).unwrap();
    let rs = &emu.list("apps/v1", "ReplicaSet", Some("prod"))[0];
    // A pod that mentions the ReplicaSet's uid only in a label is not its pod.
    let mut stray = template("stray", "busybox");
    stray["metadata"]["labels"]["copied-from"] = json!(uid(rs));
    emu.create(json!({"apiVersion": "v1", "kind": "Pod",
                      "metadata": {"name": "stray", "namespace": "prod", "labels": stray["metadata"]["labels"]},
                      "spec": stray["spec"]}))
        .unwrap();
    let owned = emu.list_owned_by("v1", "Pod", "prod", &uid(rs));
    assert_eq!(owned.len(), 2);
    assert!(owned.iter().all(|p| owner(p).1 == uid(rs)));
    assert_eq!(emu.list_owned_by("apps/v1", "ReplicaSet", "prod", &uid(&d)).len(), 1);
    assert!(emu.list_owned_by("apps/v1", "ReplicaSet", "other", &uid(&d)).is_empty());
}

/// Over TLS, a client configured by the emulator's kubeconfig trusts its certificate, and reads
/// what the controllers wrote: managed fields for spec and status, the scheduler's condition.
#[tokio::test]
async fn tls_and_what_a_control_plane_writes() {
    let emu = Emulator::start_tls().await.unwrap();
    assert!(emu.url().starts_with("https://127.0.0.1:"));
    emu.create_deployment("prod", "web", 1, template("web", "nginx:1.27")).unwrap();
    let pod = emu.list("v1", "Pod", Some("prod")).remove(0);
    let pod = emu.set_pod_unschedulable("prod", &name(&pod), 0).unwrap();
    assert_eq!(pod["status"]["conditions"][0]["reason"], "Unschedulable");
    let again = emu.set_pod_unschedulable("prod", &name(&pod), 1).unwrap();
    assert_ne!(again["metadata"]["resourceVersion"], pod["metadata"]["resourceVersion"], "a retry is a write");
    let managers: Vec<&str> =
        again["metadata"]["managedFields"].as_array().unwrap().iter().filter_map(|m| m["manager"].as_str()).collect();
    assert_eq!(managers, ["kube-emulator", "kubelet"]);
    assert!(again["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:containers"].is_object());
    let d = emu.sync_deployment_status("prod", "web").unwrap();
    assert_eq!(d["status"]["conditions"][1]["type"], "Progressing");

    let client = client(&emu).await;
    let pods = Api::<Pod>::namespaced(client, "prod").list(&ListParams::default()).await.unwrap().items;
    assert_eq!(pods.len(), 1);
}
