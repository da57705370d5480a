//! A watched object as the apiserver sent it.
//!
//! kube's `DynamicObject` keeps the fields besides `metadata` in a flattened map, which serde
//! decodes by buffering the whole object in an intermediate form and decoding it again; its typed
//! metadata must then be encoded back into JSON for the pipeline. That cost 1.45 times a plain
//! JSON decode of the same events. A `RawObject` is the JSON decoded once, with the few metadata
//! fields kube's watcher reads copied beside it.

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::ApiResource;
use kube::core::DynamicResourceScope;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawObject {
    /// The name, namespace, uid and resource version, for kube's watcher (which resumes from the
    /// last object's resource version); everything else is in `json` only.
    pub metadata: ObjectMeta,
    pub json: Value,
}

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let json = Value::deserialize(d)?;
        let Some(object) = json.as_object() else {
            return Err(serde::de::Error::custom(format!("expected an object, found {json}")));
        };
        let meta = object.get("metadata");
        let field = |name: &str| meta.and_then(|m| m.get(name)).and_then(Value::as_str).map(str::to_string);
        let metadata = ObjectMeta {
            name: field("name"),
            namespace: field("namespace"),
            uid: field("uid"),
            resource_version: field("resourceVersion"),
            ..ObjectMeta::default()
        };
        Ok(RawObject { metadata, json })
    }
}

impl kube::Resource for RawObject {
    type DynamicType = ApiResource;
    type Scope = DynamicResourceScope;

    fn group(dt: &ApiResource) -> Cow<'_, str> {
        dt.group.as_str().into()
    }

    fn version(dt: &ApiResource) -> Cow<'_, str> {
        dt.version.as_str().into()
    }

    fn kind(dt: &ApiResource) -> Cow<'_, str> {
        dt.kind.as_str().into()
    }

    fn api_version(dt: &ApiResource) -> Cow<'_, str> {
        dt.api_version.as_str().into()
    }

    fn plural(dt: &ApiResource) -> Cow<'_, str> {
        dt.plural.as_str().into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::WatchEvent;
    use kube::ResourceExt;
    use serde_json::json;

    #[test]
    fn decodes_once_and_keeps_the_json_whole() {
        let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "d", "uid": "u1", "resourceVersion": "42",
                         "labels": {"app": "web"}, "unknownField": {"kept": true}},
            "spec": {"replicas": 2}});
        let event: WatchEvent<RawObject> =
            serde_json::from_value(json!({"type": "MODIFIED", "object": obj.clone()})).unwrap();
        let WatchEvent::Modified(raw) = event else { panic!("a modification") };
        assert_eq!(raw.json, obj);
        assert_eq!(
            (raw.name_any(), raw.namespace(), raw.resource_version()),
            ("web".into(), Some("d".into()), Some("42".into()))
        );
        assert_eq!(raw.uid().as_deref(), Some("u1"));
    }

    #[test]
    fn what_is_not_an_object_is_refused() {
        assert!(serde_json::from_value::<RawObject>(json!([1]))
            .unwrap_err()
            .to_string()
            .contains("expected an object"));
        let bare: RawObject = serde_json::from_value(json!({"kind": "Pod"})).unwrap();
        assert_eq!(bare.metadata, ObjectMeta::default());
    }
}
