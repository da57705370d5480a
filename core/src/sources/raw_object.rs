//! A watched object as the apiserver sent it.
//!
//! kube's `DynamicObject` keeps the fields besides `metadata` in a flattened map, which serde
//! decodes by buffering the whole object in an intermediate form and decoding it again; its typed
//! metadata must then be encoded back into JSON for the pipeline. That cost 1.45 times a plain
//! JSON decode of the same events. A `RawObject` keeps the object's JSON text as it came, with the
//! few metadata fields kube's watcher reads copied beside it, and is decoded only as far as each
//! use needs: most changes on a busy cluster are status writes that a trace drops, and a pod
//! already seen needs only its owners and its status.

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::ApiResource;
use kube::core::DynamicResourceScope;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::ObjectTimes;
use crate::gvk::Gvk;

#[derive(Clone, Debug)]
pub struct RawObject {
    /// The name, namespace, uid and resource version, for kube's watcher (which resumes from the
    /// last object's resource version); everything else is in `raw` only.
    pub metadata: ObjectMeta,
    raw: Box<RawValue>,
    /// When the object says it changed, read while the metadata was.
    pub times: ObjectTimes,
    /// Where each top-level key and value lies in `raw`, found while the metadata was read:
    /// `None` when a key repeats or is escaped.
    layout: Option<Vec<Span>>,
}

/// A field's key and value as byte ranges of the object's text.
#[derive(Clone, Copy, Debug)]
struct Span {
    key: (u32, u32),
    value: (u32, u32),
}

impl PartialEq for RawObject {
    fn eq(&self, other: &Self) -> bool {
        self.metadata == other.metadata && self.raw.get() == other.raw.get()
    }
}

impl Default for RawObject {
    fn default() -> Self {
        RawObject {
            metadata: ObjectMeta::default(),
            raw: RawValue::from_string("{}".into()).unwrap_or_default(),
            times: ObjectTimes::default(),
            layout: Some(Vec::new()),
        }
    }
}

/// A string field as a string; anything else, as `Value::as_str` would have it, as none.
fn string(text: Option<&str>) -> Option<String> {
    text.and_then(|t| serde_json::from_str::<Cow<'_, str>>(t).ok()).map(Cow::into_owned)
}

/// The name under which serde_json hands a value's text to `RawValue` rather than decoding it.
/// Asked for by name here so that a deserializer that is not serde_json's (serde's buffered
/// content, when a watch event's `object` comes before its `type`) can be answered too.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

struct RawText;

impl<'de> Visitor<'de> for RawText {
    type Value = Box<RawValue>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    /// serde_json's answer: the text, as `RawValue` reads it.
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Box<RawValue>, A::Error> {
        Box::<RawValue>::deserialize(serde::de::value::MapAccessDeserializer::new(map))
    }

    /// Anyone else's: the value decoded, and written back as text.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Box<RawValue>, D::Error> {
        let value = Value::deserialize(d)?;
        RawValue::from_string(value.to_string()).map_err(serde::de::Error::custom)
    }
}

/// The metadata fields kube's watcher reads, each as `field` finds it.
fn watched_meta(field: impl Fn(&str) -> Option<String>) -> ObjectMeta {
    ObjectMeta {
        name: field("name"),
        namespace: field("namespace"),
        uid: field("uid"),
        resource_version: field("resourceVersion"),
        ..ObjectMeta::default()
    }
}

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = d.deserialize_newtype_struct(RAW_VALUE_TOKEN, RawText)?;
        if !raw.get().starts_with('{') {
            return Err(serde::de::Error::custom(format!("expected an object, found {}", raw.get())));
        }
        let text = raw.get();
        let (metadata, times, layout) = match Fields::of(text) {
            Some(fields) => {
                let meta = fields.get("metadata").and_then(Fields::of);
                let metadata = watched_meta(|name| string(meta.as_ref().and_then(|m| m.get(name))));
                let times = meta.as_ref().map(ObjectTimes::of_metadata).unwrap_or_default();
                let at = |part: &str| {
                    let start = part.as_ptr() as usize - text.as_ptr() as usize;
                    (start as u32, (start + part.len()) as u32)
                };
                let layout = (text.len() < u32::MAX as usize)
                    .then(|| fields.0.iter().map(|(k, v)| Span { key: at(k), value: at(v) }).collect());
                (metadata, times, layout)
            }
            // A repeated or escaped key: decoded whole, by serde's rules.
            None => {
                let value: Value = serde_json::from_str(text).map_err(serde::de::Error::custom)?;
                let metadata = watched_meta(|name| value.get("metadata")?.get(name)?.as_str().map(str::to_string));
                (metadata, ObjectTimes::of_json(&value), None)
            }
        };
        Ok(RawObject { metadata, raw, times, layout })
    }
}

impl RawObject {
    /// The object's JSON text.
    pub fn json_text(&self) -> &str {
        self.raw.get()
    }

    /// The whole object decoded, with `apiVersion` and `kind` those of the watched kind (list
    /// items may omit them).
    pub fn to_json(&self, gvk: &Gvk) -> Value {
        let mut map = match serde_json::from_str(self.raw.get()) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        map.insert("apiVersion".into(), Value::String(gvk.api_version()));
        map.insert("kind".into(), Value::String(gvk.kind.clone()));
        Value::Object(map)
    }

    /// The object's top-level fields as JSON text, `None` if a key repeats or is escaped.
    pub fn fields(&self) -> Option<Fields<'_>> {
        let text = self.raw.get();
        let part = |(start, end): (u32, u32)| text.get(start as usize..end as usize);
        let spans = self.layout.as_ref()?;
        spans.iter().map(|s| Some((part(s.key)?, part(s.value)?))).collect::<Option<Vec<_>>>().map(Fields)
    }
}

/// The fields of a JSON object as their text (keys unquoted, values as they came), in the order
/// they came, without decoding them.
pub struct Fields<'a>(pub Vec<(&'a str, &'a str)>);

impl<'a> Fields<'a> {
    /// `None` for what is not an object, and for an object with a repeated or escaped key: those
    /// are decoded whole, where the rules for them are serde's.
    pub fn of(json: &'a str) -> Option<Fields<'a>> {
        let fields = serde_json::from_str::<Fields<'a>>(json).ok()?;
        let mut keys: Vec<&str> = fields.0.iter().map(|(k, _)| *k).collect();
        keys.sort_unstable();
        let unique = keys.windows(2).all(|w| w[0] != w[1]);
        unique.then_some(fields)
    }

    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Fields<'a>, M::Error> {
                let mut out = Vec::with_capacity(8);
                // `&str` keys borrow from the text; an escaped key cannot, and fails the whole.
                while let Some(key) = map.next_key::<&'de str>()? {
                    out.push((key, map.next_value::<&'de RawValue>()?.get()));
                }
                Ok(Fields(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
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
        assert_eq!(raw.to_json(&Gvk::new("apps", "v1", "Deployment")), obj);
        assert_eq!(
            (raw.name_any(), raw.namespace(), raw.resource_version()),
            ("web".into(), Some("d".into()), Some("42".into()))
        );
        assert_eq!(raw.uid().as_deref(), Some("u1"));
    }

    #[test]
    fn an_event_whose_object_comes_before_its_type_decodes_too() {
        let text =
            r#"{"object": {"metadata": {"name": "web", "resourceVersion": "7"}, "spec": {"a": [1]}}, "type": "ADDED"}"#;
        let event: WatchEvent<RawObject> = serde_json::from_str(text).unwrap();
        let WatchEvent::Added(raw) = event else { panic!("an addition") };
        assert_eq!(raw.resource_version().as_deref(), Some("7"));
        assert_eq!(raw.to_json(&Gvk::new("", "v1", "Pod"))["spec"], json!({"a": [1]}));
    }

    #[test]
    fn what_is_not_an_object_is_refused() {
        assert!(serde_json::from_value::<RawObject>(json!([1]))
            .unwrap_err()
            .to_string()
            .contains("expected an object"));
        let bare: RawObject = serde_json::from_value(json!({"kind": "Pod"})).unwrap();
        assert_eq!(bare.metadata, ObjectMeta::default());
        let odd: RawObject = serde_json::from_str(r#"{"metadata": {"name": 5, "namespace": "a\"b"}}"#).unwrap();
        assert_eq!((odd.metadata.name, odd.metadata.namespace.as_deref()), (None, Some("a\"b")));
    }

    #[test]
    fn fields_are_text_and_repeated_or_escaped_keys_are_refused() {
        let f = Fields::of(r#"{"a": {"x": [1, 2]}, "b":"s"}"#).unwrap();
        assert_eq!(f.0, [("a", r#"{"x": [1, 2]}"#), ("b", r#""s""#)]);
        let raw: RawObject = serde_json::from_str(r#"{"a": {"x": [1, 2]}, "b":"s"}"#).unwrap();
        assert_eq!(raw.fields().unwrap().0, f.0, "as the decode found them");
        let repeated: RawObject =
            serde_json::from_str(r#"{"metadata": {"name": "a"}, "metadata": {"name": "b"}}"#).unwrap();
        assert!(repeated.fields().is_none());
        assert_eq!(repeated.metadata.name.as_deref(), Some("b"), "as serde_json decodes it");
        assert!(Fields::of(r#"{"a": 1, "a": 2}"#).is_none());
        assert!(Fields::of(r#"{"\u0061": 1}"#).is_none());
        assert!(Fields::of("[1]").is_none());
    }
}
