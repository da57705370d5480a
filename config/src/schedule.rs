//! `exports`: exports that run on a schedule.

use std::collections::BTreeMap;
use std::path::PathBuf;
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
    /// A file holding a SKEL program applied to every window before the filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<PathBuf>,
    /// The text of `transform`, read and parsed when the config is loaded.
    #[serde(skip)]
    pub program: Option<String>,
}

/// Checks every schedule, and reads and parses each one's transform, so that a program that
/// cannot run stops the tracer at start (and `check-config`) rather than failing every window.
pub(crate) fn validate(exports: &mut [ScheduledExport], source_name: &str) -> Result<(), ConfigError> {
    for (i, e) in exports.iter_mut().enumerate() {
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
        if let Some(path) = &e.transform {
            let shown = path.display();
            let text = std::fs::read_to_string(path)
                .map_err(|err| invalid("transform", &format!("cannot read the SKEL program {shown}: {err}")))?;
            sk_skel::Program::parse(&text).map_err(|err| invalid("transform", &format!("{shown}: {err}")))?;
            e.program = Some(text);
        }
    }
    Ok(())
}
