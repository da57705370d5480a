//! `pod-hash`: the template sanitiser applied before a pod's hash is taken. It removes what differs
//! between a production pod and the pod a simulator creates from the recorded template: what
//! controllers, admission plugins and the scheduler add to a pod. docs/recording.md ("What the pod hash
//! ignores") lists exactly these tables.

use serde_json::Value;
use sk_core::pipeline::{Sanitiser, SanitiserPlugin};

use super::{no_options, remove_keys};

/// Labels controllers add to the pods they create.
const LABELS: &[&str] = &[
    "pod-template-hash",
    "controller-uid",
    "batch.kubernetes.io/controller-uid",
    "job-name",
    "batch.kubernetes.io/job-name",
    "controller-revision-hash",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "batch.kubernetes.io/job-completion-index",
];

/// Annotations controllers add to the pods they create.
const ANNOTATIONS: &[&str] = &["batch.kubernetes.io/job-completion-index"];

/// Metadata that names one pod rather than its template.
const METADATA: &[&str] = &["name", "generateName"];

/// Pod spec fields set by the scheduler, admission (ServiceAccount, Priority) or the StatefulSet
/// controller, and container ports, which a simulated pod does not open.
const SPEC: &[&str] = &["nodeName", "serviceAccount", "serviceAccountName", "hostname", "subdomain", "priority"];

/// Volumes the ServiceAccount admission plugin mounts, by name prefix.
const TOKEN_VOLUME_PREFIX: &str = "kube-api-access-";

/// The tolerations the DefaultTolerationSeconds admission plugin adds.
const DEFAULT_TOLERATION_KEYS: &[&str] = &["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"];

/// The preemption policy the Priority admission plugin fills in when the pod has none.
const DEFAULT_PREEMPTION_POLICY: &str = "PreemptLowerPriority";

/// Pod-only defaulting (`SetDefaults_Pod`, not applied to templates): `enableServiceLinks: true`,
/// and container resource requests copied from limits where missing. Both are normalised the same
/// way on both sides: the default removed, the requests filled in.
const DEFAULT_ENABLE_SERVICE_LINKS: bool = true;

const CONTAINER_LISTS: &[&str] = &["containers", "initContainers", "ephemeralContainers"];

struct PodHash;

fn is_default_toleration(t: &Value) -> bool {
    let key = t.get("key").and_then(Value::as_str).unwrap_or("");
    DEFAULT_TOLERATION_KEYS.contains(&key)
        && t.get("operator").and_then(Value::as_str) == Some("Exists")
        && t.get("effect").and_then(Value::as_str) == Some("NoExecute")
        && t.get("tolerationSeconds").and_then(Value::as_i64) == Some(300)
}

fn is_token_volume(name: Option<&Value>) -> bool {
    name.and_then(Value::as_str).is_some_and(|n| n.starts_with(TOKEN_VOLUME_PREFIX))
}

/// Keeps the elements of the array at `obj[field]` that `keep` accepts; drops an emptied array.
fn retain_list(obj: &mut serde_json::Map<String, Value>, field: &str, keep: impl Fn(&Value) -> bool) {
    if let Some(Value::Array(items)) = obj.get_mut(field) {
        let had = items.len();
        items.retain(|v| keep(v));
        if items.is_empty() && had > 0 {
            obj.remove(field);
        }
    }
}

fn clean_spec(spec: &mut serde_json::Map<String, Value>) {
    for f in SPEC {
        spec.remove(*f);
    }
    if spec.get("preemptionPolicy").and_then(Value::as_str) == Some(DEFAULT_PREEMPTION_POLICY) {
        spec.remove("preemptionPolicy");
    }
    if spec.get("enableServiceLinks").and_then(Value::as_bool) == Some(DEFAULT_ENABLE_SERVICE_LINKS) {
        spec.remove("enableServiceLinks");
    }
    retain_list(spec, "tolerations", |t| !is_default_toleration(t));
    retain_list(spec, "volumes", |v| !is_token_volume(v.get("name")));
    for list in CONTAINER_LISTS {
        if let Some(Value::Array(containers)) = spec.get_mut(*list) {
            for c in containers.iter_mut().filter_map(Value::as_object_mut) {
                c.remove("ports");
                retain_list(c, "volumeMounts", |m| !is_token_volume(m.get("name")));
                requests_from_limits(c);
            }
        }
    }
}

fn requests_from_limits(container: &mut serde_json::Map<String, Value>) {
    let Some(Value::Object(resources)) = container.get_mut("resources") else { return };
    let Some(Value::Object(limits)) = resources.get("limits").cloned() else { return };
    let requests = resources.entry("requests").or_insert_with(|| Value::Object(Default::default()));
    if let Value::Object(requests) = requests {
        for (name, quantity) in limits {
            requests.entry(name).or_insert(quantity);
        }
    }
}

impl Sanitiser for PodHash {
    fn sanitise_template(&self, template: &mut Value) {
        if let Some(meta) = template.get_mut("metadata") {
            if let Some(m) = meta.as_object_mut() {
                for f in METADATA {
                    m.remove(*f);
                }
            }
            remove_keys(meta, "labels", LABELS);
            remove_keys(meta, "annotations", ANNOTATIONS);
        }
        if let Some(spec) = template.get_mut("spec").and_then(Value::as_object_mut) {
            clean_spec(spec);
        }
    }
}

fn build(options: &Value) -> Result<Box<dyn Sanitiser>, String> {
    no_options("pod-hash", options)?;
    Ok(Box::new(PodHash))
}

inventory::submit! {
    SanitiserPlugin {
        name: "pod-hash",
        describe: "before hashing a pod: removes what controllers, admission and the scheduler add to pods",
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sanitisers::test_support::{pod, template};
    use serde_json::json;
    use sk_core::pipeline::{PodHasher, SanitiserChain};

    fn hasher() -> PodHasher {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let none = serde_json::Map::new();
        PodHasher {
            sanitisers: SanitiserChain::build(&names(&["metadata", "status", "node-name", "redact"]), &none).unwrap(),
            pod_hash_sanitisers: SanitiserChain::build(&names(&["pod-hash"]), &none).unwrap(),
        }
    }

    #[test]
    fn pods_of_one_template_hash_like_the_template() {
        let h = hasher();
        let from_template = h.hash(&template());
        let a = h.hash(&pod("web-7d9f8b-abcde", "node-1", "7d9f8b"));
        let b = h.hash(&pod("web-7d9f8b-xyz12", "node-2", "7d9f8b"));
        assert_eq!(a, b, "same template, other node, name, token volume");
        assert_eq!(a, from_template, "a simulator hashing the template's pod finds the lifecycle");
    }

    #[test]
    fn different_templates_hash_differently() {
        let h = hasher();
        let mut other_image = template();
        other_image["spec"]["containers"][0]["image"] = json!("nginx:1.28");
        let mut other_env = template();
        other_env["spec"]["containers"][0]["env"][0]["value"] = json!("canary");
        let mut other_label = template();
        other_label["metadata"]["labels"]["track"] = json!("canary");
        let hashes = [h.hash(&template()), h.hash(&other_image), h.hash(&other_env), h.hash(&other_label)];
        for i in 0..hashes.len() {
            for j in i + 1..hashes.len() {
                assert_ne!(hashes[i], hashes[j], "{i} vs {j}");
            }
        }
    }

    #[test]
    fn keeps_what_the_author_wrote() {
        let mut t = json!({"metadata": {"labels": {"app": "w", "pod-template-hash": "x"}},
            "spec": {"tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"},
                                     {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}],
                     "preemptionPolicy": "Never",
                     "volumes": [{"name": "data", "emptyDir": {}}],
                     "containers": [{"name": "c", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]}});
        let before = t.clone();
        PodHash.sanitise_template(&mut t);
        assert_eq!(t["metadata"]["labels"], json!({"app": "w"}));
        assert_eq!(t["spec"]["tolerations"], before["spec"]["tolerations"], "only the admission defaults go");
        assert_eq!(t["spec"]["preemptionPolicy"], "Never");
        assert_eq!(t["spec"]["volumes"], before["spec"]["volumes"]);
        assert_eq!(t["spec"]["containers"][0]["volumeMounts"], before["spec"]["containers"][0]["volumeMounts"]);
        let again = t.clone();
        PodHash.sanitise_template(&mut t);
        assert_eq!(t, again, "idempotent");
    }

    #[test]
    fn pod_only_defaults_are_normalised() {
        let mut t = json!({"spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}}]}});
        let mut p = t.clone();
        p["spec"]["enableServiceLinks"] = json!(true);
        p["spec"]["containers"][0]["resources"]["requests"]["memory"] = json!("1Gi");
        PodHash.sanitise_template(&mut t);
        PodHash.sanitise_template(&mut p);
        assert_eq!(t, p);
        assert_eq!(t["spec"]["containers"][0]["resources"]["requests"], json!({"cpu": "500m", "memory": "1Gi"}));
        let mut off = json!({"spec": {"enableServiceLinks": false}});
        PodHash.sanitise_template(&mut off);
        assert_eq!(off["spec"]["enableServiceLinks"], false, "a user's choice stays");
    }

    #[test]
    fn job_and_statefulset_pods_lose_their_controller_marks() {
        let mut t = json!({"metadata": {"labels": {"job-name": "j", "batch.kubernetes.io/controller-uid": "u", "app": "batch",
                                                    "statefulset.kubernetes.io/pod-name": "db-0", "apps.kubernetes.io/pod-index": "0"},
                                        "annotations": {"batch.kubernetes.io/job-completion-index": "3"}},
                          "spec": {"hostname": "db-0", "subdomain": "db", "containers": []}});
        PodHash.sanitise_template(&mut t);
        assert_eq!(t, json!({"metadata": {"labels": {"app": "batch"}}, "spec": {"containers": []}}));
    }
}
