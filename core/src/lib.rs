//! The sk-tracer core: the trace model and file formats, the sources that watch a cluster, the
//! pipeline's stage traits, the store that records the trace, and exports from request to
//! delivery; also pod-template paths, stable hashing and the tracked-kinds config model.

pub mod background;
pub mod export;
pub mod gvk;
pub mod hash;
pub mod label_selector;
pub mod lifecycle;
pub mod ownership;
pub mod pipeline;
pub mod plugin_options;
pub mod pod_template_path;
pub mod sources;
pub mod store;
pub mod trace;
pub mod tracer;
pub mod tracer_config;

pub use gvk::Gvk;
pub use hash::stable_hash;
pub use pod_template_path::PodTemplatePath;
pub use trace::{PodLifecycle, Trace, TraceEvent, TrackedKey};
pub use tracer_config::{TracerConfig, TrackedObjectConfig};
