//! Destinations for exported traces. One file per exporter, each registered with
//! `inventory::submit!` under the URL schemes it serves; [`resolve`] picks one by the scheme of an
//! export's destination.

use std::path::PathBuf;

use bytes::Bytes;

/// Where a trace went, for the export's JSON response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// The destination as a URL (`file:///...`, `s3://bucket/key`, ...).
    pub location: String,
    pub bytes: u64,
}

/// Failures, each mapping to one HTTP status of `POST /export`.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The destination is malformed or its scheme is unknown (400).
    #[error("bad destination `{destination}`: {why}")]
    BadDestination { destination: String, why: String },
    /// The destination is not allowed, e.g. a path outside the export directory (403).
    #[error("destination `{destination}` is not allowed: {why}")]
    Forbidden { destination: String, why: String },
    /// The storage provider failed (502); nothing was lost, the export can be retried.
    #[error("{provider} failed to store `{destination}`: {message}")]
    Storage { provider: &'static str, destination: String, message: String },
    /// Anything else (500).
    #[error("{0}")]
    Internal(String),
}

/// Settings shared by all exporters, from the `export` section of the config.
#[derive(Clone, Debug, Default)]
pub struct ExporterSettings {
    /// Local exports are written under this directory only; `None` refuses every local export.
    pub local_dir: Option<PathBuf>,
    /// An S3-compatible endpoint (e.g. `http://127.0.0.1:9000`); otherwise `AWS_ENDPOINT_URL` or AWS.
    pub s3_endpoint: Option<String>,
    /// Per-request timeout for object stores; retries stop after it too. Default 60 s.
    pub request_timeout: Option<std::time::Duration>,
}

#[async_trait::async_trait]
pub trait Exporter: Send + Sync {
    /// Stores `trace` at `destination` (a URL of one of this exporter's schemes, or a plain path
    /// for the local exporter).
    async fn deliver(&self, destination: &str, trace: Bytes) -> Result<Delivered, ExportError>;
}

/// The registration of an exporter.
pub struct ExporterPlugin {
    /// URL schemes served, e.g. `["s3", "gs"]`; the local exporter also takes plain paths under
    /// the scheme `file`.
    pub schemes: &'static [&'static str],
    /// One line for `sk-tracer plugins`.
    pub describe: &'static str,
    pub build: fn(&ExporterSettings) -> Result<Box<dyn Exporter>, ExportError>,
}

inventory::collect!(ExporterPlugin);

mod file;
mod object_store;

/// The scheme of a destination; plain paths are `file`.
fn scheme(destination: &str) -> &str {
    match destination.split_once("://") {
        Some((scheme, _))
            if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            scheme
        }
        _ => "file",
    }
}

/// Every registered exporter.
pub fn all() -> Vec<&'static ExporterPlugin> {
    let mut all: Vec<_> = inventory::iter::<ExporterPlugin>.into_iter().collect();
    all.sort_by_key(|p| p.schemes.first().copied().unwrap_or(""));
    all
}

/// The exporter for a destination, chosen by its URL scheme.
pub fn resolve(destination: &str, settings: &ExporterSettings) -> Result<Box<dyn Exporter>, ExportError> {
    let scheme = scheme(destination);
    let plugin = all().into_iter().find(|p| p.schemes.contains(&scheme)).ok_or_else(|| {
        let known: Vec<&str> = all().iter().flat_map(|p| p.schemes.iter().copied()).collect();
        ExportError::BadDestination {
            destination: destination.to_string(),
            why: format!("unknown scheme `{scheme}` (known: {})", known.join(", ")),
        }
    })?;
    (plugin.build)(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_by_scheme() {
        let settings = ExporterSettings::default();
        assert!(resolve("s3://bucket/key", &settings).is_ok());
        assert!(resolve("memory:///key", &settings).is_ok());
        assert!(resolve("traces/today.sktrace", &settings).is_ok());
        let err = resolve("ftp://host/file", &settings).err().unwrap().to_string();
        assert!(err.contains("unknown scheme `ftp`") && err.contains("s3"), "{err}");
    }
}
