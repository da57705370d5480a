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
        off_ingest("trace read", snapshot, move |snapshot| read(snapshot, &config)).await
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
        let encoded =
            off_ingest("export", snapshot, move |snapshot| export(snapshot, &config, &req, &filters)).await??;
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

/// Stores of up to this many object versions are read at the tracer's own priority: on the real
/// control plane, an export of 3,000 (1.6 MB) took 2.0-2.4 ms of CPU to cut and encode.
const SMALL: usize = 4096;

/// Runs `read` over `snapshot` off the runtime's workers, since cutting and encoding a window is
/// CPU work; below ingest's priority unless the store is small enough that the work is too.
async fn off_ingest<T: Send + 'static>(
    what: &'static str,
    snapshot: Snapshot,
    read: impl FnOnce(&Snapshot) -> T + Send + 'static,
) -> Result<T, ExportFailure> {
    let done = if snapshot.versions() <= SMALL {
        crate::background::run_small(what, move || read(&snapshot)).await
    } else {
        crate::background::run(what, move || read(&snapshot)).await
    };
    done.map_err(|e| ExportFailure::Internal(e.to_string()))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::background::current_policy;
    use crate::trace::{EncodedObject, ObjectIdentity};

    fn store_of(versions: usize) -> Store {
        let store = Store::new();
        for i in 0..versions {
            let v = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": "d", "name": format!("d{i}")}});
            store.apply(1_764_000_000, ObjectIdentity::of(&v).unwrap(), EncodedObject::from_json(&v), i as u64);
        }
        store
    }

    #[tokio::test]
    async fn a_small_store_is_read_at_the_tracers_priority_a_large_one_below_it() {
        let own = current_policy();
        let small = off_ingest("test read", store_of(SMALL).snapshot(), |s| (s.versions(), current_policy()));
        assert_eq!(small.await.unwrap(), (SMALL, own));
        let large = off_ingest("test read", store_of(SMALL + 1).snapshot(), |s| (s.versions(), current_policy()));
        assert_eq!(large.await.unwrap(), (SMALL + 1, libc::SCHED_IDLE));
    }
}
