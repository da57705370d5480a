//! `POST /export`: cut a window of the trace and deliver it, in the response or to storage.
//!
//! Every failure leaves the in-memory trace as it was: an export only reads a snapshot.

use std::sync::Arc;

use bytes::Bytes;
use sk_core::export::{build_filters, export, ExportRequest, ExportRequestError};
use sk_exporters::ExportError;
use warp::http::{header, StatusCode};
use warp::reply::Response;
use warp::Reply;

use super::{json_error, ServerState};

fn request_error(e: ExportRequestError) -> Response {
    json_error(StatusCode::BAD_REQUEST, e)
}

fn delivery_error(e: ExportError) -> Response {
    let status = match &e {
        ExportError::BadDestination { .. } => StatusCode::BAD_REQUEST,
        ExportError::Forbidden { .. } => StatusCode::FORBIDDEN,
        ExportError::Storage { .. } => StatusCode::BAD_GATEWAY,
        ExportError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    json_error(status, e)
}

pub async fn handle(body: Bytes, state: Arc<ServerState>) -> Response {
    let started = std::time::Instant::now();
    let reply = serve(body, &state, started).await;
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

async fn serve(body: Bytes, state: &Arc<ServerState>, started: std::time::Instant) -> Response {
    let request = match ExportRequest::parse(&body) {
        Ok(r) => r,
        Err(e) => return request_error(e),
    };
    let filters = match build_filters(&state.export_filters, &request.filters, &state.tracer.config) {
        Ok(f) => f,
        Err(e) => return request_error(e),
    };
    // Resolve the destination before any work, so a bad one fails fast.
    let exporter = match request.destination().map(|d| sk_exporters::resolve(d, &state.exporters)).transpose() {
        Ok(e) => e,
        Err(e) => return delivery_error(e),
    };
    let snapshot = state.tracer.store.snapshot();
    let config = state.tracer.config.clone();
    let req = request.clone();
    // Cutting and encoding a large window is CPU work; keep it off the runtime's workers.
    let encoded = match tokio::task::spawn_blocking(move || export(&snapshot, &config, &req, &filters)).await {
        Ok(Ok(encoded)) => encoded,
        Ok(Err(e)) => return request_error(e),
        Err(e) => return json_error(StatusCode::INTERNAL_SERVER_ERROR, format!("export failed: {e}")),
    };
    let (events, objects, size) = (encoded.events, encoded.objects, encoded.bytes.len());
    let reply = match (exporter, request.destination()) {
        (Some(exporter), Some(destination)) => match exporter.deliver(destination, Bytes::from(encoded.bytes)).await {
            Ok(delivered) => warp::reply::json(&serde_json::json!({
                "location": delivered.location, "bytes": delivered.bytes, "events": events, "objects": objects,
            }))
            .into_response(),
            Err(e) => {
                tracing::warn!(destination, error = %e, "export failed");
                return delivery_error(e);
            }
        },
        _ => {
            let mut resp = Response::new(encoded.bytes.into());
            resp.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/msgpack"));
            resp
        }
    };
    tracing::info!(
        start_ts = request.start_ts,
        end_ts = request.end_ts,
        format = request.format.name(),
        destination = request.destination().unwrap_or("response"),
        events,
        objects,
        bytes = size,
        millis = started.elapsed().as_millis() as u64,
        "exported"
    );
    reply
}
