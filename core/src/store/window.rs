//! Cutting a window `[start, end)` out of a snapshot, as an export does.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::{Snapshot, StoredObject};
use crate::trace::{EncodedObject, ObjectIdentity, PodLifecycle, Trace, TraceEvent, TrackedKey};
use crate::tracer_config::TracerConfig;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Unix seconds, inclusive.
    pub start: i64,
    /// Unix seconds, exclusive.
    pub end: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WindowError {
    #[error("the window is empty: end_ts {end} must be after start_ts {start}")]
    Empty { start: i64, end: i64 },
}

/// Which objects a window keeps; the export filters implement it.
pub trait ObjectFilter {
    fn keep(&self, obj: &StoredObject) -> bool;
}

/// Keeps everything.
pub struct KeepAll;

impl ObjectFilter for KeepAll {
    fn keep(&self, _: &StoredObject) -> bool {
        true
    }
}

/// The identity-only form in which a deletion is recorded.
pub fn deletion_record(id: &ObjectIdentity) -> EncodedObject {
    let mut meta = serde_json::Map::new();
    if !id.namespace.is_empty() {
        meta.insert("namespace".into(), id.namespace.clone().into());
    }
    meta.insert("name".into(), id.name.clone().into());
    EncodedObject::from_json(&serde_json::json!({
        "apiVersion": id.gvk.api_version(), "kind": id.gvk.kind, "metadata": meta,
    }))
}

impl Snapshot {
    /// The trace of `[start, end)`: a first event at `start` applying every object alive then
    /// (changes at exactly `start` included), then the recorded events inside the window. The index
    /// holds every exported object with the hash of its last exported version. Lifecycles are those
    /// of exported owners that overlap the window: a start before the window is clipped to
    /// `start`, and an end at or after `end` is not yet known inside the window, so it is left
    /// open. A window reaching back before the retained history begins at the retention boundary.
    pub fn window(&self, config: &TracerConfig, w: Window, filter: &dyn ObjectFilter) -> Result<Trace, WindowError> {
        if w.end <= w.start {
            return Err(WindowError::Empty { start: w.start, end: w.end });
        }
        let start = w.start.max(self.base_ts.unwrap_or(i64::MIN));
        let mut events_in = self.events().take_while(|ev| ev.ts < w.end).peekable();

        // Phase 1: the state at `start`.
        let mut alive: BTreeMap<Arc<ObjectIdentity>, &StoredObject> =
            self.base.iter().map(|(k, v)| (k.clone(), v)).collect();
        while let Some(ev) = events_in.next_if(|ev| ev.ts <= start) {
            for obj in &ev.applied {
                alive.insert(obj.id.clone(), obj);
            }
            for id in &ev.deleted {
                alive.remove(id);
            }
        }

        // An object's first exported version decides whether the filters keep it; its later
        // versions and its deletion follow that verdict, since a deletion carries no labels.
        let mut kept = Verdicts { filter, by_id: HashMap::new() };
        let mut index_hash: BTreeMap<Arc<ObjectIdentity>, u64> = BTreeMap::new();
        let mut first = TraceEvent { ts: start, ..Default::default() };
        for (id, obj) in &alive {
            if kept.keep(obj) {
                first.applied_objs.push(obj.obj.clone());
                index_hash.insert(id.clone(), obj.hash);
            }
        }
        let mut events = vec![first];

        // Phase 2: the changes inside the window.
        for ev in events_in {
            let mut out = TraceEvent { ts: ev.ts, ..Default::default() };
            for obj in &ev.applied {
                if kept.keep(obj) {
                    out.applied_objs.push(obj.obj.clone());
                    index_hash.insert(obj.id.clone(), obj.hash);
                }
            }
            for id in &ev.deleted {
                if kept.was_kept(id) {
                    out.deleted_objs.push(deletion_record(id));
                }
            }
            if !out.applied_objs.is_empty() || !out.deleted_objs.is_empty() {
                events.push(out);
            }
        }
        let tracked = |id: &ObjectIdentity| TrackedKey::new(id.gvk.clone(), id.namespaced_name());
        let index: BTreeMap<TrackedKey, u64> = index_hash.iter().map(|(id, h)| (tracked(id), *h)).collect();
        let pod_lifecycles = self
            .lifecycles
            .iter()
            .filter(|(owner, _)| index.contains_key(*owner))
            .filter_map(|(owner, by_hash)| {
                let by_hash: BTreeMap<u64, Vec<PodLifecycle>> = by_hash
                    .iter()
                    .filter_map(|(h, lcs)| {
                        let clipped: Vec<_> = lcs.iter().filter_map(|lc| clip(*lc, start, w.end)).collect();
                        (!clipped.is_empty()).then_some((*h, clipped))
                    })
                    .collect();
                (!by_hash.is_empty()).then(|| (owner.clone(), by_hash))
            })
            .collect();
        Ok(Trace { config: config.clone(), events, index, pod_lifecycles })
    }
}

struct Verdicts<'a> {
    filter: &'a dyn ObjectFilter,
    by_id: HashMap<Arc<ObjectIdentity>, bool>,
}

impl Verdicts<'_> {
    fn keep(&mut self, o: &StoredObject) -> bool {
        *self.by_id.entry(o.id.clone()).or_insert_with(|| self.filter.keep(o))
    }

    fn was_kept(&self, id: &ObjectIdentity) -> bool {
        self.by_id.get(id) == Some(&true)
    }
}

fn clip(lc: PodLifecycle, start: i64, end: i64) -> Option<PodLifecycle> {
    if lc.start_ts >= end || lc.end_ts.is_some_and(|e| e < start) {
        return None;
    }
    Some(PodLifecycle { start_ts: lc.start_ts.max(start), end_ts: lc.end_ts.filter(|e| *e < end) })
}
