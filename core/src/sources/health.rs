//! The state of every watched kind, for logs, readiness and metrics.
//!
//! A kind is not ready until its first list completes. After that, a watch that drops is retried
//! within about a second and usually resumes where it was, so readiness does not follow every
//! blip: a kind counts as not ready again only once its watch has been down longer than a grace
//! period, and is ready again as soon as the watch is back.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::gvk::Gvk;

/// How long a tracked kind's watch may be down before `/readyz` says so, unless configured.
pub const DEFAULT_READINESS_GRACE: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KindState {
    /// Looking the kind up in discovery, or listing it for the first time.
    Starting,
    /// Discovery does not know the kind (a CRD not installed yet); retried with backoff.
    NotInstalled,
    /// The apiserver refuses to let the tracer read it (RBAC).
    Forbidden(String),
    /// The initial list is complete; changes are being watched.
    Ready,
    /// The last list or watch failed; retried with backoff.
    Failing(String),
}

impl KindState {
    pub fn is_ready(&self) -> bool {
        matches!(self, KindState::Ready)
    }

    pub fn describe(&self) -> String {
        match self {
            KindState::Starting => "starting: initial list not complete".into(),
            KindState::NotInstalled => "not installed: the apiserver does not serve this kind (yet)".into(),
            KindState::Forbidden(why) => format!("forbidden: {why}"),
            KindState::Ready => "ready".into(),
            KindState::Failing(why) => format!("failing: {why}"),
        }
    }
}

/// Why a kind is not ready, as `/readyz` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotReady {
    pub state: KindState,
    /// Since when its watch has been down, for a kind that had been listed; `None` for a kind
    /// whose first list has not completed.
    pub down_for: Option<Duration>,
}

impl NotReady {
    pub fn describe(&self) -> String {
        match self.down_for {
            Some(d) => format!("watch down for {}s: {}", d.as_secs(), self.state.describe()),
            None => self.state.describe(),
        }
    }
}

#[derive(Clone, Debug)]
struct KindHealth {
    state: KindState,
    /// Whether a list of the kind has completed.
    listed: bool,
    /// When the watch went down, while it is down.
    down_since: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct SourceHealth {
    kinds: Mutex<BTreeMap<Gvk, KindHealth>>,
}

impl SourceHealth {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Gvk, KindHealth>> {
        self.kinds.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set(&self, gvk: &Gvk, state: KindState) {
        let mut kinds = self.lock();
        let entry = kinds.entry(gvk.clone()).or_insert_with(|| KindHealth {
            state: KindState::Starting,
            listed: false,
            down_since: None,
        });
        let changed = entry.state != state;
        entry.listed |= state.is_ready();
        entry.state = state.clone();
        if changed {
            match &state {
                KindState::Ready | KindState::Starting => {
                    tracing::info!(%gvk, state = %state.describe(), "watch state")
                }
                _ => tracing::warn!(%gvk, state = %state.describe(), "watch state"),
            }
        }
    }

    /// The watch failed with `state` at `now`; it counts as down from its first failure.
    pub fn watch_down(&self, gvk: &Gvk, state: KindState, now: Instant) {
        self.set(gvk, state);
        if let Some(k) = self.lock().get_mut(gvk) {
            k.down_since.get_or_insert(now);
        }
    }

    /// The watch is running again. A kind that had been listed is ready at once (a re-list it
    /// may need runs while it is); one that had not waits for its first list.
    pub fn watch_up(&self, gvk: &Gvk) {
        let listed = {
            let mut kinds = self.lock();
            let Some(k) = kinds.get_mut(gvk) else { return };
            k.down_since = None;
            k.listed
        };
        if listed {
            self.set(gvk, KindState::Ready);
        }
    }

    pub fn get(&self, gvk: &Gvk) -> Option<KindState> {
        self.lock().get(gvk).map(|k| k.state.clone())
    }

    pub fn all(&self) -> BTreeMap<Gvk, KindState> {
        self.lock().iter().map(|(g, k)| (g.clone(), k.state.clone())).collect()
    }

    /// Of the kinds `of`, those not ready at `now`: never listed yet, or listed but with their
    /// watch down for longer than `grace`.
    pub fn not_ready(&self, of: impl IntoIterator<Item = Gvk>, grace: Duration, now: Instant) -> Vec<(Gvk, NotReady)> {
        let kinds = self.lock();
        of.into_iter()
            .filter_map(|g| {
                let Some(k) = kinds.get(&g) else {
                    return Some((g, NotReady { state: KindState::Starting, down_for: None }));
                };
                if !k.listed {
                    return (!k.state.is_ready()).then(|| (g, NotReady { state: k.state.clone(), down_for: None }));
                }
                let down_for = now.saturating_duration_since(k.down_since?);
                (down_for > grace).then(|| (g, NotReady { state: k.state.clone(), down_for: Some(down_for) }))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployments() -> Gvk {
        Gvk::new("apps", "v1", "Deployment")
    }

    #[test]
    fn a_kind_is_not_ready_until_its_first_list() {
        let h = SourceHealth::default();
        let now = Instant::now();
        assert_eq!(h.not_ready([deployments()], DEFAULT_READINESS_GRACE, now).len(), 1, "unknown yet");
        h.set(&deployments(), KindState::Starting);
        h.watch_down(&deployments(), KindState::Failing("refused".into()), now);
        let not_ready = h.not_ready([deployments()], DEFAULT_READINESS_GRACE, now);
        assert_eq!(not_ready[0].1.describe(), "failing: refused", "no grace before the first list");
        h.set(&deployments(), KindState::Ready);
        h.watch_up(&deployments());
        assert!(h.not_ready([deployments()], DEFAULT_READINESS_GRACE, now).is_empty());
    }

    #[test]
    fn a_listed_kind_whose_watch_is_down_is_not_ready_after_the_grace() {
        let h = SourceHealth::default();
        let t0 = Instant::now();
        h.set(&deployments(), KindState::Ready);
        h.watch_down(&deployments(), KindState::Failing("connection refused".into()), t0);
        let grace = Duration::from_secs(10);
        assert!(h.not_ready([deployments()], grace, t0 + Duration::from_secs(9)).is_empty(), "within the grace");
        // Later failures of the same outage do not restart the clock.
        h.watch_down(&deployments(), KindState::Failing("connection reset".into()), t0 + Duration::from_secs(5));
        let late = h.not_ready([deployments()], grace, t0 + Duration::from_secs(11));
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].1.describe(), "watch down for 11s: failing: connection reset");
        h.watch_up(&deployments());
        assert!(h.not_ready([deployments()], grace, t0 + Duration::from_secs(12)).is_empty());
        assert_eq!(h.get(&deployments()), Some(KindState::Ready));
    }
}
