//! What a config turns into before the tracer connects to a cluster: the pipeline's stages, the
//! retention, the exporters' settings and the export filters, each built and checked once.
//! `run`, `check-config`, the quickstart and the benchmark all go through
//! [`Runtime::from_config`], so a config that `check-config` accepts is one `run` can start with.

use std::sync::Arc;

use sk_config::Config;
use sk_core::export::{ExportLimiter, ExportService};
use sk_core::pipeline::{SanitiserChain, StageError};
use sk_core::shard::Shard;
use sk_core::store::{Retention, Store};
use sk_core::tracer::{Pipeline, Tracer, TracerSettings};
use sk_core::TracerConfig;
use sk_exporters::ExporterSettings;

/// A config value that could not be turned into what it configures, named as the config loader
/// names its errors: the source, the key, the problem.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {key}: {message}")]
pub struct RuntimeError {
    pub source_name: String,
    pub key: String,
    pub message: String,
}

pub struct Runtime {
    pub tracer: TracerConfig,
    pub pipeline: Pipeline,
    pub retention: Retention,
    pub exporters: Arc<ExporterSettings>,
    /// `export.filters`, applied to every export under the request's own.
    pub export_filters: serde_json::Map<String, serde_json::Value>,
    pub max_concurrent_exports: u32,
    /// The namespaces this replica records; `None` records all.
    pub shard: Option<Shard>,
}

/// A started tracer and the exports it serves.
pub struct Started {
    pub tracer: Tracer,
    pub exports: Arc<ExportService>,
}

impl Runtime {
    pub fn from_config(config: &Config) -> Result<Self, RuntimeError> {
        let invalid =
            |key: String, message: String| RuntimeError { source_name: config.source_name.clone(), key, message };
        let options = config.pipeline.options_map();
        let chain = |field: &str, names: &[String]| {
            SanitiserChain::build(names, &options).map_err(|e| match &e {
                StageError::Unknown { name, .. } => {
                    let i = names.iter().position(|n| n == name).unwrap_or_default();
                    invalid(format!("pipeline.{field}[{i}]"), e.to_string())
                }
                StageError::BadOptions { name, .. } => {
                    invalid(format!("pipeline.options.{}", sk_config::quote_key(name)), e.to_string())
                }
            })
        };
        let pipeline = Pipeline::new(
            chain("sanitisers", &config.pipeline.sanitisers)?,
            chain("podHashSanitisers", &config.pipeline.pod_hash_sanitisers)?,
        );
        if let Some(unused) = config.pipeline.options.keys().find(|name| {
            !config.pipeline.sanitisers.contains(name) && !config.pipeline.pod_hash_sanitisers.contains(name)
        }) {
            return Err(invalid(
                format!("pipeline.options.{}", sk_config::quote_key(unused)),
                format!("options for `{unused}`, which is not in pipeline.sanitisers or pipeline.podHashSanitisers"),
            ));
        }
        let retention = Retention {
            max_age_secs: config.retention.max_age.as_secs().try_into().unwrap_or(i64::MAX),
            max_bytes: config.retention.max_bytes,
        };
        let exporters = ExporterSettings {
            local_dir: config.export.local_dir.clone(),
            s3_endpoint: config.export.s3_endpoint.clone(),
            request_timeout: Some(config.export.request_timeout),
            object_store_options: config.export.object_store.clone(),
            sections: config.export.exporters.clone(),
        };
        exporters.validate().map_err(|e| invalid("export.objectStore".into(), e))?;
        for name in config.export.exporters.keys() {
            let key = format!("export.{}", sk_config::quote_key(name));
            let Some(plugin) = sk_exporters::ExporterPlugin::find(name) else {
                let names: Vec<&str> = sk_exporters::all().iter().map(|p| p.name).collect();
                return Err(invalid(
                    key,
                    format!(
                        "unknown setting or exporter `{name}` (settings: localDir, filters, s3Endpoint, requestTimeout, \
                         objectStore; exporters: {})",
                        names.join(", ")
                    ),
                ));
            };
            plugin.build_from(&exporters).map_err(|e| invalid(key, e.to_string()))?;
        }
        let shard = match config.shard {
            None => None,
            Some(s) => Some(Shard::new(s.index, s.count).map_err(|e| invalid("shard".into(), e.to_string()))?),
        };
        let export_filters = config.export.filters_map();
        sk_core::export::build_filters(&export_filters, &serde_json::Map::new(), &config.tracer)
            .map_err(|e| invalid("export.filters".into(), e.to_string()))?;
        for (i, s) in config.exports.iter().enumerate() {
            let destination = s.to.replace("{start}", "0").replace("{end}", "0");
            sk_exporters::resolve(&destination, &exporters)
                .map_err(|e| invalid(format!("exports[{i}].to"), e.to_string()))?;
            let filters = s.filters.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            sk_core::export::build_filters(&export_filters, &filters, &config.tracer)
                .map_err(|e| invalid(format!("exports[{i}].filters"), e.to_string()))?;
        }
        Ok(Runtime {
            tracer: config.tracer.clone(),
            pipeline,
            retention,
            exporters: Arc::new(exporters),
            export_filters,
            max_concurrent_exports: config.server.max_concurrent_exports,
            shard,
        })
    }

    /// Starts the tracer's watches against `cluster`, going on from `restored` (a checkpoint's
    /// store and when it was written) where a checkpoint gave one, and the export service over
    /// its store.
    pub fn start(self, cluster: kube::Config, restored: Option<(Store, i64)>) -> Started {
        let (restored, restored_at) = restored.map_or((None, None), |(store, at)| (Some(store), Some(at)));
        let settings = TracerSettings {
            config: self.tracer,
            pipeline: self.pipeline,
            retention: self.retention,
            restored,
            restored_at,
            shard: self.shard,
        };
        let tracer = Tracer::start(cluster, settings);
        let exports = Arc::new(ExportService::new(
            tracer.store.clone(),
            tracer.config.clone(),
            self.export_filters,
            self.exporters,
            ExportLimiter::new(self.max_concurrent_exports),
        ));
        Started { tracer, exports }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(yaml: &str) -> Result<Runtime, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tracer.yaml");
        std::fs::write(&path, yaml).unwrap();
        let config = sk_config::Loader::new().file(&path).load().map_err(|e| e.to_string())?;
        Runtime::from_config(&config).map_err(|e| e.to_string().replace(&path.display().to_string(), "F"))
    }

    const KINDS: &str = "trackedObjects:\n  apps/v1.Deployment: {}\n";

    #[test]
    fn the_defaults_build() {
        assert!(load(KINDS).is_ok());
    }

    #[test]
    fn each_bad_stage_or_option_names_its_key() {
        let cases = [
            ("pipeline:\n  sanitisers: [metadata, colour]\n", "config file F: pipeline.sanitisers[1]: no pipeline stage is registered under the name `colour`"),
            ("pipeline:\n  podHashSanitisers: [pod-hash, nope]\n", "config file F: pipeline.podHashSanitisers[1]: no pipeline stage"),
            ("pipeline:\n  options:\n    redact: {keep: 5}\n", "config file F: pipeline.options.redact: pipeline stage `redact`: bad options: `redact`: unknown field `keep`"),
            ("pipeline:\n  options:\n    colour: {}\n", "config file F: pipeline.options.colour: options for `colour`, which is not in"),
            ("export:\n  objectStore: {aws_colour: red}\n", "config file F: export.objectStore: unknown object store options: aws_colour"),
            ("exports:\n  - {every: 1h, window: 1h, to: 'ftp://x/y'}\n", "config file F: exports[0].to:"),
            ("export:\n  filters: {excluded_colours: [red]}\n", "config file F: export.filters:"),
            ("export:\n  localdir: /tmp\n", "config file F: export.localdir: unknown setting or exporter `localdir`"),
            ("export:\n  file: {root: /}\n", "config file F: export.file: exporter `file`: bad options: it takes no section"),
        ];
        for (extra, expected) in cases {
            let err = load(&format!("{KINDS}{extra}")).err().unwrap_or_else(|| panic!("{extra} was accepted"));
            assert!(err.starts_with(expected), "{extra}: {err}");
        }
    }
}
