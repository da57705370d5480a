//! The pod hash: the stable hash of a pod's sanitised template form. Pods in a simulation get other
//! names than in production, so lifecycles are keyed by owner and this hash; a simulator computes
//! the same hash for the pods it creates from the recorded template.

use serde_json::{Map, Value};

use super::SanitiserChain;
use crate::hash::stable_hash;

/// `{"metadata": {"labels": ..., "annotations": ...}, "spec": ...}` of a pod or a pod template:
/// what a controller copies from the template into the pod. Absent or empty labels and
/// annotations, and then an empty metadata, are left out so a template and its pod agree.
pub fn pod_template_form(pod_or_template: &Value) -> Value {
    let mut metadata = Map::new();
    if let Some(meta) = pod_or_template.get("metadata") {
        for key in ["labels", "annotations"] {
            if let Some(v) = meta.get(key).filter(|v| v.as_object().is_some_and(|m| !m.is_empty())) {
                metadata.insert(key.into(), v.clone());
            }
        }
    }
    let mut form = Map::new();
    if !metadata.is_empty() {
        form.insert("metadata".into(), Value::Object(metadata));
    }
    form.insert("spec".into(), pod_or_template.get("spec").cloned().unwrap_or(Value::Object(Map::new())));
    Value::Object(form)
}

/// Drops labels/annotations maps that sanitising emptied, then metadata itself if empty.
fn prune_empty_metadata(form: &mut Value) {
    let Some(obj) = form.as_object_mut() else { return };
    if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
        meta.retain(|_, v| !v.as_object().is_some_and(Map::is_empty) && !v.is_null());
        if meta.is_empty() {
            obj.remove("metadata");
        }
    }
}

/// Computes pod hashes: the template hook of `pipeline.sanitisers` (so the hash sees what the
/// recorded template says), then `pipeline.podHashSanitisers` (what differs between a real pod and
/// a simulated one, such as the `pod-hash` stage's removals).
pub struct PodHasher {
    pub sanitisers: SanitiserChain,
    pub pod_hash_sanitisers: SanitiserChain,
}

impl PodHasher {
    pub fn hash(&self, pod_or_template: &Value) -> u64 {
        let mut form = pod_template_form(pod_or_template);
        self.sanitisers.sanitise_template(&mut form);
        self.pod_hash_sanitisers.sanitise_template(&mut form);
        prune_empty_metadata(&mut form);
        stable_hash(&form)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn template_form_keeps_labels_annotations_and_spec_only() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-1", "namespace": "d", "labels": {"app": "web"}, "annotations": {}, "uid": "u"},
            "spec": {"containers": []}, "status": {"phase": "Running"}});
        assert_eq!(
            pod_template_form(&pod),
            json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}})
        );
        let template = json!({"spec": {"containers": []}});
        assert_eq!(pod_template_form(&template), template);
    }

    #[test]
    fn without_sanitisers_a_template_and_its_pod_hash_alike() {
        let hasher =
            PodHasher { sanitisers: SanitiserChain::default(), pod_hash_sanitisers: SanitiserChain::default() };
        let template = json!({"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}});
        let pod = json!({"metadata": {"name": "x", "labels": {"app": "web"}}, "spec": {"containers": [{"name": "c"}]}, "status": {}});
        assert_eq!(hasher.hash(&template), hasher.hash(&pod));
        assert_eq!(hasher.hash(&template), stable_hash(&template));
    }
}
