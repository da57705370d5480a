//! The stages between a watch event and the store: sanitisers clean objects and pod templates, and
//! the pod hash identifies a pod by its sanitised template. Stages are plugins: each is a type
//! plus an `inventory::submit!` registration, looked up by the names the config gives.

pub mod pod_hash;
pub mod sanitiser;

pub use pod_hash::{pod_template_form, PodHasher};
pub use sanitiser::{IgnoredFields, Sanitiser, SanitiserChain, SanitiserPlugin, StageError};

/// The configured pipeline stages.
pub struct Pipeline {
    pub pod_hasher: PodHasher,
}

impl Pipeline {
    pub fn new(sanitisers: SanitiserChain, pod_hash_sanitisers: SanitiserChain) -> Self {
        Pipeline { pod_hasher: PodHasher { sanitisers, pod_hash_sanitisers } }
    }

    /// The sanitisers applied to recorded objects.
    pub fn sanitisers(&self) -> &SanitiserChain {
        &self.pod_hasher.sanitisers
    }
}
