//! Counters the tracer keeps about itself.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::gvk::Gvk;

#[derive(Debug, Default)]
pub struct Metrics {
    /// Watch events received, per kind.
    events: Mutex<BTreeMap<Gvk, u64>>,
    /// Gaps recorded (re-lists that replaced a watch), per kind.
    gaps: Mutex<BTreeMap<Gvk, u64>>,
    /// Object versions recorded (changed objects; unchanged ones are not counted).
    pub recorded: AtomicU64,
    /// (Re-)lists started, across kinds: one at startup per kind, one per watch restart.
    pub relists: AtomicU64,
    /// Metadata watches started on intermediate owner kinds. Owner resolution makes no other
    /// requests, so this stays at the number of such kinds however many pods there are.
    pub owner_watches: AtomicU64,
    pub evictions: AtomicU64,
    /// Pods not recorded because their owner never appeared (deleted before it was seen).
    pub unresolved_pods: AtomicU64,
    /// Objects from the watches decoded whole: lists, tracked objects whose recorded form may
    /// have changed, pods seen for the first time. Other changes are read only in part.
    pub decoded_whole: AtomicU64,
}

impl Metrics {
    pub fn count_event(&self, gvk: &Gvk) {
        let mut events = self.events.lock().unwrap_or_else(|p| p.into_inner());
        match events.get_mut(gvk) {
            Some(n) => *n += 1,
            None => {
                events.insert(gvk.clone(), 1);
            }
        }
    }

    pub fn count_gap(&self, gvk: &Gvk) {
        *self.gaps.lock().unwrap_or_else(|p| p.into_inner()).entry(gvk.clone()).or_default() += 1;
    }

    pub fn gaps(&self) -> BTreeMap<Gvk, u64> {
        self.gaps.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn events(&self) -> BTreeMap<Gvk, u64> {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
