//! Exports, from request to delivery: what a request asks for ([`request`]), the filters it names
//! ([`filter`]), cutting and encoding the window, the bound on exports in progress ([`limit`]),
//! and delivery through an exporter ([`deliver`]); [`ExportService`] runs them in that order.
//!
//! The window semantics live in [`window`] (`Snapshot::cut`); filters are plugins, one file
//! each in the plugins crate, registered with `inventory::submit!` and named by the request's
//! `filters` keys; exporters are plugins of the exporters crate.

pub mod deliver;
mod filter;
pub mod limit;
mod request;
mod service;
mod window;
#[cfg(test)]
mod window_model;

pub use crate::object_filter::{Candidate, KeepAll, ObjectFilter};
pub use deliver::{Delivered, Destinations, ExportError, Exporter};
pub use filter::{build_filters, AllOf, BoxedFilter, FilterPlugin};
pub use limit::ExportLimiter;
pub use request::{ExportRequest, ExportRequestError, TraceFormat};
pub use service::{ExportFailure, ExportService, Performed};
pub use window::{Window, WindowError};

use crate::store::Snapshot;
use crate::trace::{simkube_v2, v1, Trace, TraceChunks, TraceView};
use crate::tracer_config::TracerConfig;

/// An encoded export and what it holds.
pub struct Encoded {
    /// The trace, in chunks that share the stored objects' bytes.
    pub trace: TraceChunks,
    pub events: usize,
    pub objects: usize,
}

/// Cuts the requested window out of a snapshot, applies the transform and the filters, and
/// encodes it.
pub fn export(
    snapshot: &Snapshot,
    config: &TracerConfig,
    request: &ExportRequest,
    filters: &AllOf,
) -> Result<Encoded, ExportRequestError> {
    let window = request.window()?;
    let Some(program) = request.program()? else {
        return Ok(encode_view(&snapshot.cut(config, window, filters), request.format()));
    };
    // The transform comes before the filters, so the window is cut whole and filtered after it.
    let mut trace = snapshot.cut(config, window, &KeepAll).to_trace();
    crate::transform::transform(&mut trace, &program, request.start_ts, filters, |_| {})
        .map_err(|e| ExportRequestError::Invalid(format!("transform: {e}")))?;
    Ok(encode(&trace, request.format()))
}

/// Encodes a view in either format, each written straight from it: the chunks share the stored
/// objects rather than copying them.
pub fn encode_view(view: &TraceView<'_>, format: TraceFormat) -> Encoded {
    let trace = match format {
        TraceFormat::V1 => v1::encode_to_chunks(view),
        TraceFormat::SimkubeV2 => simkube_v2::encode_to_chunks(view),
    };
    Encoded { trace, events: view.events.len(), objects: view.objects() }
}

pub fn encode(trace: &Trace, format: TraceFormat) -> Encoded {
    encode_view(&TraceView::of(trace), format)
}
