//! Exports: what a request asks for, the filters it names, and cutting the trace it gets.
//!
//! The window semantics live in [`crate::store::Snapshot::window`]; filters are plugins, one file
//! each in the plugins crate, registered with `inventory::submit!` and named by the request's
//! `filters` keys.

mod filter;
mod request;

pub use filter::{build_filters, AllOf, BoxedFilter, FilterPlugin};
pub use request::{ExportRequest, ExportRequestError, TraceFormat};

use crate::store::{Snapshot, Window};
use crate::trace::{simkube_v2, v1, Trace};
use crate::tracer_config::TracerConfig;

/// An encoded export and what it holds.
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub events: usize,
    pub objects: usize,
}

/// Cuts the requested window out of a snapshot, applies the filters and encodes it.
pub fn export(
    snapshot: &Snapshot,
    config: &TracerConfig,
    request: &ExportRequest,
    filters: &AllOf,
) -> Result<Encoded, ExportRequestError> {
    let trace = snapshot
        .window(config, Window { start: request.start_ts, end: request.end_ts }, filters)
        .map_err(|e| ExportRequestError::Invalid(e.to_string()))?;
    Ok(encode(&trace, request.format))
}

pub fn encode(trace: &Trace, format: TraceFormat) -> Encoded {
    let bytes = match format {
        TraceFormat::V1 => v1::encode_to_vec(trace),
        TraceFormat::SimkubeV2 => simkube_v2::encode_to_vec(trace),
    };
    Encoded {
        bytes,
        events: trace.events.len(),
        objects: trace.events.iter().map(|e| e.applied_objs.len() + e.deleted_objs.len()).sum(),
    }
}
