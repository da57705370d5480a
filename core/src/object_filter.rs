//! What export filters judge: one stored object version, with its metadata read once for all of
//! them.

use crate::store::StoredObject;
use crate::trace::{MetadataRef, ObjectIdentity};

/// Which objects a window keeps; the export filters implement it.
pub trait ObjectFilter {
    fn keep(&self, obj: &Candidate<'_>) -> bool;
}

/// Keeps everything.
pub struct KeepAll;

impl ObjectFilter for KeepAll {
    fn keep(&self, _: &Candidate<'_>) -> bool {
        true
    }
}

/// An object version before the filters, with its labels and owner references where the store
/// found them.
pub struct Candidate<'a> {
    stored: &'a StoredObject,
}

impl<'a> Candidate<'a> {
    pub fn new(stored: &'a StoredObject) -> Self {
        Candidate { stored }
    }

    pub fn id(&self) -> &'a ObjectIdentity {
        &self.stored.id
    }

    pub fn stored(&self) -> &'a StoredObject {
        self.stored
    }

    pub fn metadata(&self) -> MetadataRef<'a> {
        self.stored.metadata()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::trace::{EncodedObject, MetadataSpans};

    #[test]
    fn metadata_is_where_the_store_found_it() {
        let v = serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"a": "1"}, "ownerReferences": [{"apiVersion": "v1", "kind": "X"}]}});
        let obj = EncodedObject::from_json(&v);
        let stored = StoredObject::new(Arc::new(ObjectIdentity::of(&v).unwrap()), obj.clone(), 0);
        let c = Candidate::new(&stored);
        assert_eq!(c.id().name, "p");
        assert_eq!(c.metadata(), obj.metadata());
        assert_eq!(c.metadata().label("a"), Some("1"));
        assert_eq!(c.metadata().owner_kinds().collect::<Vec<_>>(), [("v1", "X")]);
        // Bytes the spans were not found in are read afresh rather than misread.
        let other = EncodedObject::from_json(&serde_json::json!({"metadata": {}}));
        assert_eq!(MetadataSpans::of(&obj).resolve(&other), other.metadata());
    }
}
