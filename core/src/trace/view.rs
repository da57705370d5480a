//! A trace borrowed from where it is held: a window of the store's snapshot, or a [`Trace`]. The
//! v1 encoder writes from it, so an export writes the store's objects and lifecycles as they are,
//! with no trace of its own built first.

use std::collections::BTreeMap;

pub use super::identity_ref::IdentityRef;
use super::lifecycles::{Launches, OwnerLifecycles};
use super::object::deletion_record;
use super::{EncodedObject, Gap, ObjectIdentity, PodLifecycle, Trace, TraceEvent};
use crate::tracer_config::TracerConfig;

pub struct TraceView<'a> {
    pub config: &'a TracerConfig,
    /// In time order.
    pub events: Vec<EventView<'a>>,
    /// In key order ([`IdentityRef::cmp_key`]), one entry per key.
    pub index: Vec<(IdentityRef<'a>, u64)>,
    /// In key order, one entry per key; one clipped to nothing is left out by those who read it.
    pub pod_lifecycles: Vec<(IdentityRef<'a>, LifecyclesRef<'a>)>,
    /// In order; clipped to the window where the view is one.
    pub gaps: Vec<Gap>,
}

pub struct EventView<'a> {
    pub ts: i64,
    pub applied: Vec<&'a EncodedObject>,
    pub deleted: Vec<Deleted<'a>>,
}

impl<'a> EventView<'a> {
    pub fn of(event: &'a TraceEvent) -> Self {
        EventView {
            ts: event.ts,
            applied: event.applied_objs.iter().collect(),
            deleted: event.deleted_objs.iter().map(Deleted::Record).collect(),
        }
    }
}

/// A deletion, as a trace file records it or as the store does (by identity alone).
#[derive(Clone, Copy)]
pub enum Deleted<'a> {
    Record(&'a EncodedObject),
    Of(&'a ObjectIdentity),
}

impl Deleted<'_> {
    pub fn to_record(self) -> EncodedObject {
        match self {
            Deleted::Record(obj) => obj.clone(),
            Deleted::Of(id) => deletion_record(id),
        }
    }
}

/// One owner's lifecycles by pod hash.
#[derive(Clone, Copy)]
pub enum LifecyclesRef<'a> {
    /// As a [`Trace`] holds them, written as they are.
    Held(&'a BTreeMap<u64, Vec<PodLifecycle>>),
    /// As the store holds them, clipped to the window `[start, end)` as they are read. A hash
    /// left without a lifecycle in the window is left out, and an owner left without any too.
    Clipped { of: &'a OwnerLifecycles, start: i64, end: i64 },
}

impl LifecyclesRef<'_> {
    /// Whether a hash or an owner without lifecycles is kept (as a trace holds it) rather than
    /// left out (as clipping left it).
    pub fn keeps_empty(&self) -> bool {
        matches!(self, LifecyclesRef::Held(_))
    }

    /// The number of lifecycles before clipping.
    pub fn unclipped_len(&self) -> usize {
        match self {
            LifecyclesRef::Held(map) => map.values().map(Vec::len).sum(),
            LifecyclesRef::Clipped { of, .. } => of.len(),
        }
    }

    /// Calls `f` with each pod hash in ascending order and its lifecycles in launch order; once
    /// clipped, a hash may have none.
    pub fn for_each(&self, mut f: impl FnMut(u64, HashLifecycles<'_>)) {
        match *self {
            LifecyclesRef::Held(map) => {
                for (hash, lcs) in map {
                    f(*hash, HashLifecycles::Held(lcs.iter()));
                }
            }
            LifecyclesRef::Clipped { of, start, end } => {
                for (hash, launches) in of.by_hash() {
                    f(hash, HashLifecycles::Clipped { launches, start, end });
                }
            }
        }
    }

    /// The lifecycles as a map, without the hashes that clipping left empty.
    pub fn to_map(self) -> BTreeMap<u64, Vec<PodLifecycle>> {
        let mut out = BTreeMap::new();
        self.for_each(|hash, lcs| {
            let lcs: Vec<_> = lcs.collect();
            if !lcs.is_empty() || self.keeps_empty() {
                out.insert(hash, lcs);
            }
        });
        out
    }
}

/// One pod hash's lifecycles in launch order, as a [`LifecyclesRef`] holds them: a concrete
/// type rather than a boxed iterator, since an export reads every lifecycle through it.
#[derive(Clone, Debug)]
pub enum HashLifecycles<'a> {
    Held(std::slice::Iter<'a, PodLifecycle>),
    Clipped { launches: Launches<'a>, start: i64, end: i64 },
}

impl Iterator for HashLifecycles<'_> {
    type Item = PodLifecycle;

    fn next(&mut self) -> Option<PodLifecycle> {
        match self {
            HashLifecycles::Held(lcs) => lcs.next().copied(),
            HashLifecycles::Clipped { launches, start, end } => launches.find_map(|lc| clip(lc, *start, *end)),
        }
    }
}

/// A lifecycle clipped to a window: a start before it moves to its start, and an end at or after
/// its end is not yet known inside it, so it is left open. `None` if it lies wholly outside.
fn clip(lc: PodLifecycle, start: i64, end: i64) -> Option<PodLifecycle> {
    let overlaps = lc.start_ts < end && lc.end_ts.is_none_or(|e| e >= start);
    overlaps.then(|| PodLifecycle { start_ts: lc.start_ts.max(start), end_ts: lc.end_ts.filter(|e| *e < end) })
}

impl<'a> TraceView<'a> {
    pub fn of(trace: &'a Trace) -> Self {
        let events = trace.events.iter().map(EventView::of).collect();
        let mut index: Vec<_> = trace.index.iter().map(|(k, h)| (IdentityRef::of_trace(k), *h)).collect();
        index.sort_unstable_by(|a, b| a.0.cmp_key(&b.0));
        let mut pod_lifecycles: Vec<_> =
            trace.pod_lifecycles.iter().map(|(k, l)| (IdentityRef::of_trace(k), LifecyclesRef::Held(l))).collect();
        pod_lifecycles.sort_unstable_by(|a, b| a.0.cmp_key(&b.0));
        TraceView { config: &trace.config, events, index, pod_lifecycles, gaps: trace.gaps.clone() }
    }

    /// The trace as an owned [`Trace`], for the encoders and tools that read one.
    pub fn to_trace(&self) -> Trace {
        Trace {
            config: self.config.clone(),
            events: self
                .events
                .iter()
                .map(|e| TraceEvent {
                    ts: e.ts,
                    applied_objs: e.applied.iter().map(|o| (*o).clone()).collect(),
                    deleted_objs: e.deleted.iter().map(|d| d.to_record()).collect(),
                })
                .collect(),
            index: self.index.iter().map(|(k, h)| (k.to_trace_identity(), *h)).collect(),
            pod_lifecycles: self
                .pod_lifecycles
                .iter()
                .filter_map(|(k, l)| {
                    let map = l.to_map();
                    (l.keeps_empty() || !map.is_empty()).then(|| (k.to_trace_identity(), map))
                })
                .collect(),
            gaps: self.gaps.clone(),
        }
    }

    /// Objects applied and deleted, over all events.
    pub fn objects(&self) -> usize {
        self.events.iter().map(|e| e.applied.len() + e.deleted.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_moves_early_starts_and_opens_late_ends() {
        let lcs = [
            PodLifecycle { start_ts: 0, end_ts: Some(5) },
            PodLifecycle { start_ts: 5, end_ts: Some(12) },
            PodLifecycle { start_ts: 12, end_ts: Some(20) },
            PodLifecycle { start_ts: 15, end_ts: None },
            PodLifecycle { start_ts: 20, end_ts: None },
        ];
        let clipped: Vec<_> = lcs.iter().filter_map(|lc| clip(*lc, 10, 20)).collect();
        assert_eq!(
            clipped,
            [
                PodLifecycle { start_ts: 10, end_ts: Some(12) },
                PodLifecycle { start_ts: 12, end_ts: None },
                PodLifecycle { start_ts: 15, end_ts: None },
            ]
        );
    }
}
