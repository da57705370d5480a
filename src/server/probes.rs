//! `/healthz`: the process is alive. `/readyz`: every tracked kind (and pods) has completed its
//! initial list and none has had its watch down for longer than `server.readinessGrace`;
//! otherwise 503 with each kind that is not ready and why. Either way it says the
//! replica's role (`leader` or `follower`), which does not bear on readiness: every replica
//! records and serves exports. `/metrics`: Prometheus.

use std::sync::Arc;

use warp::http::StatusCode;
use warp::reply::{json, with_status, Response};
use warp::Reply;

use super::ServerState;

pub fn healthz() -> &'static str {
    "ok"
}

pub fn readyz(state: Arc<ServerState>) -> Response {
    let not_ready: Vec<_> = state
        .tracer
        .not_ready(state.readiness_grace)
        .into_iter()
        .map(|(gvk, why)| serde_json::json!({"kind": gvk.to_string(), "state": why.describe()}))
        .collect();
    let status = if not_ready.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    with_status(
        json(&serde_json::json!({"ready": not_ready.is_empty(), "role": state.role.name(), "not_ready": not_ready})),
        status,
    )
    .into_response()
}

pub fn metrics(state: Arc<ServerState>) -> Response {
    match state.metrics.render() {
        Ok(text) => {
            let mut resp = Response::new(text.into());
            resp.headers_mut().insert(
                warp::http::header::CONTENT_TYPE,
                warp::http::HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            );
            resp
        }
        Err(e) => super::json_error(StatusCode::INTERNAL_SERVER_ERROR, format!("rendering metrics: {e}")),
    }
}
