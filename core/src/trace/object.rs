//! A Kubernetes object as the trace holds it: encoded once as msgpack and shared.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::field_bytes::{metadata_ref, MetadataRef};
use crate::gvk::Gvk;

/// The msgpack encoding of one object (a map mirroring its JSON). Cloning shares the bytes, so a
/// snapshot or an export copies pointers rather than objects, and the encoder writes the bytes as
/// they are.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EncodedObject(Arc<[u8]>);

impl EncodedObject {
    pub fn from_json(obj: &Value) -> Self {
        // Encoding a `serde_json::Value` into a Vec cannot fail: every JSON value has a msgpack form.
        let bytes = rmp_serde::to_vec(obj).unwrap_or_default();
        EncodedObject(bytes.into())
    }

    /// Bytes that were produced by [`EncodedObject::from_json`] (read back from a checkpoint
    /// whose checksum held).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        EncodedObject(bytes.into())
    }

    pub fn to_json(&self) -> Result<Value, rmp_serde::decode::Error> {
        rmp_serde::from_slice(&self.0)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The bytes as [`bytes::Bytes`] that share them, for an encoder's output.
    pub fn shared(&self) -> bytes::Bytes {
        bytes::Bytes::from_owner(self.0.clone())
    }

    /// The labels and owner kinds of the object, read from its metadata in place.
    pub fn metadata(&self) -> MetadataRef<'_> {
        metadata_ref(&self.0)
    }

    /// Identity fields read from the decoded object; `None` where the object lacks them.
    pub fn identity(&self) -> Option<ObjectIdentity> {
        ObjectIdentity::of(&self.to_json().ok()?)
    }
}

impl fmt::Debug for EncodedObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_json() {
            Ok(v) => write!(f, "{v}"),
            Err(_) => write!(f, "<{} undecodable bytes>", self.0.len()),
        }
    }
}

impl Serialize for EncodedObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().map_err(serde::ser::Error::custom)?.serialize(s)
    }
}

impl<'de> Deserialize<'de> for EncodedObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        if ObjectIdentity::of(&v).is_none() {
            return Err(serde::de::Error::custom(
                "not a Kubernetes object: a map with string `apiVersion`, `kind` and `metadata.name` is required",
            ));
        }
        Ok(EncodedObject::from_json(&v))
    }
}

/// Where an encoded object's labels and owner references lie in its bytes: found once when the
/// object is stored, so that the filters of every export find them without reading its metadata
/// again (the metadata reader costs more than the rest of a filter's work).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetadataSpans {
    labels: Span,
    owner_refs: Span,
}

/// `start..end` in an object's bytes; [`UNKNOWN`] for an object too large for 32-bit offsets,
/// whose metadata is read again when asked. (Not an `Option`: it would take a third more room in
/// every stored version.)
type Span = (u32, u32);

const UNKNOWN: Span = (u32::MAX, u32::MAX);

impl MetadataSpans {
    pub fn of(obj: &EncodedObject) -> Self {
        let (whole, found) = (obj.as_bytes(), obj.metadata());
        let span = |part: &[u8]| {
            if part.is_empty() {
                return (0, 0);
            }
            let start = part.as_ptr().addr().wrapping_sub(whole.as_ptr().addr());
            match (u32::try_from(start), u32::try_from(start + part.len())) {
                (Ok(start), Ok(end)) if end != u32::MAX => (start, end),
                _ => UNKNOWN,
            }
        };
        MetadataSpans { labels: span(found.labels), owner_refs: span(found.owner_refs) }
    }

    /// The metadata of `obj`, which must be the object these spans were found in.
    pub fn resolve<'a>(&self, obj: &'a EncodedObject) -> MetadataRef<'a> {
        let bytes = obj.as_bytes();
        let part = |span: Span| (span != UNKNOWN).then(|| bytes.get(span.0 as usize..span.1 as usize)).flatten();
        match (part(self.labels), part(self.owner_refs)) {
            (Some(labels), Some(owner_refs)) => MetadataRef { labels, owner_refs },
            _ => obj.metadata(),
        }
    }
}

/// What names an object: its kind, namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectIdentity {
    pub gvk: Gvk,
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
}

impl ObjectIdentity {
    pub fn of(obj: &Value) -> Option<Self> {
        let gvk = Gvk::of_object(obj)?;
        let meta = obj.get("metadata")?;
        let name = meta.get("name")?.as_str()?.to_string();
        let namespace = match meta.get("namespace") {
            None | Some(Value::Null) => String::new(),
            Some(ns) => ns.as_str()?.to_string(),
        };
        Some(ObjectIdentity { gvk, namespace, name })
    }

    /// `ns/name`, or `name` for a cluster-scoped object: the key of the v1 index.
    pub fn namespaced_name(&self) -> String {
        namespaced_name(&self.namespace, &self.name)
    }
}

pub fn namespaced_name(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_string()
    } else {
        format!("{namespace}/{name}")
    }
}

/// The identity-only form in which a deletion is recorded.
pub fn deletion_record(id: &ObjectIdentity) -> EncodedObject {
    let mut meta = serde_json::Map::new();
    if !id.namespace.is_empty() {
        meta.insert("namespace".into(), id.namespace.clone().into());
    }
    meta.insert("name".into(), id.name.clone().into());
    EncodedObject::from_json(&serde_json::json!({
        "apiVersion": id.gvk.api_version(), "kind": id.gvk.kind, "metadata": meta,
    }))
}
