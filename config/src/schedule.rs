//! `exports`: exports that run on a schedule.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScheduleFormat {
    #[default]
    #[serde(rename = "v1")]
    V1,
    #[serde(rename = "simkube-v2")]
    SimkubeV2,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduledExport {
    /// How often to export (e.g. `1h`).
    #[serde(with = "crate::duration")]
    pub every: Duration,
    /// The length of the window that ends at each run (e.g. `1h`).
    #[serde(with = "crate::duration")]
    pub window: Duration,
    /// Where to deliver it; `{start}` and `{end}` become the window's unix seconds.
    pub to: String,
    #[serde(default)]
    pub format: ScheduleFormat,
    /// Filters in the request's shape, added to `export.filters`.
    #[serde(default)]
    pub filters: BTreeMap<String, serde_json::Value>,
    /// Also export the window ending at shutdown (SIGTERM or SIGINT).
    #[serde(default)]
    pub export_on_shutdown: bool,
}

pub(crate) fn validate(exports: &[ScheduledExport], source_name: &str) -> Result<(), ConfigError> {
    for (i, e) in exports.iter().enumerate() {
        let invalid = |field: &str, message: &str| ConfigError::Invalid {
            source_name: source_name.into(),
            key: format!("exports[{i}].{field}"),
            message: message.into(),
        };
        if e.every.is_zero() {
            return Err(invalid("every", "must be longer than zero"));
        }
        if e.window.is_zero() {
            return Err(invalid("window", "must be longer than zero"));
        }
        if e.to.trim().is_empty() {
            return Err(invalid(
                "to",
                "a destination is required (a path under export.localDir, or s3://, gs://, az://)",
            ));
        }
    }
    Ok(())
}
