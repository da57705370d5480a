//! `metadata`: removes server-set fields that change on every write or deployment, so that an
//! unchanged object hashes the same and the trace says only what a user changed. Owner references
//! stay: ownership resolution needs them.

use serde_json::Value;
use sk_core::pipeline::{Sanitiser, SanitiserPlugin};

use super::{no_options, remove_keys};

/// Server-set metadata fields.
const FIELDS: &[&str] = &[
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// Annotations written by tools and controllers rather than by the object's author.
const ANNOTATIONS: &[&str] = &["kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision"];

struct Metadata;

fn clean(obj: &mut Value) {
    let Some(meta) = obj.get_mut("metadata") else { return };
    if let Some(m) = meta.as_object_mut() {
        for f in FIELDS {
            m.remove(*f);
        }
    }
    remove_keys(meta, "annotations", ANNOTATIONS);
}

impl Sanitiser for Metadata {
    fn sanitise_object(&self, obj: &mut Value) {
        clean(obj);
    }

    fn sanitise_template(&self, template: &mut Value) {
        clean(template);
    }

    fn touches(&self) -> Option<&[&[&str]]> {
        Some(&[&["metadata"]])
    }

    fn discards(&self) -> &[&[&str]] {
        &DISCARDED
    }
}

/// [`FIELDS`] as paths, which a test holds to the list.
const DISCARDED: [&[&str]; 8] = [
    &["metadata", "uid"],
    &["metadata", "resourceVersion"],
    &["metadata", "generation"],
    &["metadata", "creationTimestamp"],
    &["metadata", "deletionTimestamp"],
    &["metadata", "deletionGracePeriodSeconds"],
    &["metadata", "managedFields"],
    &["metadata", "selfLink"],
];

fn build(options: &Value) -> Result<Box<dyn Sanitiser>, String> {
    no_options("metadata", options)?;
    Ok(Box::new(Metadata))
}

inventory::submit! {
    SanitiserPlugin {
        name: "metadata",
        describe: "removes server-set metadata (uid, resourceVersion, generation, timestamps, managedFields) and tool annotations",
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sanitisers::test_support::{deployment, pod};
    use serde_json::json;

    #[test]
    fn discards_the_fields_it_removes() {
        let named: Vec<&str> = DISCARDED.iter().map(|p| p[1]).collect();
        assert_eq!(named, FIELDS);
    }

    #[test]
    fn removes_server_set_fields_and_keeps_what_the_author_wrote() {
        let mut d = deployment();
        Metadata.sanitise_object(&mut d);
        assert_eq!(
            d["metadata"],
            json!({"name": "web", "namespace": "demo", "labels": {"app": "web"}, "annotations": {"team": "payments"}})
        );
        assert_eq!(d["spec"]["replicas"], 3);
        let again = d.clone();
        Metadata.sanitise_object(&mut d);
        assert_eq!(d, again, "idempotent");

        let mut p = pod("web-7d9f8b-abcde", "node-1", "7d9f8b");
        Metadata.sanitise_object(&mut p);
        assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet", "owner references stay");
        assert!(p["metadata"].get("uid").is_none());
    }

    #[test]
    fn cleans_template_metadata_and_drops_emptied_annotations() {
        let mut t = json!({"metadata": {"creationTimestamp": null, "annotations": {"deployment.kubernetes.io/revision": "2"}}, "spec": {}});
        Metadata.sanitise_template(&mut t);
        assert_eq!(t, json!({"metadata": {}, "spec": {}}));
        assert!(build(&json!({"x": 1})).is_err());
    }
}
