//! The sk-tracer core: the trace model and file formats (`trace`), the watches (`sources`), owner
//! resolution (`ownership`) and pod lifecycles (`lifecycle`), the pipeline's stages and the pod
//! hasher (`pipeline`), the ingest loop (`tracer`), the store of recorded state (`store`), and
//! exports from request to delivery (`export`); also bulk work below ingest's priority
//! (`background`), plugin options, pod-template paths and where a CRD's schema puts them
//! (`crd_templates`), label selectors, GVKs, the stable hash, namespace shards (`shard`) and the
//! tracked-kinds config model; SKEL programs applied to a trace (`transform`).
//!
//! An object's identity has one name per form: [`trace::ObjectIdentity`] (kind, namespace, name,
//! as the store holds it), [`TraceIdentity`] (as a trace file names it: kind where known,
//! `namespace/name`), [`trace::IdentityRef`] (either, borrowed, with the ordering exports sort
//! by), [`ownership::OwnerReference`] (one entry of `ownerReferences`) and
//! [`ownership::KnownOwner`] (a possible owner as the owner cache knows it).
//!
//! Modules import each other in one direction: no file imports, directly or through others, a
//! file that imports it back (`tests/module_graph.rs` checks).

pub mod background;
pub mod crd_templates;
pub mod export;
pub mod gvk;
pub mod hash;
pub mod label_selector;
pub mod lifecycle;
pub mod object_filter;
pub mod ownership;
pub mod pipeline;
pub mod plugin_options;
pub mod pod_template_path;
pub mod shard;
pub mod sources;
pub mod store;
pub mod trace;
pub mod tracer;
pub mod tracer_config;
pub mod transform;

pub use gvk::Gvk;
pub use hash::stable_hash;
pub use pod_template_path::PodTemplatePath;
pub use trace::{PodLifecycle, Trace, TraceEvent, TraceIdentity};
pub use tracer_config::{TracerConfig, TrackedObjectConfig};
