//! `retention`: how much history the tracer keeps in memory.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

fn default_max_age() -> Duration {
    Duration::from_secs(24 * 3600)
}

fn default_max_bytes() -> u64 {
    2 << 30
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RetentionConfig {
    /// Events older than this are folded into the base state (e.g. `24h`, `90m`).
    #[serde(default = "default_max_age", with = "crate::duration")]
    pub max_age: Duration,
    /// The encoded size of recorded objects above which the oldest events are folded (e.g. `2GiB`).
    #[serde(default = "default_max_bytes", with = "crate::byte_size")]
    pub max_bytes: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig { max_age: default_max_age(), max_bytes: default_max_bytes() }
    }
}

impl RetentionConfig {
    pub(crate) fn validate(&self, source_name: &str) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            source_name: source_name.into(),
            key: key.into(),
            message: message.into(),
        };
        if self.max_age.is_zero() {
            return Err(invalid("retention.maxAge", "must be longer than zero"));
        }
        if self.max_bytes == 0 {
            return Err(invalid("retention.maxBytes", "must be more than zero"));
        }
        Ok(())
    }
}
