//! The trace: what a trace file holds, independent of its encoding.
//!
//! Formats (one module each) map this model to bytes: [`v1`] is the documented four-element array
//! and the default, [`simkube_v2`] the map SimKube reads; both write through `msgpack_write` and
//! read through `file_shapes`, and neither uses the other. [`decode`](mod@decode) recognises the
//! format of a file, reads it with the format's module, checks it (`consistency`) and reports
//! bad input clearly ([`TraceDecodeError`]).

pub mod chunks;
mod consistency;
pub mod decode;
mod decode_error;
mod field_bytes;
mod file_shapes;
pub mod gaps;
pub mod identity_ref;
pub mod lifecycles;
pub mod merge;
mod msgpack_write;
pub mod object;
pub mod simkube_v2;
pub mod summary;
pub mod v1;
pub mod view;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::gvk::Gvk;
use crate::tracer_config::TracerConfig;

pub use chunks::{ChunkWriter, TraceChunks, TraceSink};
pub use decode::{decode, decode_any};
pub use decode_error::TraceDecodeError;
pub use field_bytes::MetadataRef;
pub use gaps::Gap;
pub use identity_ref::IdentityRef;
pub use msgpack_write::EncodeError;
pub use object::{namespaced_name, EncodedObject, MetadataSpans, ObjectIdentity};
pub use view::TraceView;

/// The encodings of a trace file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum TraceFormat {
    /// The documented four-element array; the default.
    #[default]
    #[serde(rename = "v1")]
    V1,
    /// The map that current SimKube releases read.
    #[serde(rename = "simkube-v2")]
    SimkubeV2,
}

impl TraceFormat {
    pub fn name(self) -> &'static str {
        match self {
            TraceFormat::V1 => "v1",
            TraceFormat::SimkubeV2 => "simkube-v2",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Trace {
    pub config: TracerConfig,
    /// In time order; at most one event per second.
    pub events: Vec<TraceEvent>,
    /// The hash of every tracked object alive at the end of the trace.
    pub index: BTreeMap<TraceIdentity, u64>,
    /// Owner → pod hash → lifecycles in launch order.
    pub pod_lifecycles: BTreeMap<TraceIdentity, BTreeMap<u64, Vec<PodLifecycle>>>,
    /// Where the trace missed a kind's changes (see [`gaps`]), in order; empty for a complete
    /// trace.
    pub gaps: Vec<Gap>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceEvent {
    /// Unix seconds.
    pub ts: i64,
    pub applied_objs: Vec<EncodedObject>,
    pub deleted_objs: Vec<EncodedObject>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodLifecycle {
    /// Unix seconds: the earliest container start.
    pub start_ts: i64,
    /// Unix seconds: the latest container finish, or `None` while the pod runs.
    pub end_ts: Option<i64>,
}

impl PodLifecycle {
    /// A newer observation merged into this recorded lifecycle: values only move forward. The
    /// start never changes once known (a restart does not rewrite it), and an end, once set, only
    /// moves later.
    pub fn advanced(self, observed: PodLifecycle) -> PodLifecycle {
        let end_ts = match (self.end_ts, observed.end_ts) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        PodLifecycle { start_ts: self.start_ts, end_ts }
    }
}

/// An object's identity as a trace names it, in the index and the lifecycle table. The v1 format keys both by
/// namespaced name alone, so a v1 file yields a `gvk` only where its events name the kind
/// unambiguously.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TraceIdentity {
    pub gvk: Option<Gvk>,
    /// `ns/name`, or `name` for a cluster-scoped object.
    pub name: String,
}

impl TraceEvent {
    /// The event as JSON, as the formats' JSON views show it.
    pub fn to_json(&self) -> Result<serde_json::Value, rmp_serde::decode::Error> {
        let objs = |list: &[EncodedObject]| list.iter().map(EncodedObject::to_json).collect::<Result<Vec<_>, _>>();
        Ok(serde_json::json!({
            "ts": self.ts, "applied_objs": objs(&self.applied_objs)?, "deleted_objs": objs(&self.deleted_objs)?,
        }))
    }
}

impl TraceIdentity {
    pub fn new(gvk: Gvk, name: impl Into<String>) -> Self {
        TraceIdentity { gvk: Some(gvk), name: name.into() }
    }
}

impl Trace {
    /// First and last event timestamps.
    pub fn time_span(&self) -> Option<(i64, i64)> {
        Some((self.events.first()?.ts, self.events.last()?.ts))
    }
}
