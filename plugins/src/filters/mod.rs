//! Export filters, one file each. Each is configured by its key in an export request's (or the
//! config's) `filters` map, as SimKube's export API names them.

mod exclude_daemonsets;
mod excluded_labels;
mod excluded_namespaces;
mod owned_by_tracked;

#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::Arc;

    use sk_core::export::Candidate;
    use sk_core::store::StoredObject;
    use sk_core::trace::{EncodedObject, ObjectIdentity};

    pub fn stored(obj: serde_json::Value) -> StoredObject {
        StoredObject::new(
            Arc::new(ObjectIdentity::of(&obj).unwrap()),
            EncodedObject::from_json(&obj),
            sk_core::stable_hash(&obj),
        )
    }

    pub fn candidate(stored: &StoredObject) -> Candidate<'_> {
        Candidate::new(stored)
    }
}
