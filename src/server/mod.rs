//! The HTTP server of `sk-tracer run`: probes and exports. Thin: the logic lives in the crates.

pub mod export;
mod metrics;
mod probes;
mod reply;

use std::convert::Infallible;
use std::sync::Arc;

use sk_core::tracer::Tracer;
use sk_exporters::ExporterSettings;
use warp::Filter;

pub use metrics::ServerMetrics;
pub use reply::json_error;

/// Larger export requests are malformed or hostile: a real one is a few hundred bytes.
const MAX_REQUEST_BYTES: u64 = 64 * 1024;

pub struct ServerState {
    pub tracer: Tracer,
    pub exporters: ExporterSettings,
    /// Filters from the config, applied to every export.
    pub export_filters: serde_json::Map<String, serde_json::Value>,
    pub metrics: ServerMetrics,
}

pub fn routes(state: Arc<ServerState>) -> impl Filter<Extract = (impl warp::Reply,), Error = Infallible> + Clone {
    let with_state = warp::any().map(move || state.clone());
    let healthz = warp::path!("healthz").and(warp::get()).map(probes::healthz);
    let readyz = warp::path!("readyz").and(warp::get()).and(with_state.clone()).map(probes::readyz);
    let metrics = warp::path!("metrics").and(warp::get()).and(with_state.clone()).map(probes::metrics);
    let export = warp::path!("export")
        .and(warp::post())
        .and(warp::body::content_length_limit(MAX_REQUEST_BYTES))
        .and(warp::body::bytes())
        .and(with_state)
        .then(export::handle);
    healthz.or(readyz).or(metrics).or(export).recover(reply::rejection)
}
