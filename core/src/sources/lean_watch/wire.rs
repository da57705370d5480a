//! What the apiserver sends, decoded only as far as the watch and the ingest loop need: a list
//! page's items, resource version and continue token; a watch line's type and object. The object
//! itself is decoded by its [`Watched`] form: kept as text for whole objects ([`RawObject`]),
//! or just the few metadata fields owner resolution reads for metadata-only watches, every other
//! field (`managedFields` above all) skipped over unread.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::state::{Line, Listed, Page};
use crate::gvk::Gvk;
use crate::ownership::{KnownOwner, OwnerReference};
use crate::sources::{Payload, RawObject};

/// An object as one kind of watch decodes it.
pub trait Watched: DeserializeOwned {
    fn resource_version(&self) -> Option<&str>;
    fn into_payload(self, gvk: &Gvk) -> Payload;
}

impl Watched for RawObject {
    fn resource_version(&self) -> Option<&str> {
        self.metadata.resource_version.as_deref()
    }

    fn into_payload(self, _: &Gvk) -> Payload {
        Payload::Raw(Box::new(self))
    }
}

/// What a metadata-only watch reads of an owner: its identity and its own owners.
#[derive(Debug, Deserialize)]
pub struct OwnerMeta {
    #[serde(default)]
    metadata: OwnerFields,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OwnerFields {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    resource_version: Option<String>,
    owner_references: Option<Vec<OwnerRef>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OwnerRef {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    uid: String,
    controller: Option<bool>,
}

impl Watched for OwnerMeta {
    fn resource_version(&self) -> Option<&str> {
        self.metadata.resource_version.as_deref()
    }

    fn into_payload(self, gvk: &Gvk) -> Payload {
        let meta = self.metadata;
        let owners = meta
            .owner_references
            .unwrap_or_default()
            .into_iter()
            .map(|r| OwnerReference {
                gvk: Gvk::from_api_version(&r.api_version, &r.kind),
                uid: r.uid,
                name: r.name,
                controller: r.controller.unwrap_or(false),
            })
            .collect();
        Payload::Meta {
            uid: meta.uid.unwrap_or_default(),
            info: KnownOwner {
                gvk: gvk.clone(),
                namespace: meta.namespace.unwrap_or_default(),
                name: meta.name.unwrap_or_default(),
                owners,
            },
        }
    }
}

fn listed<O: Watched>(object: O) -> Listed<O> {
    let resource_version = object.resource_version().map(str::to_string);
    Listed { object, resource_version }
}

/// A list response: `metadata.resourceVersion`, `metadata.continue` and the items.
pub fn page<O: Watched>(body: &[u8]) -> Result<Page<O>, serde_json::Error> {
    #[derive(Deserialize)]
    #[serde(bound = "O: Watched")]
    struct List<O> {
        #[serde(default)]
        metadata: ListMeta,
        /// `null` for an empty list, from some apiservers.
        #[serde(default = "Option::default")]
        items: Option<Vec<O>>,
    }
    #[derive(Default, Deserialize)]
    struct ListMeta {
        #[serde(rename = "resourceVersion")]
        resource_version: Option<String>,
        #[serde(rename = "continue")]
        continue_token: Option<String>,
    }
    let list: List<O> = serde_json::from_slice(body)?;
    Ok(Page {
        items: list.items.unwrap_or_default().into_iter().map(listed).collect(),
        resource_version: list.metadata.resource_version,
        continue_token: list.metadata.continue_token,
    })
}

/// A Kubernetes `Status`, as an `ERROR` event or a refused request carries it.
#[derive(Debug, Default, Deserialize)]
pub struct Status {
    #[serde(default)]
    pub code: u16,
    #[serde(default)]
    pub message: String,
}

#[derive(Deserialize)]
struct Bookmark {
    metadata: BookmarkMeta,
}

#[derive(Deserialize)]
struct BookmarkMeta {
    #[serde(rename = "resourceVersion")]
    resource_version: String,
}

/// One line of a watch stream. The apiserver writes `type` before `object`, so the object is
/// decoded once, straight into its form; an object that comes first is held as text until the
/// type says what it is.
pub fn line<O: Watched>(text: &[u8]) -> Result<Line<O>, serde_json::Error> {
    serde_json::from_slice::<WireLine<O>>(text).map(|w| w.0)
}

struct WireLine<O>(Line<O>);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Type {
    Added,
    Modified,
    Deleted,
    Bookmark,
    Error,
}

impl Type {
    fn of(name: &str) -> Option<Type> {
        Some(match name {
            "ADDED" => Type::Added,
            "MODIFIED" => Type::Modified,
            "DELETED" => Type::Deleted,
            "BOOKMARK" => Type::Bookmark,
            "ERROR" => Type::Error,
            _ => return None,
        })
    }
}

/// The object of a line of this type.
fn object_as<'de, O: Watched, D: Deserializer<'de>>(t: Type, d: D) -> Result<Line<O>, D::Error> {
    Ok(match t {
        Type::Added => Line::Added(listed(O::deserialize(d)?)),
        Type::Modified => Line::Modified(listed(O::deserialize(d)?)),
        Type::Deleted => Line::Deleted(listed(O::deserialize(d)?)),
        Type::Bookmark => Line::Bookmark { resource_version: Bookmark::deserialize(d)?.metadata.resource_version },
        Type::Error => {
            let s = Status::deserialize(d)?;
            Line::Error { code: s.code, message: s.message }
        }
    })
}

impl<'de, O: Watched> Deserialize<'de> for WireLine<O> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<O>(PhantomData<O>);

        /// `object`'s value, decoded as `t` says.
        struct ObjectSeed<O>(Type, PhantomData<O>);
        impl<'de, O: Watched> serde::de::DeserializeSeed<'de> for ObjectSeed<O> {
            type Value = Line<O>;
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Line<O>, D::Error> {
                object_as(self.0, d)
            }
        }

        impl<'de, O: Watched> Visitor<'de> for V<O> {
            type Value = WireLine<O>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a watch event")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<WireLine<O>, M::Error> {
                use serde::de::Error;
                let mut t: Option<Type> = None;
                let mut early: Option<Box<RawValue>> = None;
                let mut line: Option<Line<O>> = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    match key.as_ref() {
                        "type" => {
                            let name = map.next_value::<Cow<'de, str>>()?;
                            t = Some(Type::of(&name).ok_or_else(|| M::Error::custom(format!("unknown type {name}")))?);
                        }
                        "object" => match t {
                            Some(t) => line = Some(map.next_value_seed(ObjectSeed(t, PhantomData))?),
                            None => early = Some(map.next_value()?),
                        },
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let t = t.ok_or_else(|| M::Error::missing_field("type"))?;
                match (line, early) {
                    (Some(line), _) => Ok(WireLine(line)),
                    (None, Some(raw)) => {
                        let mut d = serde_json::Deserializer::from_str(raw.get());
                        object_as(t, &mut d).map(WireLine).map_err(M::Error::custom)
                    }
                    (None, None) => Err(M::Error::missing_field("object")),
                }
            }
        }

        d.deserialize_map(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(rv: &str) -> serde_json::Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "d", "uid": "u1", "resourceVersion": rv,
                            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]},
               "spec": {"replicas": 2}})
    }

    #[test]
    fn a_line_keeps_the_object_as_it_came() {
        let obj = deployment("42");
        let text = format!(r#"{{"type":"MODIFIED","object":{obj}}}"#);
        let Line::Modified(l) = line::<RawObject>(text.as_bytes()).unwrap() else { panic!("a modification") };
        assert_eq!(l.resource_version.as_deref(), Some("42"));
        assert_eq!(l.object.to_json(&Gvk::new("apps", "v1", "Deployment")), obj);
    }

    #[test]
    fn an_object_before_its_type_decodes_too() {
        let text = r#"{"object": {"metadata": {"name": "web", "resourceVersion": "7"}, "spec": {"a": [1]}}, "type": "DELETED"}"#;
        let Line::Deleted(l) = line::<RawObject>(text.as_bytes()).unwrap() else { panic!("a deletion") };
        assert_eq!(l.resource_version.as_deref(), Some("7"));
        assert_eq!(l.object.to_json(&Gvk::new("", "v1", "Pod"))["spec"], json!({"a": [1]}));
        let text = r#"{"object": {"kind": "Status", "code": 410, "message": "too old"}, "type": "ERROR"}"#;
        assert!(matches!(line::<RawObject>(text.as_bytes()).unwrap(), Line::Error { code: 410, .. }));
    }

    #[test]
    fn bookmarks_errors_and_nonsense() {
        let b = r#"{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"12","annotations":{"k8s.io/initial-events-end":"true"}}}}"#;
        assert!(
            matches!(line::<OwnerMeta>(b.as_bytes()).unwrap(), Line::Bookmark { resource_version } if resource_version == "12")
        );
        let e = r#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 5 (9)","reason":"Expired","code":410}}"#;
        let Line::Error { code, message } = line::<RawObject>(e.as_bytes()).unwrap() else { panic!("an error") };
        assert_eq!((code, message.as_str()), (410, "too old resource version: 5 (9)"));
        for bad in [r#"{"type":"SHRUG","object":{}}"#, r#"{"type":"ADDED"}"#, r#"{"object":{}}"#, "[1]", "{"] {
            assert!(line::<RawObject>(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn metadata_reads_only_what_owner_resolution_needs() {
        let rs = json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
            "metadata": {"name": "web-5d", "namespace": "d", "uid": "rs1", "resourceVersion": "9",
                         "managedFields": [{"manager": "kube-controller-manager", "fieldsV1": {"f:metadata": {}}}],
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                              "uid": "u1", "controller": true, "blockOwnerDeletion": true}]}});
        let text = format!(r#"{{"type":"ADDED","object":{rs}}}"#);
        let Line::Added(l) = line::<OwnerMeta>(text.as_bytes()).unwrap() else { panic!("an addition") };
        assert_eq!(l.resource_version.as_deref(), Some("9"));
        let rs_gvk = Gvk::new("apps", "v1", "ReplicaSet");
        let Payload::Meta { uid, info } = l.object.into_payload(&rs_gvk) else { panic!("metadata") };
        assert_eq!(uid, "rs1");
        assert_eq!((info.gvk, info.namespace.as_str(), info.name.as_str()), (rs_gvk, "d", "web-5d"));
        assert_eq!(
            info.owners,
            [OwnerReference {
                uid: "u1".into(),
                gvk: Gvk::new("apps", "v1", "Deployment"),
                name: "web".into(),
                controller: true
            }]
        );
        let bare: OwnerMeta = serde_json::from_str(r#"{"metadata": {"ownerReferences": null}}"#).unwrap();
        let Payload::Meta { uid, info } = bare.into_payload(&Gvk::new("", "v1", "Pod")) else { panic!("metadata") };
        assert_eq!((uid.as_str(), info.name.as_str(), info.owners.len()), ("", "", 0));
    }

    #[test]
    fn a_page_carries_its_version_token_and_items() {
        let body = json!({"kind": "DeploymentList", "apiVersion": "apps/v1",
                          "metadata": {"resourceVersion": "100", "continue": "abc"},
                          "items": [deployment("41"), deployment("42")]});
        let p: Page<RawObject> = page(body.to_string().as_bytes()).unwrap();
        assert_eq!((p.resource_version.as_deref(), p.continue_token.as_deref()), (Some("100"), Some("abc")));
        let versions: Vec<_> = p.items.iter().map(|l| l.resource_version.as_deref()).collect();
        assert_eq!(versions, [Some("41"), Some("42")]);
        for empty in [&br#"{"metadata": {"resourceVersion": "5"}, "items": null}"#[..], br#"{"metadata": {}}"#] {
            assert!(page::<OwnerMeta>(empty).unwrap().items.is_empty());
        }
        assert!(page::<RawObject>(b"<html>").is_err());
    }
}
