//! A Kubernetes object as the trace holds it: encoded once as msgpack and shared.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

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
        super::field_bytes::metadata_ref(&self.0)
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

/// What export filters look at besides an object's identity, borrowed from the encoded object:
/// read in place, it costs no allocation per label. Entries that are not strings are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetadataRef<'a> {
    /// In the object's order; keys are unique, as the object's were.
    pub labels: Vec<(&'a str, &'a str)>,
    /// `(apiVersion, kind)` of each owner reference.
    pub owner_kinds: Vec<(&'a str, &'a str)>,
}

impl<'a> MetadataRef<'a> {
    pub fn label(&self, key: &str) -> Option<&'a str> {
        self.labels.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
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
