//! `stdout`: an exporter that writes each exported trace to the tracer's standard output, for a
//! pipeline that reads traces from the process (logs stay on standard error). With
//! `lengthPrefix: true`, each trace is preceded by its length as 8 bytes, big-endian, so that a
//! reader can split several traces out of one stream.
//!
//! ```yaml
//! export:
//!   stdout: {lengthPrefix: true}
//! ```
//!
//! `POST /export` with `"export_path": "stdout://"` then sends the trace there.

use std::io::Write;

use bytes::Bytes;
use serde::Deserialize;
use sk_core::plugin_options::plugin_options;
use sk_exporters::{Delivered, ExportError, Exporter, ExporterPlugin, ExporterSettings};

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Options {
    #[serde(default)]
    length_prefix: bool,
}

struct StdoutExporter {
    length_prefix: bool,
}

#[async_trait::async_trait]
impl Exporter for StdoutExporter {
    async fn deliver(&self, _destination: &str, trace: Vec<Bytes>) -> Result<Delivered, ExportError> {
        let length_prefix = self.length_prefix;
        let failed = |e: std::io::Error| ExportError::Storage {
            provider: "stdout",
            destination: "stdout://".into(),
            message: e.to_string(),
        };
        // Standard output is a blocking file; writing it must not hold a runtime worker.
        let bytes = tokio::task::spawn_blocking(move || {
            let bytes: u64 = trace.iter().map(|c| c.len() as u64).sum();
            // One lock for the whole trace, so that two exports never interleave.
            let mut out = std::io::stdout().lock();
            if length_prefix {
                out.write_all(&bytes.to_be_bytes())?;
            }
            for chunk in &trace {
                out.write_all(chunk)?;
            }
            out.flush()?;
            Ok(bytes)
        })
        .await
        .map_err(|e| ExportError::Internal(e.to_string()))?
        .map_err(failed)?;
        Ok(Delivered { location: "stdout://".into(), bytes })
    }
}

fn build(section: &serde_json::Value, _settings: &ExporterSettings) -> Result<Box<dyn Exporter>, ExportError> {
    let options: Options =
        plugin_options(section).map_err(|message| ExportError::Options { exporter: "stdout", message })?;
    Ok(Box::new(StdoutExporter { length_prefix: options.length_prefix }))
}

inventory::submit! {
    ExporterPlugin {
        name: "stdout",
        schemes: &["stdout"],
        describe: "the tracer's standard output, each trace optionally preceded by its length (export.stdout.lengthPrefix)",
        build,
    }
}
