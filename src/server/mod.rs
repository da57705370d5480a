//! The HTTP server of `sk-tracer run`: probes, exports and the trace page. Thin: the logic lives
//! in the crates and in `crate::page`.

pub mod auth;
mod browser_login;
mod chunked;
mod contract;
pub mod export;
mod file_stamp;
pub(crate) mod listen;
mod metrics;
mod page;
mod probes;
mod reply;
pub mod tls;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use sk_core::export::ExportService;
use sk_core::tracer::Tracer;
use warp::Filter;

pub use auth::TokenStore;
pub use listen::serve;
pub use metrics::ServerMetrics;
pub use reply::json_error;

/// Larger export requests are malformed or hostile: a real one is a few hundred bytes.
pub const MAX_REQUEST_BYTES: u64 = 64 * 1024;

pub struct ServerState {
    pub tracer: Tracer,
    pub exports: Arc<ExportService>,
    pub metrics: ServerMetrics,
    /// With a token, every endpoint but the probes requires it; without, all are open.
    pub auth: Option<TokenStore>,
    pub role: crate::role::Role,
    /// `server.readinessGrace`: how long a tracked kind's watch may be down before `/readyz`
    /// says so.
    pub readiness_grace: std::time::Duration,
}

/// Whether a request carries the current token (every request does without auth): in its
/// `Authorization` header or, from a browser that logged in, in its cookie.
fn check(state: &ServerState, headers: &warp::http::HeaderMap) -> Result<(), auth::AuthFailure> {
    let Some(store) = &state.auth else { return Ok(()) };
    match headers.get(warp::http::header::AUTHORIZATION) {
        Some(value) => store.check(Some(value.as_bytes())),
        None => store.check(browser_login::bearer_from_cookie(headers).as_deref()),
    }
}

/// Passes requests that carry the current token (all of them without auth); refuses the others
/// before any of their work, body included, is done.
fn authorized(state: Arc<ServerState>) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::header::headers_cloned()
        .and(warp::any().map(move || state.clone()))
        .and_then(|headers: warp::http::HeaderMap, state: Arc<ServerState>| async move {
            check(&state, &headers).map_err(|failure| warp::reject::custom(reply::Refused(failure)))
        })
        .untuple_one()
}

/// `GET /`: the page, or for a browser without the token, the form that asks for it.
fn page_or_login(headers: warp::http::HeaderMap, state: Arc<ServerState>) -> warp::reply::Response {
    match check(&state, &headers) {
        Ok(()) => page::page(),
        Err(failure) => {
            if !matches!(failure, auth::AuthFailure::Missing) {
                state.metrics.count_refused(failure.reason());
            }
            browser_login::login_page(warp::http::StatusCode::UNAUTHORIZED, browser_login::problem(&failure))
        }
    }
}

/// The routes; [`serve`] serves them, sending export bodies in chunks (see `chunked`). `https`:
/// whether they are served over TLS (the login cookie is then marked `Secure`).
fn routes(
    state: Arc<ServerState>,
    https: bool,
) -> impl Filter<Extract = (impl warp::Reply,), Error = Infallible> + Clone {
    let with_state = {
        let state = state.clone();
        warp::any().map(move || state.clone())
    };
    // The probes stay open: the kubelet sends no token, and they tell nothing about the cluster.
    let healthz = warp::path!("healthz").and(warp::get()).map(probes::healthz);
    let readyz = warp::path!("readyz").and(warp::get()).and(with_state.clone()).map(probes::readyz);
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(authorized(state.clone()))
        .and(with_state.clone())
        .map(probes::metrics);
    let export = warp::path!("export")
        .and(warp::post())
        .and(authorized(state.clone()))
        .and(warp::header::optional::<String>("accept"))
        .and(warp::body::content_length_limit(MAX_REQUEST_BYTES))
        .and(warp::body::bytes())
        .and(with_state.clone())
        .then(export::handle);
    let page = warp::path::end()
        .and(warp::get())
        .and(warp::header::headers_cloned())
        .and(with_state.clone())
        .map(page_or_login);
    let login = warp::path!("login")
        .and(warp::post())
        .and(warp::body::content_length_limit(browser_login::MAX_FORM_BYTES))
        .and(warp::body::bytes())
        .and(with_state.clone())
        .map(move |body, state| browser_login::login(body, state, https));
    let window = warp::path!("api" / "window")
        .and(warp::get())
        .and(authorized(state.clone()))
        .and(warp::query::<HashMap<String, String>>())
        .and(with_state.clone())
        .then(page::window);
    let version = warp::path!("api" / "version")
        .and(warp::get())
        .and(authorized(state.clone()))
        .and(warp::query::<HashMap<String, String>>())
        .and(with_state)
        .then(page::version);
    healthz
        .or(readyz)
        .or(metrics)
        .or(export)
        .or(page)
        .or(login)
        .or(window)
        .or(version)
        .recover(move |r| reply::rejection(r, state.clone()))
}
