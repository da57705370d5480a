//! Replies: JSON errors `{"error": "..."}` for every failure, rejections included.

use std::convert::Infallible;

use warp::http::StatusCode;
use warp::reply::{json, with_status, Response};
use warp::Reply;

pub fn json_error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    with_status(json(&serde_json::json!({ "error": message.to_string() })), status).into_response()
}

pub async fn rejection(r: warp::Rejection) -> Result<Response, Infallible> {
    let reply = if r.is_not_found() {
        json_error(StatusCode::NOT_FOUND, "no such endpoint (try POST /export, GET /healthz, GET /readyz)")
    } else if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        json_error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed for this endpoint")
    } else if r.find::<warp::reject::PayloadTooLarge>().is_some() {
        json_error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
    } else if r.find::<warp::reject::LengthRequired>().is_some() {
        json_error(StatusCode::LENGTH_REQUIRED, "a Content-Length header is required")
    } else {
        json_error(StatusCode::BAD_REQUEST, format!("bad request: {r:?}"))
    };
    Ok(reply)
}
