//! An export from request to delivery: the request's filters over the config's, a snapshot of the
//! store, the window cut and encoded on a thread below ingest's priority, then the destination's
//! exporter. `POST /export` and the scheduled exports both go through [`ExportService::perform`].
//!
//! Every failure leaves the recorded trace as it was: an export only reads a snapshot.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::deliver::{Delivered, Destinations, ExportError};
use super::limit::ExportLimiter;
use super::{build_filters, export, Encoded, ExportRequest, ExportRequestError};
use crate::store::{Snapshot, Store};
use crate::tracer_config::TracerConfig;

/// What an export produced.
pub enum Performed {
    /// No destination: the trace itself, for the response body.
    Trace(Encoded),
    /// Delivered to storage.
    Delivered { delivered: Delivered, events: usize, objects: usize },
}

#[derive(Debug, thiserror::Error)]
pub enum ExportFailure {
    #[error(transparent)]
    Request(#[from] ExportRequestError),
    #[error(transparent)]
    Delivery(#[from] ExportError),
    #[error("export failed: {0}")]
    Internal(String),
}

pub struct ExportService {
    store: Arc<Store>,
    config: Arc<TracerConfig>,
    /// `export.filters`, applied to every export under the request's own.
    filters: Map<String, Value>,
    destinations: Arc<dyn Destinations>,
    slots: ExportLimiter,
}

impl ExportService {
    pub fn new(
        store: Arc<Store>,
        config: Arc<TracerConfig>,
        filters: Map<String, Value>,
        destinations: Arc<dyn Destinations>,
        slots: ExportLimiter,
    ) -> Self {
        ExportService { store, config, filters, destinations, slots }
    }

    /// The bound on exports in progress, shared by every caller.
    pub fn slots(&self) -> &ExportLimiter {
        &self.slots
    }

    /// Runs `read` over a snapshot of the store on a thread below ingest's priority, as an export
    /// cuts its window: for readers of the recorded trace other than exports (the trace page's
    /// windows), which take a slot as an export does. The caller holds a slot.
    pub async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Snapshot, &TracerConfig) -> T + Send + 'static,
    ) -> Result<T, ExportFailure> {
        let snapshot = self.store.snapshot();
        let config = self.config.clone();
        crate::background::run("trace read", move || read(&snapshot, &config))
            .await
            .map_err(|e| ExportFailure::Internal(e.to_string()))
    }

    /// Cuts, filters, encodes and (with a destination) delivers one export. The caller holds a
    /// slot.
    pub async fn perform(&self, request: &ExportRequest) -> Result<Performed, ExportFailure> {
        let filters = build_filters(&self.filters, &request.filters, &self.config)?;
        // A program that does not parse fails the request before any work.
        request.program()?;
        // Resolve the destination before any work, so a bad one fails fast.
        let exporter = request.destination().map(|d| self.destinations.exporter_for(d)).transpose()?;
        let snapshot = self.store.snapshot();
        let config = self.config.clone();
        let req = request.clone();
        // Cutting and encoding a large window is CPU work: off the runtime's workers, and below
        // ingest's priority.
        let encoded = crate::background::run("export", move || export(&snapshot, &config, &req, &filters))
            .await
            .map_err(|e| ExportFailure::Internal(e.to_string()))??;
        match (exporter, request.destination()) {
            (Some(exporter), Some(destination)) => {
                let (events, objects) = (encoded.events, encoded.objects);
                let delivered = exporter.deliver(destination, encoded.trace.into_chunks()).await?;
                Ok(Performed::Delivered { delivered, events, objects })
            }
            _ => Ok(Performed::Trace(encoded)),
        }
    }
}
