//! Sources: watches on the apiserver that turn what happens into [`Change`]s. They know nothing
//! of the store; the ingest loop decides what to record.
//!
//! Each watched kind is resolved through discovery and listed and watched by [`lean_watch`]
//! (re-list on 410 Gone, resume from the last resource version; retries as [`backoff`] says:
//! within a second when the apiserver cannot be reached, slower when it refuses). A kind that is
//! not installed yet, or that the tracer may not read, is reported in [`SourceHealth`] and
//! retried; the other kinds keep working. A re-list that replaces a watch is reported as a
//! [`ChangeKind::Gap`] (see [`GapTracker`]).

pub mod backoff;
mod gap_tracker;
mod health;
mod kind_watch;
pub mod lean_watch;
mod object_times;
mod raw_object;

pub use gap_tracker::GapTracker;
pub use health::{KindState, NotReady, SourceHealth, DEFAULT_READINESS_GRACE};
pub use kind_watch::{object_json, spawn_kind_watch, WatchMode};
pub use object_times::{unix_seconds, ObjectTimes};
pub use raw_object::{Fields, RawObject};

use crate::gvk::Gvk;
use crate::ownership::KnownOwner;

/// What a source saw, stamped with the time it saw it. When it happened is the ingest loop's to
/// work out (`crate::tracer::EventClock`), from what the object says ([`Payload::times`]).
#[derive(Debug)]
pub struct Change {
    pub gvk: Gvk,
    /// Unix seconds when the source received it.
    pub at: i64,
    pub kind: ChangeKind,
}

#[derive(Debug)]
pub enum ChangeKind {
    Applied(Payload),
    Deleted(Payload),
    /// A (re-)list starts: `Relisted` follows for every object that exists, then `RelistDone`.
    /// Whatever the trace holds that the list does not show was deleted while nobody watched.
    RelistStarted,
    Relisted(Payload),
    RelistDone,
    /// Follows a `RelistDone` that replaced a watch: the changes between `from` and the change's
    /// `at` were not seen one by one, only their outcome in the list.
    Gap {
        from: i64,
    },
}

#[derive(Debug)]
pub enum Payload {
    /// The whole object, as JSON (tracked kinds and pods).
    Object(serde_json::Value),
    /// The whole object as the apiserver sent it, decoded only as far as the ingest loop needs
    /// (tracked kinds and pods, from the watches).
    Raw(Box<RawObject>),
    /// Only what owner resolution needs (intermediate owner kinds).
    Meta { uid: String, info: KnownOwner },
}

impl Payload {
    /// When the object says it changed; nothing for an owner known by its metadata only.
    pub fn times(&self) -> ObjectTimes {
        match self {
            Payload::Object(obj) => ObjectTimes::of_json(obj),
            Payload::Raw(raw) => raw.times,
            Payload::Meta { .. } => ObjectTimes::default(),
        }
    }

    /// The object's namespace; empty for a cluster-scoped one.
    pub fn namespace(&self) -> &str {
        match self {
            Payload::Object(obj) => obj.pointer("/metadata/namespace").and_then(|v| v.as_str()).unwrap_or(""),
            Payload::Raw(raw) => raw.metadata.namespace.as_deref().unwrap_or(""),
            Payload::Meta { info, .. } => info.namespace.as_str(),
        }
    }
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}
