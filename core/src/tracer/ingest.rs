//! The ingest loop's logic, without I/O: it takes `Change`s one at a time and updates the owner
//! cache, the pods awaiting an owner and the store. Which owner kinds must be watched is returned
//! to the caller, which starts the watches.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::Value;

use super::{Arrival, EventClock, Metrics, Pipeline};
use crate::gvk::Gvk;
use crate::lifecycle::observed_lifecycle;
use crate::ownership::{resolve_owner, KnownOwner, OwnerCache, OwnerReference, Resolution};
use crate::sources::{Change, ChangeKind, Payload};
use crate::store::Store;
use crate::trace::{EncodedObject, Gap, ObjectIdentity};
use crate::tracer_config::TrackedObjectConfig;
use crate::{stable_hash, TracerConfig};

/// Pods waiting for an owner to appear in the cache are few in steady state; this bounds them
/// when an owner kind cannot be watched at all.
const MAX_PENDING_PODS: usize = 100_000;

/// How long a pod waits for an owner that its kind's watch has not shown. Watches on different
/// kinds are not ordered, so an owner routinely arrives after its pods; one that has not arrived
/// this long after its kind was listed was deleted before anyone saw it.
pub const OWNER_GRACE_SECS: i64 = 60;

struct PendingPod {
    pod: Value,
    deleted_at: Option<i64>,
    owner_kind: Gvk,
    since: i64,
}

pub struct Ingest {
    config: Arc<TracerConfig>,
    pipeline: Arc<Pipeline>,
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    owners: OwnerCache,
    /// Per kind, what its current (re-)list has shown so far.
    relisting: HashMap<Gvk, Relist>,
    /// Pods by the uid of the owner they wait for, then by their own uid.
    pending: HashMap<String, HashMap<String, PendingPod>>,
    pending_count: usize,
    /// When waiting pods are next checked against the grace period.
    next_expiry: i64,
    /// Owner kinds being watched for owner resolution, tracked kinds included.
    watched_owner_kinds: HashSet<Gvk>,
    path_errors_reported: HashSet<Gvk>,
    /// What each tracked object's recorded version was made from (see `fast`).
    seen: HashMap<u64, fast::Seen>,
    /// When changes happened, by the cluster's clock.
    clock: EventClock,
    /// When the change being handled was received: the ingest loop's now.
    received: i64,
    /// Kinds whose first list starts what this trace observed: a tracer with no recorded past
    /// did not see what happened before it, so their first list is recorded as seen when it was
    /// read, not back-dated to each object's last write. After a checkpoint or a lost watch the
    /// list shows changes made while nobody watched, which keep their own time.
    unobserved_before_first_list: HashSet<Gvk>,
}

#[derive(Default)]
struct Relist {
    objects: HashSet<ObjectIdentity>,
    uids: HashSet<String>,
}

fn uid_of(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/uid").and_then(Value::as_str)
}

fn pod_gvk() -> Gvk {
    Gvk::new("", "v1", "Pod")
}

impl Ingest {
    pub fn new(config: Arc<TracerConfig>, pipeline: Arc<Pipeline>, store: Arc<Store>, metrics: Arc<Metrics>) -> Self {
        let watched_owner_kinds: HashSet<Gvk> = config.tracked_objects.keys().cloned().collect();
        let stats = store.stats();
        let fresh = stats.events == 0 && stats.live_objects == 0 && stats.base_ts.is_none();
        let unobserved_before_first_list =
            if fresh { watched_owner_kinds.iter().cloned().chain([pod_gvk()]).collect() } else { HashSet::new() };
        Ingest {
            config,
            pipeline,
            store,
            metrics,
            owners: OwnerCache::default(),
            relisting: HashMap::new(),
            pending: HashMap::new(),
            pending_count: 0,
            next_expiry: i64::MIN,
            watched_owner_kinds,
            path_errors_reported: HashSet::new(),
            seen: HashMap::new(),
            clock: EventClock::default(),
            received: i64::MIN,
            unobserved_before_first_list,
        }
    }

    /// Handles one change; returns the owner kinds that now need a metadata watch.
    pub fn handle(&mut self, change: Change) -> Vec<Gvk> {
        self.metrics.count_event(&change.gvk);
        let Change { gvk, at, kind } = change;
        self.received = at;
        self.expire_pending(at);
        let mut wanted = Vec::new();
        match kind {
            ChangeKind::RelistStarted => {
                self.relisting.insert(gvk.clone(), Relist::default());
                self.metrics.relists.fetch_add(1, Ordering::Relaxed);
            }
            ChangeKind::Relisted(payload) => {
                // A list is read once per (re)start: decoded whole, as it always was.
                let happened = self.clock.stamp(at, &payload.times(), Arrival::Listed);
                let happened = if self.unobserved_before_first_list.contains(&gvk) { at } else { happened };
                let payload = match payload {
                    Payload::Raw(raw) => Payload::Object(self.whole(&raw, &gvk)),
                    other => other,
                };
                let relist = self.relisting.entry(gvk.clone()).or_default();
                match &payload {
                    Payload::Object(obj) => {
                        if let Some(id) = ObjectIdentity::of(obj) {
                            relist.objects.insert(id);
                        }
                        if let Some(uid) = uid_of(obj) {
                            relist.uids.insert(uid.to_string());
                        }
                    }
                    Payload::Meta { uid, .. } => {
                        relist.uids.insert(uid.clone());
                    }
                    Payload::Raw(_) => {}
                }
                wanted = self.applied(&gvk, happened, payload);
            }
            ChangeKind::RelistDone => {
                self.unobserved_before_first_list.remove(&gvk);
                let relist = self.relisting.remove(&gvk).unwrap_or_default();
                self.owners.retain_kind(&gvk, &relist.uids);
                if self.config.get(&gvk).is_some() {
                    // Objects the list no longer shows are deleted without an event of their own.
                    self.seen.clear();
                    let gone = self.store.reconcile_relist(at, &gvk, &relist.objects);
                    if gone > 0 {
                        tracing::info!(%gvk, gone, "objects deleted while the watch was down");
                    }
                }
                if gvk == pod_gvk() {
                    self.store.reconcile_pods(at, &relist.uids);
                    // Waiting pods that the list no longer shows were deleted during the gap.
                    for p in self.pending.values_mut().flat_map(|w| w.iter_mut()) {
                        if !relist.uids.contains(p.0) && p.1.deleted_at.is_none() {
                            p.1.deleted_at = Some(at);
                        }
                    }
                }
                // Pods waiting for owners the list did not show go on waiting: the owner may have
                // been created after the list was taken. Owners it showed as deleted end theirs.
                let gone: Vec<String> = self.pending.keys().filter(|uid| self.owners.is_gone(uid)).cloned().collect();
                for uid in gone {
                    wanted.extend(self.retry_pending(&uid));
                }
            }
            ChangeKind::Applied(payload) => {
                let happened = self.clock.stamp(at, &payload.times(), Arrival::Applied);
                wanted = self.applied(&gvk, happened, payload);
            }
            ChangeKind::Deleted(payload) => {
                let happened = self.clock.stamp(at, &payload.times(), Arrival::Deleted);
                wanted = self.deleted(&gvk, happened, payload);
            }
            ChangeKind::Gap { from } => self.gap(gvk, from, at),
        }
        wanted
    }

    /// A re-list replaced the watch of `gvk`: its changes from `from` to `to` are in the trace
    /// only as their outcome at `to`. Recorded for the kinds the trace holds: tracked kinds, and
    /// pods where lifecycles are tracked. Owner kinds' gaps cost owner resolution nothing that
    /// the re-list does not restore.
    fn gap(&mut self, gvk: Gvk, from: i64, to: i64) {
        let recorded = self.config.get(&gvk).is_some()
            || (gvk == pod_gvk() && self.config.tracked_objects.values().any(|c| c.track_lifecycle));
        if !recorded {
            return;
        }
        tracing::warn!(kind = %gvk, from, to, seconds = to - from, "a re-list replaced the watch: the trace has a gap for this kind, where only the outcome of its changes is known");
        self.metrics.count_gap(&gvk);
        self.store.record_gap(Gap { kind: gvk, from, to });
    }

    fn applied(&mut self, gvk: &Gvk, at: i64, payload: Payload) -> Vec<Gvk> {
        match payload {
            Payload::Raw(raw) => self.applied_raw(gvk, at, *raw),
            Payload::Meta { uid, info } => {
                self.owners.upsert(uid.clone(), info);
                self.retry_pending(&uid)
            }
            Payload::Object(obj) => {
                let uid = uid_of(&obj).map(str::to_string);
                if let Some(uid) = &uid {
                    let info = KnownOwner {
                        gvk: gvk.clone(),
                        namespace: obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("").into(),
                        name: obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").into(),
                        owners: OwnerReference::of_object(&obj),
                    };
                    if *gvk != pod_gvk() {
                        self.owners.upsert(uid.to_string(), info);
                    }
                }
                let mut wanted = Vec::new();
                if *gvk == pod_gvk() {
                    wanted.extend(self.pod_seen(&obj, None, self.received));
                }
                if let Some(cfg) = self.config.get(gvk) {
                    let cfg = cfg.clone();
                    self.record(gvk, &cfg, at, obj);
                }
                if let Some(uid) = uid.filter(|_| *gvk != pod_gvk()) {
                    wanted.extend(self.retry_pending(&uid));
                }
                wanted
            }
        }
    }

    fn deleted(&mut self, gvk: &Gvk, at: i64, payload: Payload) -> Vec<Gvk> {
        match payload {
            Payload::Raw(raw) => self.deleted_raw(gvk, at, *raw),
            Payload::Meta { uid, .. } => {
                self.owners.remove(&uid);
                self.retry_pending(&uid)
            }
            Payload::Object(obj) => {
                let mut wanted = Vec::new();
                if *gvk == pod_gvk() {
                    // The final status may carry the end; the deletion ends what still runs. Owners
                    // are deleted before their pods (garbage collection follows), so the chain may
                    // no longer resolve: the recorded lifecycle ends by the pod's uid regardless.
                    wanted = self.pod_seen(&obj, Some(at), self.received);
                    if let Some(uid) = uid_of(&obj) {
                        self.store.pod_deleted(uid, at);
                    }
                } else if let Some(uid) = uid_of(&obj).map(str::to_string) {
                    self.owners.remove(&uid);
                    wanted = self.retry_pending(&uid);
                }
                if self.config.get(gvk).is_some() {
                    if let Some(id) = ObjectIdentity::of(&obj) {
                        self.seen.remove(&fast::identity_key(&id));
                        self.store.delete(at, &id);
                    }
                }
                wanted
            }
        }
    }

    /// Sanitises and records one object of a tracked kind.
    fn record(&mut self, gvk: &Gvk, cfg: &TrackedObjectConfig, at: i64, obj: Value) {
        let owned = obj.pointer("/metadata/ownerReferences").and_then(Value::as_array).is_some_and(|r| !r.is_empty());
        if cfg.skip_owned && owned {
            return;
        }
        let Some(id) = ObjectIdentity::of(&obj) else { return };
        self.record_as(gvk, id, at, obj);
    }

    /// Sanitises and records `obj` as `id` unless the store's version hashes the same; returns
    /// the hash.
    fn record_as(&mut self, gvk: &Gvk, id: ObjectIdentity, at: i64, mut obj: Value) -> u64 {
        let Some(cfg) = self.config.get(gvk) else { return 0 };
        if let Err(e) = self.pipeline.sanitisers().sanitise_tracked(&mut obj, cfg) {
            if self.path_errors_reported.insert(gvk.clone()) {
                tracing::warn!(%gvk, error = %e, "pod-template path does not fit the object; its templates are recorded unsanitised");
            }
        }
        let hash = stable_hash(&obj);
        if self.store.live_hash(&id) == Some(hash) {
            return hash;
        }
        if self.store.apply(at, id, EncodedObject::from_json(&obj), hash) {
            self.metrics.recorded.fetch_add(1, Ordering::Relaxed);
        }
        hash
    }

    /// Resolves a pod's owner and records its lifecycle; a pod whose owner chain is not in the
    /// cache yet waits (from `since`, a receipt time, or from when it first waited), and the
    /// missing owner kind is returned to be watched.
    fn pod_seen(&mut self, pod: &Value, deleted_at: Option<i64>, since: i64) -> Vec<Gvk> {
        let Some(uid) = uid_of(pod).map(str::to_string) else { return Vec::new() };
        match resolve_owner(pod, &self.config, &self.owners) {
            Resolution::Owner(owner) => {
                if let Some(lc) = observed_lifecycle(pod) {
                    // A pod's hash is fixed by its first observation; later ones only move its
                    // times, so the hash (a third of ingest's work on pod events) is taken once.
                    if !self.store.advance_lifecycle(&uid, lc) {
                        let hash = self.pipeline.pod_hasher.hash(pod);
                        self.store.record_lifecycle(&uid, owner, hash, lc);
                    }
                }
                if let Some(ts) = deleted_at {
                    self.store.pod_deleted(&uid, ts);
                }
                Vec::new()
            }
            Resolution::Untracked => Vec::new(),
            Resolution::Waiting(owner) => {
                if self.pending_count >= MAX_PENDING_PODS {
                    tracing::warn!(owner_kind = %owner.gvk, "too many pods wait for their owners; dropping one");
                    self.metrics.unresolved_pods.fetch_add(1, Ordering::Relaxed);
                    return Vec::new();
                }
                let kind = owner.gvk;
                let waiting = self.pending.entry(owner.uid).or_default();
                let since = waiting.get(&uid).map_or(since, |p| p.since);
                let pending = PendingPod { pod: pod.clone(), deleted_at, owner_kind: kind.clone(), since };
                if waiting.insert(uid, pending).is_none() {
                    self.pending_count += 1;
                }
                if self.watched_owner_kinds.insert(kind.clone()) {
                    self.metrics.owner_watches.fetch_add(1, Ordering::Relaxed);
                    vec![kind]
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// Resolves again the pods that wait for the owner `owner_uid`, which just arrived or went.
    fn retry_pending(&mut self, owner_uid: &str) -> Vec<Gvk> {
        let Some(waiting) = self.pending.remove(owner_uid) else { return Vec::new() };
        self.pending_count -= waiting.len();
        let mut wanted = Vec::new();
        for (_, p) in waiting {
            wanted.extend(self.pod_seen(&p.pod, p.deleted_at, p.since));
        }
        wanted
    }

    /// Gives up on pods whose owner's kind has been listed and watched for the grace period
    /// without the owner showing up. Pods waiting for a kind that cannot be listed keep waiting.
    fn expire_pending(&mut self, now: i64) {
        if self.pending_count == 0 || now < self.next_expiry {
            return;
        }
        self.next_expiry = now + OWNER_GRACE_SECS / 4;
        let owners = &self.owners;
        let mut expired = 0;
        self.pending.retain(|_, waiting| {
            waiting.retain(|_, p| {
                let keep = !owners.is_synced(&p.owner_kind) || now - p.since < OWNER_GRACE_SECS;
                expired += usize::from(!keep);
                keep
            });
            !waiting.is_empty()
        });
        if expired > 0 {
            self.pending_count -= expired;
            self.metrics.unresolved_pods.fetch_add(expired as u64, Ordering::Relaxed);
            tracing::info!(pods = expired, "pods whose owner never appeared are not recorded");
        }
    }

    pub fn pending_pods(&self) -> usize {
        self.pending_count
    }

    pub fn owner_cache_len(&self) -> usize {
        self.owners.len()
    }
}

mod fast;

#[cfg(test)]
mod tests;
