//! Fault injection and request counting: what tests use to make the apiserver misbehave, and to
//! measure how much a client asks of it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Default)]
pub struct Faults {
    /// The next `n` requests (admin paths excluded) are answered with this status.
    fail_next: Mutex<(u32, u16)>,
    /// `group/version/plural` keys answered with 403.
    forbidden: Mutex<HashSet<String>>,
    /// `group/version/plural` keys whose writes (create, update, patch, delete) get this status,
    /// while reads still succeed: a lease holder that can no longer renew.
    failing_writes: Mutex<HashMap<String, u16>>,
    delay: Mutex<Duration>,
    /// While set, every new connection is reset as soon as it is accepted: an apiserver behind a
    /// load balancer whose backends are gone.
    reset_connections: std::sync::atomic::AtomicBool,
    /// While set, new watch streams send each event as a chunk of its own, as kube-apiserver
    /// does, instead of the events already waiting in one chunk.
    chunk_per_event: std::sync::atomic::AtomicBool,
    held: HeldWatches,
}

/// While set, watch streams send nothing: their events queue up, as for a client that stopped
/// reading (a paused process), and go out at once when released.
pub struct HeldWatches(tokio::sync::watch::Sender<bool>);

impl Default for HeldWatches {
    fn default() -> Self {
        HeldWatches(tokio::sync::watch::channel(false).0)
    }
}

impl Faults {
    pub fn fail_next(&self, n: u32, status: u16) {
        *lock(&self.fail_next) = (n, status);
    }

    /// Takes one injected failure, if any are left.
    pub fn take_failure(&self) -> Option<u16> {
        let mut f = lock(&self.fail_next);
        if f.0 == 0 {
            return None;
        }
        f.0 -= 1;
        Some(f.1)
    }

    pub fn forbid(&self, key: String) {
        lock(&self.forbidden).insert(key);
    }

    pub fn allow(&self, key: &str) {
        lock(&self.forbidden).remove(key);
    }

    pub fn is_forbidden(&self, key: &str) -> bool {
        lock(&self.forbidden).contains(key)
    }

    pub fn fail_writes(&self, key: String, status: u16) {
        lock(&self.failing_writes).insert(key, status);
    }

    pub fn allow_writes(&self, key: &str) {
        lock(&self.failing_writes).remove(key);
    }

    pub fn write_failure(&self, key: &str) -> Option<u16> {
        lock(&self.failing_writes).get(key).copied()
    }

    pub fn set_delay(&self, d: Duration) {
        *lock(&self.delay) = d;
    }

    pub fn delay(&self) -> Duration {
        *lock(&self.delay)
    }

    pub fn hold_watches(&self, held: bool) {
        self.held.0.send_replace(held);
    }

    /// Follows whether watch streams are held.
    pub fn watches_held(&self) -> tokio::sync::watch::Receiver<bool> {
        self.held.0.subscribe()
    }

    pub fn set_chunk_per_event(&self, on: bool) {
        self.chunk_per_event.store(on, Ordering::SeqCst);
    }

    pub fn chunk_per_event(&self) -> bool {
        self.chunk_per_event.load(Ordering::SeqCst)
    }

    pub fn set_reset_connections(&self, on: bool) {
        self.reset_connections.store(on, Ordering::SeqCst);
    }

    pub fn resets_connections(&self) -> bool {
        self.reset_connections.load(Ordering::SeqCst)
    }
}

/// Requests served, in total and by route (`LIST apps/v1/replicasets`, `WATCH v1/pods`,
/// `GET discovery /apis/apps/v1`, ...).
#[derive(Default)]
pub struct Counters {
    total: AtomicU64,
    by_route: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    pub fn count(&self, route: String) {
        self.total.fetch_add(1, Ordering::Relaxed);
        *lock(&self.by_route).entry(route).or_default() += 1;
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    pub fn by_route(&self) -> BTreeMap<String, u64> {
        lock(&self.by_route).clone()
    }

    /// Requests by verb (`GET`, `LIST`, `WATCH`, `POST`, `PATCH`...), summed over routes.
    pub fn by_verb(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for (route, n) in lock(&self.by_route).iter() {
            let verb = route.split(' ').next().unwrap_or("").to_string();
            *out.entry(verb).or_default() += n;
        }
        out
    }

    pub fn reset(&self) {
        self.total.store(0, Ordering::Relaxed);
        lock(&self.by_route).clear();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_by_route_and_verb() {
        let c = super::Counters::default();
        c.count("LIST v1/pods".into());
        c.count("WATCH v1/pods".into());
        c.count("LIST apps/v1/replicasets".into());
        assert_eq!(c.total(), 3);
        assert_eq!(c.by_route()["LIST v1/pods"], 1);
        assert_eq!(c.by_verb()["LIST"], 2);
        c.reset();
        assert_eq!(c.total(), 0);
        assert!(c.by_verb().is_empty());
    }
}
