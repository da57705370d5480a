//! Cutting a window `[start, end)` out of a snapshot, as an export does.

use std::collections::{BTreeMap, HashMap};

use super::{OwnerLifecycles, Snapshot, StoredObject};
use crate::gvk::Gvk;
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

/// Maps keyed by identities of the snapshot: a fast hash seeded per process, since the keys are
/// names that cluster users choose.
type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

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

        // Phase 1: the state at `start`, in identity order (the base is already in it).
        let mut alive: BTreeMap<&ObjectIdentity, &StoredObject> = self.base.iter().map(|(k, v)| (&**k, v)).collect();
        while let Some(ev) = events_in.next_if(|ev| ev.ts <= start) {
            for obj in &ev.applied {
                alive.insert(&obj.id, obj);
            }
            for id in &ev.deleted {
                alive.remove(&**id);
            }
        }

        // An object's first exported version decides whether the filters keep it; its later
        // versions and its deletion follow that verdict, since a deletion carries no labels.
        let mut exported = Exported { filter, by_id: FastMap::default() };
        let mut first = TraceEvent { ts: start, ..Default::default() };
        for obj in alive.into_values() {
            if exported.keep(obj) {
                first.applied_objs.push(obj.obj.clone());
            }
        }
        let mut events = vec![first];

        // Phase 2: the changes inside the window.
        for ev in events_in {
            let mut out = TraceEvent { ts: ev.ts, ..Default::default() };
            for obj in &ev.applied {
                if exported.keep(obj) {
                    out.applied_objs.push(obj.obj.clone());
                }
            }
            for id in &ev.deleted {
                if exported.was_kept(id) {
                    out.deleted_objs.push(deletion_record(id));
                }
            }
            if !out.applied_objs.is_empty() || !out.deleted_objs.is_empty() {
                events.push(out);
            }
        }

        // Phase 3: the index, and the lifecycles of the owners in it. Kinds are few: ranked once,
        // so that sorting compares a number and a name rather than four strings.
        let mut kinds: Vec<&Gvk> = Vec::new();
        let mut entries: Vec<(usize, String, &ObjectIdentity, u64)> = Vec::with_capacity(exported.by_id.len());
        for (id, verdict) in &exported.by_id {
            let Some(hash) = verdict.last_hash else { continue };
            let kind = match kinds.iter().position(|k| **k == id.gvk) {
                Some(k) => k,
                None => {
                    kinds.push(&id.gvk);
                    kinds.len() - 1
                }
            };
            entries.push((kind, id.namespaced_name(), id, hash));
        }
        let mut rank: Vec<usize> = (0..kinds.len()).collect();
        rank.sort_unstable_by(|a, b| kinds[*a].cmp(kinds[*b]));
        let mut rank_of = vec![0; kinds.len()];
        for (r, k) in rank.into_iter().enumerate() {
            rank_of[k] = r;
        }
        entries.sort_unstable_by(|a, b| (rank_of[a.0], &a.1).cmp(&(rank_of[b.0], &b.1)));

        let owners: FastMap<&TrackedKey, &OwnerLifecycles> =
            self.lifecycles.iter().map(|(owner, by_hash)| (&**owner, &**by_hash)).collect();
        let mut index = Vec::with_capacity(entries.len());
        let mut pod_lifecycles = Vec::new();
        for (_, name, id, hash) in entries {
            let key = TrackedKey::new(id.gvk.clone(), name);
            if let Some(by_hash) = owners.get(&key).and_then(|by_hash| clipped(by_hash, start, w.end)) {
                pod_lifecycles.push((key.clone(), by_hash));
            }
            index.push((key, hash));
        }
        // In key order already: the maps are built in one pass.
        Ok(Trace {
            config: config.clone(),
            events,
            index: index.into_iter().collect(),
            pod_lifecycles: pod_lifecycles.into_iter().collect(),
        })
    }
}

/// An owner's lifecycles that overlap the window, clipped to it; `None` if none does.
fn clipped(by_hash: &OwnerLifecycles, start: i64, end: i64) -> Option<BTreeMap<u64, Vec<PodLifecycle>>> {
    let out: BTreeMap<u64, Vec<PodLifecycle>> = by_hash
        .by_hash()
        .filter_map(|(h, lcs)| {
            let clipped: Vec<_> = lcs.filter_map(|lc| clip(lc, start, end)).collect();
            (!clipped.is_empty()).then_some((h, clipped))
        })
        .collect();
    (!out.is_empty()).then_some(out)
}

/// Each object seen in the window: whether the filters keep it, and the hash of its last exported
/// version (the index's entry).
struct Verdict {
    keep: bool,
    last_hash: Option<u64>,
}

struct Exported<'a, 'f> {
    filter: &'f dyn ObjectFilter,
    by_id: FastMap<&'a ObjectIdentity, Verdict>,
}

impl<'a> Exported<'a, '_> {
    /// Whether `o` is exported; if so, it is the latest exported version of its object.
    fn keep(&mut self, o: &'a StoredObject) -> bool {
        let v = self.by_id.entry(&o.id).or_insert_with(|| Verdict { keep: self.filter.keep(o), last_hash: None });
        if v.keep {
            v.last_hash = Some(o.hash);
        }
        v.keep
    }

    fn was_kept(&self, id: &ObjectIdentity) -> bool {
        self.by_id.get(id).is_some_and(|v| v.keep)
    }
}

fn clip(lc: PodLifecycle, start: i64, end: i64) -> Option<PodLifecycle> {
    if lc.start_ts >= end || lc.end_ts.is_some_and(|e| e < start) {
        return None;
    }
    Some(PodLifecycle { start_ts: lc.start_ts.max(start), end_ts: lc.end_ts.filter(|e| *e < end) })
}
