//! Replies: JSON errors `{"error": "..."}` for every failure, rejections included.

use std::convert::Infallible;
use std::sync::Arc;

use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::{json, with_status, Response};
use warp::Reply;

use super::auth::AuthFailure;
use super::{ServerState, MAX_REQUEST_BYTES};

pub fn json_error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    with_status(json(&serde_json::json!({ "error": message.to_string() })), status).into_response()
}

/// A request refused before its handler ran.
#[derive(Debug)]
pub struct Refused(pub AuthFailure);

impl warp::reject::Reject for Refused {}

/// 401 with the challenge RFC 6750 asks for, or 503 when the server cannot read its own token.
pub fn refused(failure: &AuthFailure) -> Response {
    let (status, challenge) = match failure {
        AuthFailure::Missing => (StatusCode::UNAUTHORIZED, r#"Bearer realm="sk-tracer""#),
        AuthFailure::Malformed => (StatusCode::UNAUTHORIZED, r#"Bearer realm="sk-tracer", error="invalid_request""#),
        AuthFailure::Wrong => (StatusCode::UNAUTHORIZED, r#"Bearer realm="sk-tracer", error="invalid_token""#),
        AuthFailure::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, r#"Bearer realm="sk-tracer""#),
    };
    let mut resp = json_error(status, failure.message());
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    resp
}

pub async fn rejection(r: warp::Rejection, state: Arc<ServerState>) -> Result<Response, Infallible> {
    let reply = if let Some(Refused(failure)) = r.find::<Refused>() {
        state.metrics.count_refused(failure.reason());
        refused(failure)
    } else if r.is_not_found() {
        json_error(
            StatusCode::NOT_FOUND,
            "no such endpoint (try GET / for the trace page, POST /export, GET /api/window, GET /healthz, GET /readyz, GET /metrics)",
        )
    } else if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        json_error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed for this endpoint")
    } else if r.find::<warp::reject::PayloadTooLarge>().is_some() {
        state.metrics.count_refused("body_too_large");
        json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body too large: the limit is {MAX_REQUEST_BYTES} bytes (an export request is a few hundred)"
            ),
        )
    } else if r.find::<warp::reject::LengthRequired>().is_some() {
        json_error(StatusCode::LENGTH_REQUIRED, "a Content-Length header is required")
    } else {
        json_error(StatusCode::BAD_REQUEST, format!("bad request: {r:?}"))
    };
    Ok(reply)
}
