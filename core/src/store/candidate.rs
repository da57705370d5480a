//! What export filters judge: one stored object version, with its metadata read once for all of
//! them.

use std::cell::OnceCell;

use super::StoredObject;
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

/// An object version before the filters. Its labels and owner references are read from the
/// encoded object when a filter first asks, and shared by the filters after it.
pub struct Candidate<'a> {
    stored: &'a StoredObject,
    metadata: OnceCell<MetadataRef<'a>>,
}

impl<'a> Candidate<'a> {
    pub fn new(stored: &'a StoredObject) -> Self {
        Candidate { stored, metadata: OnceCell::new() }
    }

    pub fn id(&self) -> &'a ObjectIdentity {
        &self.stored.id
    }

    pub fn stored(&self) -> &'a StoredObject {
        self.stored
    }

    pub fn metadata(&self) -> &MetadataRef<'a> {
        self.metadata.get_or_init(|| self.stored.obj.metadata())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::trace::EncodedObject;

    #[test]
    fn metadata_is_read_once_and_borrowed() {
        let v = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "1"}}});
        let stored =
            StoredObject { id: Arc::new(ObjectIdentity::of(&v).unwrap()), obj: EncodedObject::from_json(&v), hash: 0 };
        let c = Candidate::new(&stored);
        assert_eq!(c.id().name, "p");
        let first: *const MetadataRef = c.metadata();
        assert_eq!(c.metadata().label("a"), Some("1"));
        assert!(std::ptr::eq(first, c.metadata()));
    }
}
