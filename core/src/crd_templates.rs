//! Where a custom resource keeps its pod templates, read from its CustomResourceDefinition's
//! `openAPIV3Schema`.
//!
//! A pod template is recognised by its shape, as its operator's Go types produce it: an object
//! with `metadata` and a `spec` whose properties include `containers` (a `PodTemplateSpec`, or a
//! whole Pod). A template inside a Job template (a JobSet's) is found by the same walk, one level
//! further down. Arrays and maps along the way become `*` segments. Fields named like templates
//! that the schema leaves opaque (`x-kubernetes-preserve-unknown-fields`, or an object without
//! properties) cannot be told apart from anything else, so they are reported for a person to check.
//!
//! The walk touches every schema node once and keeps only paths, so a CRD of several megabytes
//! costs its parse and no more.

use serde_json::Value;

use crate::gvk::Gvk;

/// Schemas nest a few dozen levels at most; a deeper one is not walked further.
const MAX_DEPTH: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CrdError {
    #[error("not a CustomResourceDefinition (apiVersion apiextensions.k8s.io/v1): {0}")]
    NotACrd(String),
    #[error("CustomResourceDefinition {name}: {problem}")]
    Malformed { name: String, problem: String },
}

/// What a CRD's schema says about one of its kinds' pod templates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomKind {
    /// The kind at the CRD's storage version (else its first served one).
    pub gvk: Gvk,
    /// Pointers to every pod template the schema declares, `*` for array elements and map values.
    pub template_paths: Vec<String>,
    /// Pointers to fields named like templates whose contents the schema does not describe.
    pub opaque_paths: Vec<String>,
}

/// The templates of the kind a CRD (as JSON) defines.
pub fn custom_kind(crd: &Value) -> Result<CustomKind, CrdError> {
    let name = crd.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("(unnamed)").to_string();
    let api_version = crd.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = crd.get("kind").and_then(Value::as_str).unwrap_or("");
    if api_version != "apiextensions.k8s.io/v1" || kind != "CustomResourceDefinition" {
        return Err(CrdError::NotACrd(format!("{name} is {api_version} {kind}")));
    }
    let malformed = |problem: &str| CrdError::Malformed { name: name.clone(), problem: problem.into() };
    let spec = crd.get("spec").ok_or_else(|| malformed("no spec"))?;
    let group = spec.get("group").and_then(Value::as_str).ok_or_else(|| malformed("no spec.group"))?;
    let kind = spec.pointer("/names/kind").and_then(Value::as_str).ok_or_else(|| malformed("no spec.names.kind"))?;
    let versions = spec.get("versions").and_then(Value::as_array).ok_or_else(|| malformed("no spec.versions"))?;
    let flag = |v: &Value, key: &str| v.get(key).and_then(Value::as_bool).unwrap_or(false);
    let version = versions
        .iter()
        .find(|v| flag(v, "storage"))
        .or_else(|| versions.iter().find(|v| flag(v, "served")))
        .or_else(|| versions.first())
        .ok_or_else(|| malformed("spec.versions is empty"))?;
    let version_name = version.get("name").and_then(Value::as_str).ok_or_else(|| malformed("a version has no name"))?;
    let mut found = Found::default();
    if let Some(schema) = version.pointer("/schema/openAPIV3Schema") {
        walk_root(schema, &mut found);
    }
    Ok(CustomKind {
        gvk: Gvk::new(group, version_name, kind),
        template_paths: found.templates,
        opaque_paths: found.opaque,
    })
}

#[derive(Default)]
struct Found {
    templates: Vec<String>,
    opaque: Vec<String>,
}

/// The object's own metadata and its status are no place for the templates it makes pods from.
fn walk_root(schema: &Value, found: &mut Found) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else { return };
    for (key, child) in props {
        if !matches!(key.as_str(), "metadata" | "status" | "apiVersion" | "kind") {
            walk(child, key, &mut format!("/{}", escape(key)), 1, found);
        }
    }
}

fn walk(node: &Value, name: &str, path: &mut String, depth: usize, found: &mut Found) {
    if depth > MAX_DEPTH {
        return;
    }
    if is_pod_template(node) {
        found.templates.push(path.clone());
        return;
    }
    if is_opaque(node) {
        if named_like_a_template(name) {
            found.opaque.push(path.clone());
        }
        return;
    }
    let len = path.len();
    if let Some(props) = node.get("properties").and_then(Value::as_object) {
        for (key, child) in props {
            path.push('/');
            path.push_str(&escape(key));
            walk(child, key, path, depth + 1, found);
            path.truncate(len);
        }
    }
    for container in ["items", "additionalProperties"] {
        if let Some(child) = node.get(container).filter(|c| c.is_object()) {
            path.push_str("/*");
            walk(child, name, path, depth + 1, found);
            path.truncate(len);
        }
    }
}

/// `metadata` plus a `spec` with `containers`: a `PodTemplateSpec`, or a Pod.
fn is_pod_template(node: &Value) -> bool {
    let Some(props) = node.get("properties") else { return false };
    props.get("metadata").is_some() && props.pointer("/spec/properties/containers").is_some()
}

/// A schema that accepts anything in place of what it would describe.
fn is_opaque(node: &Value) -> bool {
    if node.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true) {
        return true;
    }
    let is_object = node.get("type").and_then(Value::as_str).is_none_or(|t| t == "object");
    is_object
        && node.get("properties").is_none()
        && node.get("additionalProperties").is_none_or(|a| a.as_bool() == Some(true))
        && node.get("items").is_none()
}

fn named_like_a_template(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.contains("template") || lower == "podspec"
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd(name: &str) -> Value {
        let text = match name {
            "pytorchjobs" => include_str!("../tests/data/crds/pytorchjobs.yaml"),
            "rayclusters" => include_str!("../tests/data/crds/rayclusters.yaml"),
            "jobsets" => include_str!("../tests/data/crds/jobsets.yaml"),
            "sparkapplications" => include_str!("../tests/data/crds/sparkapplications.yaml"),
            _ => unreachable!("no such test CRD"),
        };
        serde_yaml::from_str(text).expect("test data is YAML")
    }

    #[test]
    fn a_pytorchjob_keeps_its_templates_in_a_map_of_replica_specs() {
        let k = custom_kind(&crd("pytorchjobs")).unwrap();
        assert_eq!(k.gvk.to_string(), "kubeflow.org/v1.PyTorchJob");
        assert_eq!(k.template_paths, ["/spec/pytorchReplicaSpecs/*/template"]);
        assert!(k.opaque_paths.is_empty(), "{:?}", k.opaque_paths);
    }

    #[test]
    fn a_raycluster_has_a_head_template_and_an_array_of_worker_templates() {
        let k = custom_kind(&crd("rayclusters")).unwrap();
        assert_eq!(k.gvk.to_string(), "ray.io/v1.RayCluster");
        assert_eq!(k.template_paths, ["/spec/headGroupSpec/template", "/spec/workerGroupSpecs/*/template"]);
    }

    #[test]
    fn a_jobset_has_a_pod_template_inside_each_job_template() {
        let k = custom_kind(&crd("jobsets")).unwrap();
        assert_eq!(k.gvk.to_string(), "jobset.x-k8s.io/v1alpha2.JobSet");
        assert_eq!(k.template_paths, ["/spec/replicatedJobs/*/template/spec/template"]);
    }

    #[test]
    fn a_spark_application_declares_none_and_its_opaque_templates_are_reported() {
        let k = custom_kind(&crd("sparkapplications")).unwrap();
        assert_eq!(k.gvk.to_string(), "sparkoperator.k8s.io/v1beta2.SparkApplication");
        assert!(k.template_paths.is_empty(), "{:?}", k.template_paths);
        assert_eq!(k.opaque_paths, ["/spec/driver/template", "/spec/executor/template"]);
    }

    #[test]
    fn templates_in_status_and_whole_pods_elsewhere_are_told_apart() {
        let pod = json!({"type": "object", "properties": {"apiVersion": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {"type": "object", "properties": {"containers": {"type": "array"}}}}});
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "things.example.com"},
            "spec": {"group": "example.com", "names": {"kind": "Thing"}, "versions": [
                {"name": "v1alpha1", "served": true, "storage": false},
                {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object",
                    "properties": {"status": {"type": "object", "properties": {"lastPod": pod}},
                                   "spec": {"type": "object", "properties": {
                                       "a/b": {"type": "object", "properties": {"pod": pod}},
                                       "podTemplate": {"type": "object"},
                                       "other": {"type": "object"}}}}}}}]}});
        let k = custom_kind(&crd).unwrap();
        assert_eq!(k.gvk.to_string(), "example.com/v1.Thing");
        assert_eq!(k.template_paths, ["/spec/a~1b/pod"]);
        assert_eq!(k.opaque_paths, ["/spec/podTemplate"]);
    }

    #[test]
    fn what_is_not_a_crd_is_refused_by_name() {
        let err = custom_kind(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}));
        assert_eq!(err.unwrap_err(), CrdError::NotACrd("x is v1 ConfigMap".into()));
        let no_versions = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "t.e"}, "spec": {"group": "e", "names": {"kind": "T"}, "versions": []}});
        assert!(custom_kind(&no_versions).unwrap_err().to_string().contains("t.e: spec.versions is empty"));
    }
}
