//! Pod lifecycles by owner and pod hash, in launch order.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::lifecycle::advance;
use crate::trace::{PodLifecycle, TrackedKey};

/// Launch order is start time, ties broken by the order pods were first seen; the key never
/// changes because a recorded start never changes.
pub(super) type LaunchKey = (i64, u64);

#[derive(Debug, Default)]
pub struct Lifecycles {
    table: HashMap<Arc<TrackedKey>, HashMap<u64, BTreeMap<LaunchKey, PodLifecycle>>>,
    /// Where each pod that is not yet deleted has its entry. The owner is shared with the table's
    /// key: thousands of pods name one owner.
    pods: HashMap<String, (Arc<TrackedKey>, u64, LaunchKey)>,
    seen: u64,
}

impl Lifecycles {
    pub fn observe(&mut self, pod_uid: &str, owner: TrackedKey, pod_hash: u64, observed: PodLifecycle) {
        if let Some((owner, hash, key)) = self.pods.get(pod_uid) {
            let (owner, hash, key) = (owner.clone(), *hash, *key);
            // An entry forgotten by retention stays forgotten.
            if let Some(lc) = self.entry(&owner, hash, key) {
                *lc = advance(*lc, observed);
            }
            return;
        }
        self.seen += 1;
        let key = (observed.start_ts, self.seen);
        let owner = match self.table.get_key_value(&owner) {
            Some((shared, _)) => shared.clone(),
            None => Arc::new(owner),
        };
        self.table.entry(owner.clone()).or_default().entry(pod_hash).or_default().insert(key, observed);
        self.pods.insert(pod_uid.to_string(), (owner, pod_hash, key));
    }

    pub fn pod_gone(&mut self, pod_uid: &str, ts: i64) {
        let Some((owner, hash, key)) = self.pods.remove(pod_uid) else { return };
        if let Some(lc) = self.entry(&owner, hash, key) {
            if lc.end_ts.is_none() {
                lc.end_ts = Some(ts.max(lc.start_ts));
            }
        }
    }

    /// Ends the lifecycles of every pod not in `alive` at `ts`.
    pub fn retain_pods(&mut self, alive: &std::collections::HashSet<String>, ts: i64) {
        let gone: Vec<String> = self.pods.keys().filter(|uid| !alive.contains(*uid)).cloned().collect();
        for uid in gone {
            self.pod_gone(&uid, ts);
        }
    }

    fn entry(&mut self, owner: &TrackedKey, hash: u64, key: LaunchKey) -> Option<&mut PodLifecycle> {
        self.table.get_mut(owner)?.get_mut(&hash)?.get_mut(&key)
    }

    pub fn forget_ended_before(&mut self, ts: i64) {
        for by_hash in self.table.values_mut() {
            for lcs in by_hash.values_mut() {
                lcs.retain(|_, lc| lc.end_ts.is_none_or(|end| end >= ts));
            }
            by_hash.retain(|_, lcs| !lcs.is_empty());
        }
        self.table.retain(|_, by_hash| !by_hash.is_empty());
    }

    pub fn table(&self) -> BTreeMap<TrackedKey, BTreeMap<u64, Vec<PodLifecycle>>> {
        self.table
            .iter()
            .map(|(owner, by_hash)| {
                let by_hash = by_hash.iter().map(|(h, lcs)| (*h, lcs.values().copied().collect())).collect();
                ((**owner).clone(), by_hash)
            })
            .collect()
    }

    /// Every entry, with its launch key, for a checkpoint.
    pub(super) fn entries(&self) -> Vec<(TrackedKey, u64, LaunchKey, PodLifecycle)> {
        let mut out = Vec::with_capacity(self.len());
        for (owner, by_hash) in &self.table {
            for (hash, lcs) in by_hash {
                out.extend(lcs.iter().map(|(key, lc)| ((**owner).clone(), *hash, *key, *lc)));
            }
        }
        out
    }

    /// Pods not yet deleted and where their entries are, for a checkpoint.
    pub(super) fn pods(&self) -> Vec<(String, TrackedKey, u64, LaunchKey)> {
        self.pods.iter().map(|(uid, (owner, hash, key))| (uid.clone(), (**owner).clone(), *hash, *key)).collect()
    }

    /// Rebuilds the table from a checkpoint's entries and pods.
    pub(super) fn restore(
        entries: Vec<(TrackedKey, u64, LaunchKey, PodLifecycle)>,
        pods: Vec<(String, TrackedKey, u64, LaunchKey)>,
    ) -> Self {
        let mut out = Lifecycles::default();
        for (owner, hash, key, lc) in entries {
            out.seen = out.seen.max(key.1);
            let owner = match out.table.get_key_value(&owner) {
                Some((shared, _)) => shared.clone(),
                None => Arc::new(owner),
            };
            out.table.entry(owner).or_default().entry(hash).or_default().insert(key, lc);
        }
        for (uid, owner, hash, key) in pods {
            let owner = match out.table.get_key_value(&owner) {
                Some((shared, _)) => shared.clone(),
                None => Arc::new(owner),
            };
            out.seen = out.seen.max(key.1);
            out.pods.insert(uid, (owner, hash, key));
        }
        out
    }

    pub fn len(&self) -> usize {
        self.table.values().flat_map(|m| m.values()).map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }
}
