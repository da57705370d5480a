//! Delivery: where an export's bytes go once encoded. The destinations themselves (local disk,
//! object stores) are plugins of the exporters crate, found by a destination's URL scheme through
//! [`Destinations`].

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
    /// An exporter's options (its `export.<name>` section) are wrong; found when the config is
    /// checked, before any export.
    #[error("exporter `{exporter}`: bad options: {message}")]
    Options { exporter: &'static str, message: String },
    /// Anything else (500).
    #[error("{0}")]
    Internal(String),
}

#[async_trait::async_trait]
pub trait Exporter: Send + Sync {
    /// Stores `trace`, the concatenation of its chunks, at `destination` (a URL of one of this
    /// exporter's schemes, or a plain path for the local exporter). The chunks are written as
    /// they are: an encoder shares large objects into them rather than copying them.
    async fn deliver(&self, destination: &str, trace: Vec<Bytes>) -> Result<Delivered, ExportError>;
}

/// Finds the exporter for a destination.
pub trait Destinations: Send + Sync {
    fn exporter_for(&self, destination: &str) -> Result<Box<dyn Exporter>, ExportError>;
}
