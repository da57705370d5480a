//! `POST /export`: the request parsed, a slot taken, the export performed by the export service,
//! and its outcome turned into a response under the request's [`Contract`].

use std::sync::Arc;

use bytes::Bytes;
use sk_core::export::limit::RETRY_AFTER_SECS;
use sk_core::export::{ExportError, ExportFailure, ExportRequest, Performed};
use warp::http::{header, StatusCode};
use warp::reply::Response;
use warp::Reply;

use super::chunked::ChunkedBody;
use super::contract::Contract;
use super::{json_error, ServerState};

/// The status of `POST /export`'s answer to a failed export.
fn status(failure: &ExportFailure) -> StatusCode {
    match failure {
        ExportFailure::Request(_) | ExportFailure::Delivery(ExportError::BadDestination { .. }) => {
            StatusCode::BAD_REQUEST
        }
        ExportFailure::Delivery(ExportError::Forbidden { .. }) => StatusCode::FORBIDDEN,
        ExportFailure::Delivery(ExportError::Storage { .. }) => StatusCode::BAD_GATEWAY,
        ExportFailure::Delivery(ExportError::Internal(_) | ExportError::Options { .. })
        | ExportFailure::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub async fn handle(accept: Option<String>, body: Bytes, state: Arc<ServerState>) -> Response {
    let contract = Contract::of(accept.as_deref());
    let started = std::time::Instant::now();
    let Some(_slot) = state.exports.slots().try_acquire() else {
        state.metrics.count_refused("too_many_exports");
        tracing::warn!(max = state.exports.slots().max(), "export refused: too many in progress");
        let mut resp = json_error(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{} exports are already in progress (server.maxConcurrentExports); retry after {} s",
                state.exports.slots().max(),
                RETRY_AFTER_SECS
            ),
        );
        resp.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(RETRY_AFTER_SECS));
        return resp;
    };
    let result = match ExportRequest::parse(&body) {
        Ok(request) => {
            let performed = contract.performed(&request);
            let format = performed.format();
            state.exports.perform(&performed).await.map(|p| (request, format, p))
        }
        Err(e) => Err(e.into()),
    };
    let reply = match result {
        Ok((request, performed_format, performed)) => {
            let (events, objects, bytes, destination) = match &performed {
                Performed::Trace(e) => {
                    let destination = match request.destination() {
                        Some(theirs) => format!("response, for the client to write to {theirs}"),
                        None => "response".to_string(),
                    };
                    (e.events, e.objects, e.trace.len() as u64, destination)
                }
                Performed::Delivered { delivered, events, objects } => {
                    (*events, *objects, delivered.bytes, delivered.location.clone())
                }
            };
            tracing::info!(
                start_ts = request.start_ts,
                end_ts = request.end_ts,
                format = performed_format.name(),
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
                // SimKube's client writes any body it gets to its output path, here the very
                // object just stored: it must get nothing.
                Performed::Delivered { .. } if contract == Contract::SimKube => {
                    let mut resp = Response::new(Bytes::new().into());
                    resp.headers_mut().insert(header::CONTENT_LENGTH, header::HeaderValue::from(0));
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
            json_error(status(&e), e)
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
