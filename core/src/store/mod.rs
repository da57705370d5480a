//! The store: the in-memory trace.
//!
//! Events are kept in time order, one per second at most, each holding the net change of its
//! second. A change goes into the event of its own second, also when that second is older than
//! the newest event (watches of different kinds deliver late relative to each other), but never
//! before the object's previous recorded change: one object's versions keep their order. A change
//! older than the retained history goes into the base state. Objects are held encoded (shared msgpack bytes), with their identity and stable hash.
//! Identities are interned: every version and deletion of one object shares one allocation, so an
//! export tells objects apart by address without reading their names.
//! Sealed chunks of events are immutable and shared, so a snapshot for export copies a few
//! pointers and ingest never waits for an export. Retention folds the oldest events into a base
//! state, so a later export still knows every object alive at its start.
//!
//! The store keeps recorded state only: what a window of it looks like is the export's
//! (`crate::export`), and the lifecycle table's type is the trace model's
//! (`crate::trace::lifecycles`).

mod checkpoint;
mod timeline;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::gvk::Gvk;
use crate::trace::{EncodedObject, Gap, MetadataRef, MetadataSpans, ObjectIdentity, PodLifecycle, TraceIdentity};

pub use crate::trace::lifecycles::{Launches, Lifecycles, OwnerLifecycles, SharedLifecycles, SharedOwner};
pub use checkpoint::{verify as verify_checkpoint, CheckpointError, CheckpointState};

/// Events per sealed chunk: small enough that a snapshot copies little of the open chunk, large
/// enough that the chunk list stays short.
const CHUNK_EVENTS: usize = 256;

#[derive(Clone, Debug, PartialEq)]
pub struct StoredObject {
    pub id: Arc<ObjectIdentity>,
    pub obj: EncodedObject,
    pub hash: u64,
    /// Where the filters find `obj`'s labels and owner references.
    meta: MetadataSpans,
}

impl StoredObject {
    pub fn new(id: Arc<ObjectIdentity>, obj: EncodedObject, hash: u64) -> Self {
        StoredObject { meta: MetadataSpans::of(&obj), id, obj, hash }
    }

    /// The labels and owner references of the object, borrowed from its bytes.
    pub fn metadata(&self) -> MetadataRef<'_> {
        self.meta.resolve(&self.obj)
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoredEvent {
    pub ts: i64,
    pub applied: Vec<StoredObject>,
    pub deleted: Vec<Arc<ObjectIdentity>>,
}

impl StoredEvent {
    fn bytes(&self) -> usize {
        self.applied.iter().map(|o| o.obj.as_bytes().len()).sum()
    }
}

/// How much of the past the store keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    pub max_age_secs: i64,
    pub max_bytes: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub events: usize,
    pub object_versions: usize,
    pub live_objects: usize,
    /// Encoded bytes held by events and the base state.
    pub bytes: u64,
    pub evicted_events: u64,
    /// Start of the retained history: nothing before it can be exported.
    pub base_ts: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
struct Live {
    hash: u64,
    obj: StoredObject,
    /// The second of its latest recorded change: a later change is never placed before it.
    last: i64,
    /// Whether it did not exist before that second (created in it).
    new_in_last: bool,
}

/// A deleted object: the second of its deletion, and whether that second's event records it
/// (it does not when the object was also created in that second).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Gone {
    ts: i64,
    recorded: bool,
}

#[derive(Default)]
struct State {
    sealed: VecDeque<Arc<[StoredEvent]>>,
    /// Events of the first sealed chunk already folded into the base state.
    sealed_skip: usize,
    open: Vec<StoredEvent>,
    /// Where each object lies in the newest event's `applied`, to keep one entry per object per
    /// event without searching the event, which can hold thousands of objects in a busy second.
    latest_at: HashMap<Arc<ObjectIdentity>, usize>,
    live: HashMap<Arc<ObjectIdentity>, Live>,
    /// Objects deleted since the base state's time, for the second of their deletion.
    gone: HashMap<Arc<ObjectIdentity>, Gone>,
    /// Every identity some event, the base state or a snapshot still refers to: an object deleted
    /// and recreated gets its identity back, so that one object never has two.
    ids: HashSet<Arc<ObjectIdentity>>,
    /// The size at which `ids` is next swept of identities nothing else refers to.
    ids_sweep_at: usize,
    base: Arc<BTreeMap<Arc<ObjectIdentity>, StoredObject>>,
    base_ts: Option<i64>,
    lifecycles: Lifecycles,
    /// Where a kind's changes were not seen one by one, in the order they were recorded.
    gaps: Vec<Gap>,
    bytes: u64,
    base_bytes: u64,
    events: usize,
    versions: usize,
    evicted: u64,
}

/// The trace being recorded. Cheap to share: every method takes `&self` and holds the lock only
/// for in-memory bookkeeping.
#[derive(Default)]
pub struct Store {
    state: Mutex<State>,
}

/// A consistent view of the store at one moment, independent of later ingest.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub base: Arc<BTreeMap<Arc<ObjectIdentity>, StoredObject>>,
    pub base_ts: Option<i64>,
    chunks: Vec<Arc<[StoredEvent]>>,
    first_skip: usize,
    open: Vec<StoredEvent>,
    pub(crate) lifecycles: SharedLifecycles,
    /// At least the number of distinct objects the snapshot holds.
    pub(crate) identities: usize,
    /// The object versions it holds, base included.
    versions: usize,
    /// In order.
    pub gaps: Vec<Gap>,
}

impl Snapshot {
    pub fn events(&self) -> impl Iterator<Item = &StoredEvent> {
        let mut chunks = self.chunks.iter();
        let first = chunks.next().map(|c| &c[self.first_skip.min(c.len())..]).into_iter().flatten();
        first.chain(chunks.flat_map(|c| c.iter())).chain(self.open.iter())
    }

    /// The object versions the snapshot holds: an upper bound on what any window of it exports.
    pub fn versions(&self) -> usize {
        self.versions
    }

    /// Every owner's lifecycles by pod hash, in launch order.
    pub fn lifecycles(&self) -> BTreeMap<TraceIdentity, BTreeMap<u64, Vec<PodLifecycle>>> {
        crate::trace::lifecycles::table(&self.lifecycles)
    }
}

/// The fewest identities at which their set is swept.
const IDS_SWEEP_MIN: usize = 1024;

impl State {
    /// The one shared identity equal to `id`.
    fn intern(&mut self, id: ObjectIdentity) -> Arc<ObjectIdentity> {
        if let Some(shared) = self.ids.get(&id) {
            return shared.clone();
        }
        if self.ids.len() >= self.ids_sweep_at {
            self.sweep_ids();
        }
        let shared = Arc::new(id);
        self.ids.insert(shared.clone());
        shared
    }

    /// Forgets identities that only the set still holds. No other reference can appear meanwhile:
    /// every other holder got its reference from the store, under the lock held here. Swept again
    /// once the set has doubled, so the sweeps cost O(1) per identity.
    fn sweep_ids(&mut self) {
        // An object created and deleted within one second left no event behind: nothing of it is
        // recorded for a later change to be placed after.
        self.gone.retain(|id, g| g.recorded || Arc::strong_count(id) > 2);
        self.ids.retain(|id| Arc::strong_count(id) > 1);
        self.ids_sweep_at = (2 * self.ids.len()).max(IDS_SWEEP_MIN);
    }

    /// Whether a change at `ts` is older than the retained history, and so part of the base state.
    fn before_base(&self, ts: i64) -> bool {
        self.base_ts.is_some_and(|b| ts <= b)
    }

    fn base_put(&mut self, obj: StoredObject) {
        let added = obj.obj.as_bytes().len() as u64;
        let removed = Arc::make_mut(&mut self.base).insert(obj.id.clone(), obj).map_or(0, |o| o.obj.as_bytes().len());
        self.base_bytes = self.base_bytes + added - removed as u64;
    }

    fn base_remove(&mut self, id: &ObjectIdentity) {
        if let Some(old) = Arc::make_mut(&mut self.base).remove(id) {
            self.base_bytes -= old.obj.as_bytes().len() as u64;
        }
    }
}

impl Store {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves plain data behind; keep recording.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an object version unless its hash equals the recorded one, in the event of second
    /// `ts`, or of the object's latest recorded change if that is later. Returns whether it was
    /// recorded.
    pub fn apply(&self, ts: i64, id: ObjectIdentity, obj: EncodedObject, hash: u64) -> bool {
        let mut guard = self.lock();
        let st = &mut *guard;
        let (id, prior) = match st.live.get_key_value(&id) {
            Some((_, live)) if live.hash == hash => return false,
            Some((key, live)) => (key.clone(), Some((live.last, live.new_in_last))),
            None => (st.intern(id), None),
        };
        let gone = if prior.is_none() { st.gone.remove(&id) } else { None };
        let ts = ts.max(prior.map_or(i64::MIN, |p| p.0)).max(gone.map_or(i64::MIN, |g| g.ts));
        let stored = StoredObject::new(id.clone(), obj, hash);
        if st.before_base(ts) {
            st.base_put(stored.clone());
            st.live.insert(id, Live { hash, obj: stored, last: ts, new_in_last: false });
            return true;
        }
        let slot = st.event_at(ts);
        let new_in_last = match (prior, gone) {
            // Changed again within one second: the net change is this version.
            (Some((last, new_in_last)), _) if last == ts => {
                match st.applied_position(slot, &id) {
                    Some(at) => st.replace_applied(slot, at, stored.clone()),
                    None => st.push_applied(slot, stored.clone()),
                }
                new_in_last
            }
            // Deleted and recreated within one second: the net change is this version.
            (None, Some(g)) if g.ts == ts => {
                if g.recorded {
                    st.event_mut(slot).deleted.retain(|d| *d != id);
                }
                st.push_applied(slot, stored.clone());
                !g.recorded
            }
            _ => {
                st.push_applied(slot, stored.clone());
                prior.is_none()
            }
        };
        st.live.insert(id, Live { hash, obj: stored, last: ts, new_in_last });
        true
    }

    /// Records a deletion if the object is live, in the event of second `ts`, or of the object's
    /// latest recorded change if that is later. Returns whether it was recorded.
    pub fn delete(&self, ts: i64, id: &ObjectIdentity) -> bool {
        let mut guard = self.lock();
        let st = &mut *guard;
        let Some((key, live)) = st.live.remove_entry(id) else { return false };
        let ts = ts.max(live.last);
        if st.before_base(ts) {
            st.base_remove(&key);
            st.gone.insert(key, Gone { ts, recorded: true });
            return true;
        }
        let slot = st.event_at(ts);
        let mut recorded = true;
        if live.last == ts {
            if let Some(at) = st.applied_position(slot, &key) {
                st.remove_applied(slot, at);
            }
            // Created and deleted within one second: nothing to replay.
            recorded = !live.new_in_last;
        }
        if recorded {
            st.event_mut(slot).deleted.push(key.clone());
        }
        st.gone.insert(key, Gone { ts, recorded });
        true
    }

    /// The live objects of one kind, for reconciling a re-list against what the trace holds.
    pub fn live_of_kind(&self, gvk: &Gvk) -> Vec<ObjectIdentity> {
        self.lock().live.keys().filter(|id| &id.gvk == gvk).map(|id| (**id).clone()).collect()
    }

    /// After a re-list of `gvk`: every live object of that kind that the list did not show was
    /// deleted while nobody watched, and is recorded as deleted at `ts`.
    pub fn reconcile_relist(&self, ts: i64, gvk: &Gvk, listed: &HashSet<ObjectIdentity>) -> usize {
        let gone: Vec<_> = self.live_of_kind(gvk).into_iter().filter(|id| !listed.contains(id)).collect();
        gone.iter().filter(|id| self.delete(ts, id)).count()
    }

    /// The hash recorded for a live object.
    pub fn live_hash(&self, id: &ObjectIdentity) -> Option<u64> {
        self.lock().live.get(id).map(|l| l.hash)
    }

    /// Moves the times of a pod that already has its lifecycle entry; false if it has none yet,
    /// and [`Store::record_lifecycle`], which needs its hash, must make it.
    pub fn advance_lifecycle(&self, pod_uid: &str, observed: PodLifecycle) -> bool {
        self.lock().lifecycles.advance(pod_uid, observed)
    }

    pub fn record_lifecycle(&self, pod_uid: &str, owner: TraceIdentity, pod_hash: u64, observed: PodLifecycle) {
        self.lock().lifecycles.observe(pod_uid, owner, pod_hash, observed);
    }

    /// A pod was deleted: a lifecycle still running ends at `ts`.
    pub fn pod_deleted(&self, pod_uid: &str, ts: i64) {
        self.lock().lifecycles.pod_gone(pod_uid, ts);
    }

    /// After a re-list of pods: lifecycles of pods the list no longer shows end at `ts`.
    pub fn reconcile_pods(&self, ts: i64, listed_uids: &HashSet<String>) {
        self.lock().lifecycles.retain_pods(listed_uids, ts);
    }

    /// Records that the changes of `gap.kind` from `gap.from` to `gap.to` were not seen one by
    /// one (a re-list replaced its watch).
    pub fn record_gap(&self, gap: Gap) {
        self.lock().gaps.push(gap);
    }

    /// Every gap recorded, in order.
    pub fn gaps(&self) -> Vec<Gap> {
        crate::trace::gaps::union(self.lock().gaps.clone())
    }

    pub fn snapshot(&self) -> Snapshot {
        let st = self.lock();
        Snapshot {
            base: st.base.clone(),
            base_ts: st.base_ts,
            chunks: st.sealed.iter().cloned().collect(),
            first_skip: st.sealed_skip,
            open: st.open.clone(),
            lifecycles: st.lifecycles.share(),
            identities: st.ids.len(),
            versions: st.base.len() + st.versions,
            gaps: crate::trace::gaps::union(st.gaps.clone()),
        }
    }

    pub fn stats(&self) -> StoreStats {
        let st = self.lock();
        StoreStats {
            events: st.events,
            object_versions: st.versions,
            live_objects: st.live.len(),
            bytes: st.bytes + st.base_bytes,
            evicted_events: st.evicted,
            base_ts: st.base_ts,
        }
    }

    /// Applies the retention policy at time `now`: the oldest events that are older than the
    /// maximum age, or beyond the byte budget, are folded into the base state. Returns how many
    /// events were evicted.
    pub fn evict(&self, now: i64, policy: Retention) -> usize {
        let mut guard = self.lock();
        let st = &mut *guard;
        let mut evicted = 0;
        loop {
            let over_budget = st.bytes + st.base_bytes > policy.max_bytes;
            let Some(oldest) = oldest_event(st) else { break };
            // The latest event stays: it is still open to changes in its second.
            let is_last = st.events <= 1;
            if is_last || (oldest.ts >= now - policy.max_age_secs && !over_budget) {
                break;
            }
            fold_into_base(st, &oldest);
            pop_oldest(st);
            evicted += 1;
        }
        if evicted > 0 {
            st.evicted += evicted as u64;
            if let Some(base_ts) = st.base_ts {
                st.lifecycles.forget_ended_before(base_ts);
                // A change of these objects at or before the base state's time goes to the base.
                st.gone.retain(|_, g| g.ts > base_ts);
                // No export reaches before the base: a gap that ended earlier is of no use.
                st.gaps.retain(|g| g.to >= base_ts);
            }
        }
        evicted as usize
    }
}

fn oldest_event(st: &State) -> Option<StoredEvent> {
    match st.sealed.front() {
        Some(chunk) => chunk.get(st.sealed_skip).cloned(),
        None => st.open.first().cloned(),
    }
}

fn pop_oldest(st: &mut State) {
    if let Some(chunk) = st.sealed.front() {
        st.sealed_skip += 1;
        if st.sealed_skip >= chunk.len() {
            st.sealed.pop_front();
            st.sealed_skip = 0;
        }
    } else if !st.open.is_empty() {
        // Never the last event (eviction keeps it), so the open event's bookkeeping stays valid.
        st.open.remove(0);
    }
    st.events -= 1;
}

fn fold_into_base(st: &mut State, ev: &StoredEvent) {
    let mut freed = ev.bytes() as u64;
    let mut added = 0u64;
    let mut removed = 0u64;
    {
        let base = Arc::make_mut(&mut st.base);
        for obj in &ev.applied {
            added += obj.obj.as_bytes().len() as u64;
            if let Some(old) = base.insert(obj.id.clone(), obj.clone()) {
                removed += old.obj.as_bytes().len() as u64;
            }
        }
        for id in &ev.deleted {
            if let Some(old) = base.remove(id) {
                removed += old.obj.as_bytes().len() as u64;
            }
        }
    }
    st.versions -= ev.applied.len();
    st.base_bytes = st.base_bytes + added - removed;
    freed = freed.min(st.bytes);
    st.bytes -= freed;
    st.base_ts = Some(ev.ts);
}

#[cfg(test)]
mod tests;
