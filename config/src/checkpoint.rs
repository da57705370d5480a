//! `checkpoint`: where and how often the tracer saves its whole state, so that a restart (a crash,
//! a rescheduled pod) goes on with the trace it had.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

fn default_every() -> Duration {
    Duration::from_secs(300)
}

fn default_keep() -> u32 {
    2
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckpointConfig {
    /// A local directory, or an object-store prefix (`s3://bucket/sk-tracer/`, `gs://...`,
    /// `az://...`), configured by `export.*` as exports are.
    pub to: String,
    /// How often a checkpoint is written (e.g. `5m`); one is also written at shutdown.
    #[serde(default = "default_every", with = "crate::duration")]
    pub every: Duration,
    /// Verified checkpoints kept; older ones are deleted once a newer one reads back whole.
    #[serde(default = "default_keep")]
    pub keep: u32,
}

impl CheckpointConfig {
    pub(crate) fn validate(&self, source_name: &str) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            source_name: source_name.into(),
            key: key.into(),
            message: message.into(),
        };
        if self.to.trim().is_empty() {
            return Err(invalid("checkpoint.to", "is empty: give a directory or an s3://, gs:// or az:// prefix"));
        }
        if self.every < Duration::from_secs(1) {
            return Err(invalid("checkpoint.every", "must be at least 1s"));
        }
        if self.keep == 0 {
            return Err(invalid("checkpoint.keep", "must be at least 1"));
        }
        Ok(())
    }
}
