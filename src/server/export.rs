//! Exports: `POST /export`, and [`perform`], which scheduled exports share with it.
//!
//! Every failure leaves the in-memory trace as it was: an export only reads a snapshot.

use std::sync::Arc;

use bytes::Bytes;
use sk_core::export::{build_filters, export, Encoded, ExportRequest, ExportRequestError};
use sk_exporters::{Delivered, ExportError};
use warp::http::{header, StatusCode};
use warp::reply::Response;
use warp::Reply;

use super::chunked::ChunkedBody;
use super::limit::RETRY_AFTER_SECS;
use super::{json_error, ServerState};

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

impl ExportFailure {
    pub fn status(&self) -> StatusCode {
        match self {
            ExportFailure::Request(_) | ExportFailure::Delivery(ExportError::BadDestination { .. }) => {
                StatusCode::BAD_REQUEST
            }
            ExportFailure::Delivery(ExportError::Forbidden { .. }) => StatusCode::FORBIDDEN,
            ExportFailure::Delivery(ExportError::Storage { .. }) => StatusCode::BAD_GATEWAY,
            ExportFailure::Delivery(ExportError::Internal(_)) | ExportFailure::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

/// Cuts, filters, encodes and (with a destination) delivers one export.
pub async fn perform(state: &ServerState, request: &ExportRequest) -> Result<Performed, ExportFailure> {
    let filters = build_filters(&state.export_filters, &request.filters, &state.tracer.config)?;
    // Resolve the destination before any work, so a bad one fails fast.
    let exporter = request.destination().map(|d| sk_exporters::resolve(d, &state.exporters)).transpose()?;
    let snapshot = state.tracer.store.snapshot();
    let config = state.tracer.config.clone();
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

pub async fn handle(body: Bytes, state: Arc<ServerState>) -> Response {
    let started = std::time::Instant::now();
    let Some(_slot) = state.export_slots.try_acquire() else {
        state.metrics.count_refused("too_many_exports");
        tracing::warn!(max = state.export_slots.max(), "export refused: too many in progress");
        let mut resp = json_error(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{} exports are already in progress (server.maxConcurrentExports); retry after {} s",
                state.export_slots.max(),
                RETRY_AFTER_SECS
            ),
        );
        resp.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(RETRY_AFTER_SECS));
        return resp;
    };
    let result = match ExportRequest::parse(&body) {
        Ok(request) => perform(&state, &request).await.map(|p| (request, p)),
        Err(e) => Err(e.into()),
    };
    let reply = match result {
        Ok((request, performed)) => {
            let (events, objects, bytes, destination) = match &performed {
                Performed::Trace(e) => (e.events, e.objects, e.trace.len() as u64, "response".to_string()),
                Performed::Delivered { delivered, events, objects } => {
                    (*events, *objects, delivered.bytes, delivered.location.clone())
                }
            };
            tracing::info!(
                start_ts = request.start_ts,
                end_ts = request.end_ts,
                format = request.format.name(),
                destination,
                events,
                objects,
                bytes,
                millis = started.elapsed().as_millis() as u64,
                "exported"
            );
            match performed {
                Performed::Trace(encoded) => {
                    let mut resp = Response::new(Bytes::new().into());
                    let headers = resp.headers_mut();
                    headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/msgpack"));
                    headers.insert(header::CONTENT_LENGTH, header::HeaderValue::from(encoded.trace.len()));
                    resp.extensions_mut().insert(ChunkedBody(encoded.trace.into_chunks()));
                    resp
                }
                Performed::Delivered { delivered, events, objects } => warp::reply::json(&serde_json::json!({
                    "location": delivered.location, "bytes": delivered.bytes, "events": events, "objects": objects,
                }))
                .into_response(),
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "export refused or failed");
            json_error(e.status(), e)
        }
    };
    let outcome = match reply.status() {
        StatusCode::OK => "ok",
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::BAD_GATEWAY => "storage_error",
        _ => "internal_error",
    };
    state.metrics.count_export(outcome, started.elapsed().as_secs_f64());
    reply
}
