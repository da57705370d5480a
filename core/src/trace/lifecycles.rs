//! Pod lifecycles by owner and pod hash, in launch order.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::identity_ref::IdentityRef;
use super::{PodLifecycle, TraceIdentity};

/// Launch order is start time, ties broken by the order pods were first seen; the key never
/// changes because a recorded start never changes.
pub(crate) type LaunchKey = (i64, u64);

/// One lifecycle of an owner: its pod hash, the order its pod was first seen in, and its times.
/// Its launch key is its start and that order; the start is not held twice.
type Entry = (u64, u64, PodLifecycle);

fn launch_key((_, seen, lc): &Entry) -> LaunchKey {
    (lc.start_ts, *seen)
}

/// One owner's lifecycles, sorted by pod hash, then launch key. Most owners have a handful of
/// pods, one hash per template rolled out: one allocation holds them, a fraction of a map's
/// memory, and an export reads them in order behind a single pointer (a list per hash made two
/// more, each a likely cache miss).
#[derive(Clone, Debug, Default)]
pub struct OwnerLifecycles(Vec<Entry>);

/// Up to this many lifecycles an owner's list grows one at a time, so a small owner's holds no
/// spare room; beyond it, it doubles, so that an owner of thousands of pods is not copied whole
/// for each new one.
const EXACT_UP_TO: usize = 16;

impl OwnerLifecycles {
    /// Adds a lifecycle, whose launch key is its start and `seen`.
    fn insert(&mut self, hash: u64, seen: u64, lc: PodLifecycle) {
        if self.0.len() == self.0.capacity() && self.0.len() < EXACT_UP_TO {
            self.0.reserve_exact(1);
        }
        let key = (lc.start_ts, seen);
        // Pods arrive nearly in launch order: the place is at or near the end.
        let at = self.0.partition_point(|e| (e.0, launch_key(e)) < (hash, key));
        self.0.insert(at, (hash, seen, lc));
    }

    /// A lifecycle's times, to move its end; its start, part of its key, must stay as it is.
    fn existing_mut(&mut self, hash: u64, key: LaunchKey) -> Option<&mut PodLifecycle> {
        let at = self.0.binary_search_by(|e| (e.0, launch_key(e)).cmp(&(hash, key))).ok()?;
        Some(&mut self.0[at].2)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Pod hashes in ascending order, each with its lifecycles in launch order.
    pub fn by_hash(&self) -> impl Iterator<Item = (u64, Launches<'_>)> + '_ {
        self.0.chunk_by(|a, b| a.0 == b.0).map(|run| (run[0].0, Launches(run.iter())))
    }
}

/// One pod hash's lifecycles, in launch order.
#[derive(Clone, Debug)]
pub struct Launches<'a>(std::slice::Iter<'a, Entry>);

impl Iterator for Launches<'_> {
    type Item = PodLifecycle;

    fn next(&mut self) -> Option<PodLifecycle> {
        self.0.next().map(|(_, _, lc)| *lc)
    }
}

/// The lifecycle table as a snapshot holds it: every owner's entry is shared with the store, which
/// copies an entry only when it changes one that a snapshot still holds. In namespaced name
/// order, then kind.
pub type SharedLifecycles = Vec<SharedOwner>;

/// One owner's entry in a snapshot.
#[derive(Clone, Debug)]
pub struct SharedOwner {
    owner: OwnerKey,
    lifecycles: Arc<OwnerLifecycles>,
}

impl SharedOwner {
    /// [`IdentityRef::name_prefix`] of the owner: an export matches owners to its index by it, and
    /// reads their names only where two prefixes tie.
    pub fn prefix(&self) -> u128 {
        self.owner.0.prefix
    }

    pub fn key(&self) -> &TraceIdentity {
        &self.owner.0.key
    }

    pub fn lifecycles(&self) -> &OwnerLifecycles {
        &self.lifecycles
    }
}

/// A pod's uid, held as 16 bytes when it is the canonical lower-case UUID the apiserver assigns
/// (bytes, not a `u128`, whose alignment would pad every table slot by 8 bytes).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum PodUid {
    Uuid([u8; 16]),
    Other(Box<str>),
}

impl PodUid {
    fn of(uid: &str) -> Self {
        let canonical = uid.len() == 36
            && uid.char_indices().all(|(i, c)| {
                if matches!(i, 8 | 13 | 18 | 23) {
                    c == '-'
                } else {
                    c.is_ascii_digit() || ('a'..='f').contains(&c)
                }
            });
        match canonical.then(|| u128::from_str_radix(&uid.replace('-', ""), 16).ok()).flatten() {
            Some(n) => PodUid::Uuid(n.to_be_bytes()),
            None => PodUid::Other(uid.into()),
        }
    }
}

impl std::fmt::Display for PodUid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PodUid::Uuid(bytes) => {
                let h = format!("{:032x}", u128::from_be_bytes(*bytes));
                write!(f, "{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
            }
            PodUid::Other(s) => f.write_str(s),
        }
    }
}

/// An owner as the table orders it: by namespaced name, then kind, the order in which an export
/// writes owners, so that a snapshot's table is already in it. The name's first bytes, held as a
/// number, settle most comparisons without reading the name; a kind first would compare three
/// equal strings.
#[derive(Clone, Debug, PartialEq, Eq)]
struct OwnerKey(Arc<Owner>);

/// An owner's key with its name's first bytes beside it, in one allocation shared by the table
/// and every pod of the owner.
#[derive(Debug, PartialEq, Eq)]
struct Owner {
    prefix: u128,
    key: TraceIdentity,
}

impl OwnerKey {
    fn new(key: TraceIdentity) -> Self {
        OwnerKey(Arc::new(Owner { prefix: IdentityRef::of_trace(&key).name_prefix(), key }))
    }
}

impl Ord for OwnerKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let (a, b) = (&*self.0, &*other.0);
        a.prefix.cmp(&b.prefix).then_with(|| (&a.key.name, &a.key.gvk).cmp(&(&b.key.name, &b.key.gvk)))
    }
}

impl PartialOrd for OwnerKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Default)]
pub struct Lifecycles {
    table: BTreeMap<OwnerKey, Arc<OwnerLifecycles>>,
    /// Where each pod that is not yet deleted has its entry. The owner is shared with the table's
    /// key (thousands of pods name one owner), and finds it without a copy.
    pods: HashMap<PodUid, (OwnerKey, u64, LaunchKey)>,
    seen: u64,
}

impl Lifecycles {
    /// Moves the times of a pod that already has its entry; false if it has none yet.
    pub fn advance(&mut self, pod_uid: &str, observed: PodLifecycle) -> bool {
        let Some((owner, hash, key)) = self.pods.get(&PodUid::of(pod_uid)) else { return false };
        // An entry forgotten by retention stays forgotten.
        if let Some(lc) = entry(&mut self.table, owner, *hash, *key) {
            *lc = lc.advanced(observed);
        }
        true
    }

    /// Records a pod's lifecycle: its entry is made at the first observation, under `owner` and
    /// `pod_hash`; later observations only move its times.
    pub fn observe(&mut self, pod_uid: &str, owner: TraceIdentity, pod_hash: u64, observed: PodLifecycle) {
        if self.advance(pod_uid, observed) {
            return;
        }
        let pod_uid = PodUid::of(pod_uid);
        self.seen += 1;
        let key = (observed.start_ts, self.seen);
        let owner = self.shared_owner(owner);
        Arc::make_mut(self.table.entry(owner.clone()).or_default()).insert(pod_hash, key.1, observed);
        self.pods.insert(pod_uid, (owner, pod_hash, key));
    }

    pub fn pod_gone(&mut self, pod_uid: &str, ts: i64) {
        self.uid_gone(&PodUid::of(pod_uid), ts);
    }

    fn uid_gone(&mut self, pod_uid: &PodUid, ts: i64) {
        let Some((owner, hash, key)) = self.pods.remove(pod_uid) else { return };
        if let Some(lc) = entry(&mut self.table, &owner, hash, key) {
            if lc.end_ts.is_none() {
                lc.end_ts = Some(ts.max(lc.start_ts));
            }
        }
    }

    /// Ends the lifecycles of every pod not in `alive` at `ts`.
    pub fn retain_pods(&mut self, alive: &std::collections::HashSet<String>, ts: i64) {
        let alive: std::collections::HashSet<PodUid> = alive.iter().map(|u| PodUid::of(u)).collect();
        let gone: Vec<PodUid> = self.pods.keys().filter(|uid| !alive.contains(*uid)).cloned().collect();
        for uid in gone {
            self.uid_gone(&uid, ts);
        }
    }

    /// The table's own copy of `owner`, if it has one.
    fn shared_owner(&self, owner: TraceIdentity) -> OwnerKey {
        let owner = OwnerKey::new(owner);
        match self.table.get_key_value(&owner) {
            Some((shared, _)) => shared.clone(),
            None => owner,
        }
    }

    pub fn forget_ended_before(&mut self, ts: i64) {
        let ended_before = |lc: &PodLifecycle| lc.end_ts.is_some_and(|end| end < ts);
        for by_hash in self.table.values_mut() {
            // Only owners with something to forget are written to, so snapshots keep sharing the rest.
            if !by_hash.0.iter().any(|(_, _, lc)| ended_before(lc)) {
                continue;
            }
            let entries = &mut Arc::make_mut(by_hash).0;
            entries.retain(|(_, _, lc)| !ended_before(lc));
            entries.shrink_to_fit();
        }
        self.table.retain(|_, by_hash| !by_hash.0.is_empty());
    }

    /// Every owner's entry, shared rather than copied: a snapshot costs two pointers per owner.
    /// In namespaced name order, then kind.
    pub fn share(&self) -> SharedLifecycles {
        self.table
            .iter()
            .map(|(owner, by_hash)| SharedOwner { owner: owner.clone(), lifecycles: by_hash.clone() })
            .collect()
    }

    /// Every entry, with its launch key, for a checkpoint.
    pub(crate) fn entries(&self) -> Vec<(TraceIdentity, u64, LaunchKey, PodLifecycle)> {
        let mut out = Vec::with_capacity(self.len());
        for (owner, by_hash) in &self.table {
            out.extend(by_hash.0.iter().map(|e| (owner.0.key.clone(), e.0, launch_key(e), e.2)));
        }
        out
    }

    /// Pods not yet deleted and where their entries are, for a checkpoint.
    pub(crate) fn pods(&self) -> Vec<(String, TraceIdentity, u64, LaunchKey)> {
        self.pods.iter().map(|(uid, (owner, hash, key))| (uid.to_string(), owner.0.key.clone(), *hash, *key)).collect()
    }

    /// Rebuilds the table from a checkpoint's entries and pods.
    pub(crate) fn restore(
        entries: Vec<(TraceIdentity, u64, LaunchKey, PodLifecycle)>,
        pods: Vec<(String, TraceIdentity, u64, LaunchKey)>,
    ) -> Self {
        let mut out = Lifecycles::default();
        for (owner, hash, key, lc) in entries {
            out.seen = out.seen.max(key.1);
            let owner = out.shared_owner(owner);
            // A launch key is a start and an order; the start is the lifecycle's own.
            Arc::make_mut(out.table.entry(owner).or_default()).insert(hash, key.1, lc);
        }
        for (uid, owner, hash, key) in pods {
            let owner = out.shared_owner(owner);
            out.seen = out.seen.max(key.1);
            out.pods.insert(PodUid::of(&uid), (owner, hash, key));
        }
        out
    }

    pub fn len(&self) -> usize {
        self.table.values().map(|m| m.0.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}

/// A pod's entry in the table, if retention has not forgotten it.
fn entry<'t>(
    table: &'t mut BTreeMap<OwnerKey, Arc<OwnerLifecycles>>,
    owner: &OwnerKey,
    hash: u64,
    key: LaunchKey,
) -> Option<&'t mut PodLifecycle> {
    Arc::make_mut(table.get_mut(owner)?).existing_mut(hash, key)
}

/// The shared table as plain maps, ordered by owner and hash.
pub fn table(shared: &SharedLifecycles) -> BTreeMap<TraceIdentity, BTreeMap<u64, Vec<PodLifecycle>>> {
    shared
        .iter()
        .map(|o| (o.key().clone(), o.lifecycles.by_hash().map(|(h, lcs)| (h, lcs.collect())).collect()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_print_back_as_given() {
        for uid in [
            "8c0e1d1a-1111-4c44-9c8a-000000000001",
            "00000000-0000-0000-0000-000000000000",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
        ] {
            assert!(matches!(PodUid::of(uid), PodUid::Uuid(_)), "{uid}");
            assert_eq!(PodUid::of(uid).to_string(), uid);
        }
        // Anything else is kept as it is, so it prints back the same too.
        for uid in [
            "8C0E1D1A-1111-4C44-9C8A-000000000001",
            "p1",
            "",
            "8c0e1d1a11114c449c8a000000000001xxxx",
            "8c0e1d1a-1111-4c44-9c8a-00000000000g",
        ] {
            assert!(matches!(PodUid::of(uid), PodUid::Other(_)), "{uid}");
            assert_eq!(PodUid::of(uid).to_string(), uid);
        }
    }

    /// A table holds one entry per pod: its size is most of the table's memory.
    #[test]
    fn an_entry_holds_its_start_once() {
        assert_eq!(std::mem::size_of::<Entry>(), 40);
    }

    #[test]
    fn launches_stay_in_launch_order_whatever_the_arrival() {
        let mut l = Lifecycles::default();
        let owner = || TraceIdentity::new("apps/v1.Deployment".parse().unwrap(), "d/a");
        for (uid, start) in [("c", 30), ("a", 10), ("b", 20), ("d", 10)] {
            l.observe(uid, owner(), 1, PodLifecycle { start_ts: start, end_ts: None });
        }
        l.pod_gone("b", 25);
        let starts: Vec<_> = table(&l.share())[&owner()][&1].iter().map(|lc| (lc.start_ts, lc.end_ts)).collect();
        assert_eq!(starts, [(10, None), (10, None), (20, Some(25)), (30, None)]);
    }
}
