//! Layering: built-in defaults, then the YAML file, then `SK_TRACER_*` environment variables
//! (`__` separates nesting levels, snake_case becomes camelCase: `SK_TRACER_RETENTION__MAX_AGE`
//! sets `retention.maxAge`), then the command line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Yaml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::checkpoint::CheckpointConfig;
use crate::error::ENV_PREFIX;
use crate::export::ExportConfig;
use crate::ha::HaConfig;
use crate::pipeline::PipelineConfig;
use crate::retention::RetentionConfig;
use crate::schedule::ScheduledExport;
use crate::server::ServerConfig;
use crate::shard::ShardConfig;
use crate::tracked::{normalise, RawTrackedObject};
use crate::{Config, ConfigError};

/// Environment variables with the prefix that configure the command line, not the file
/// (`run --config`, and the export client's `--tracer`, `--token-file` and `--ca-file`).
const CLI_ONLY_ENV: &[&str] = &["config", "url", "token_file", "ca_file"];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawConfig {
    // `None` when absent or written without a value; both are reported as nothing to trace.
    #[serde(default)]
    tracked_objects: Option<BTreeMap<String, Option<RawTrackedObject>>>,
    #[serde(default)]
    shard: Option<ShardConfig>,
    #[serde(default)]
    pipeline: PipelineConfig,
    #[serde(default)]
    retention: RetentionConfig,
    #[serde(default)]
    server: ServerConfig,
    #[serde(default)]
    export: ExportConfig,
    #[serde(default)]
    exports: Vec<ScheduledExport>,
    #[serde(default)]
    checkpoint: Option<CheckpointConfig>,
    #[serde(default)]
    ha: Option<HaConfig>,
}

/// Builds a [`Config`] from its layers: built-in defaults, then the YAML file, then the
/// environment, then overrides from the command line. Later layers win key by key.
///
/// ```no_run
/// let config = sk_config::Loader::new()
///     .file("tracer-config.yaml")
///     .env()
///     .overrides(serde_json::json!({"server": {"port": 9000}}))
///     .load()?;
/// # Ok::<(), sk_config::ConfigError>(())
/// ```
#[derive(Default)]
pub struct Loader {
    file: Option<PathBuf>,
    env: bool,
    overrides: Figment,
}

fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `RETENTION__MAX_AGE` → `retention.maxAge`.
fn env_key(key: &str) -> String {
    key.split("__").map(|part| camel(&part.to_lowercase())).collect::<Vec<_>>().join(".")
}

impl Loader {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn file(mut self, path: impl Into<PathBuf>) -> Self {
        self.file = Some(path.into());
        self
    }

    /// Applies `SK_TRACER_*` environment variables over the file.
    pub fn env(mut self) -> Self {
        self.env = true;
        self
    }

    /// Values from the command line, in the file's shape (`{"server": {"port": 9000}}`), applied
    /// last. Errors in them are reported as coming from the command line.
    pub fn overrides<T: Serialize>(mut self, values: T) -> Self {
        self.overrides = self.overrides.merge(Serialized::defaults(values));
        self
    }

    pub fn load(self) -> Result<Config, ConfigError> {
        let file_name = self.file.as_deref().map(|p| p.display().to_string());
        let mut figment = Figment::new();
        if let Some(path) = &self.file {
            check_yaml(path)?;
            figment = figment.merge(Yaml::file_exact(path));
        }
        if self.env {
            figment = figment.merge(
                Env::prefixed(ENV_PREFIX)
                    .filter(|k| !CLI_ONLY_ENV.contains(&k.as_str().to_lowercase().as_str()))
                    .map(|k| env_key(k.as_str()).into())
                    .lowercase(false),
            );
        }
        figment = figment.merge(self.overrides);
        let mut raw: RawConfig = figment.extract().map_err(|e| ConfigError::from_figment(e, file_name.as_deref()))?;
        let source_name = file_name.map(|f| format!("config file {f}")).unwrap_or_else(|| "config".into());
        let tracer = normalise(raw.tracked_objects, &source_name)?;
        if let Some(s) = &raw.shard {
            s.validate(&source_name)?;
        }
        raw.pipeline.validate(&source_name)?;
        raw.retention.validate(&source_name)?;
        raw.server.validate(&source_name)?;
        crate::schedule::validate(&mut raw.exports, &source_name)?;
        if let Some(c) = &raw.checkpoint {
            c.validate(&source_name)?;
        }
        if let Some(ha) = &raw.ha {
            ha.validate(&source_name)?;
        }
        Ok(Config {
            tracer,
            shard: raw.shard,
            pipeline: raw.pipeline,
            retention: raw.retention,
            server: raw.server,
            export: raw.export,
            exports: raw.exports,
            checkpoint: raw.checkpoint,
            ha: raw.ha,
            source_name,
        })
    }
}

/// Reads the file and checks its YAML first: figment would silently keep the last of two
/// duplicate keys, and serde_yaml reports syntax errors with line and column.
fn check_yaml(path: &Path) -> Result<(), ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::Unreadable { file: file.clone(), message: e.to_string() })?;
    serde_yaml::from_str::<serde_yaml::Value>(&text).map_err(|e| ConfigError::from_yaml(e, file))?;
    Ok(())
}

#[cfg(test)]
mod tests;
