//! The sk-tracer configuration: one YAML file (the documented `trackedObjects` section plus the
//! tracer's own settings), overridden by `SK_TRACER_*` environment variables and then by command
//! line flags. Loaded and validated once; every error names its source, key and problem.

mod byte_size;
mod checkpoint;
mod duration;
mod error;
mod export;
mod ha;
mod loader;
mod pipeline;
mod retention;
mod schedule;
mod server;
mod shard;
mod tracked;

use serde::Serialize;
use sk_core::TracerConfig;

pub use checkpoint::CheckpointConfig;
pub use error::{quote_key, ConfigError};
pub use export::ExportConfig;
pub use ha::{HaConfig, LeaseConfig};
pub use loader::Loader;
pub use pipeline::PipelineConfig;
pub use retention::RetentionConfig;
pub use schedule::{ScheduleFormat, ScheduledExport};
pub use server::{AuthConfig, ServerConfig, TlsConfig};
pub use shard::ShardConfig;

/// The whole configuration, normalised: every tracked kind has its pod-template paths.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    #[serde(flatten)]
    pub tracer: TracerConfig,
    /// The namespaces this replica records; absent, all of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardConfig>,
    pub pipeline: PipelineConfig,
    pub retention: RetentionConfig,
    pub server: ServerConfig,
    pub export: ExportConfig,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<ScheduledExport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<CheckpointConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ha: Option<HaConfig>,
    /// Where the config came from as errors name it (`config file tracer.yaml`), so that what is
    /// found wrong with it later names the same place.
    #[serde(skip)]
    pub source_name: String,
}

/// Two configs are equal when they configure the same: where each came from does not count.
impl PartialEq for Config {
    fn eq(&self, other: &Self) -> bool {
        self.tracer == other.tracer
            && self.shard == other.shard
            && self.pipeline == other.pipeline
            && self.retention == other.retention
            && self.server == other.server
            && self.export == other.export
            && self.exports == other.exports
            && self.checkpoint == other.checkpoint
            && self.ha == other.ha
    }
}

impl Config {
    /// The normalised config as YAML, as `check-config` prints it.
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).unwrap_or_else(|e| format!("# the config could not be rendered: {e}\n"))
    }
}
