//! This replica's role: alone (no `ha` config), it leads for good; one of several, it leads
//! while it holds the Lease. The leader runs the scheduled exports and writes checkpoints; every
//! replica records and answers `POST /export`.

use std::sync::Arc;

use tokio::sync::watch;

use crate::lease::Elector;

#[derive(Clone)]
pub struct Role {
    leading: watch::Receiver<bool>,
    elector: Option<Arc<Elector>>,
    /// Keeps a lone replica's channel open: a closed channel would read as a change of role.
    _alone: Option<Arc<watch::Sender<bool>>>,
}

impl Role {
    pub fn alone() -> Self {
        let (sender, leading) = watch::channel(true);
        Role { leading, elector: None, _alone: Some(Arc::new(sender)) }
    }

    pub fn elected(elector: Arc<Elector>, leading: watch::Receiver<bool>) -> Self {
        Role { leading, elector: Some(elector), _alone: None }
    }

    pub fn leads(&self) -> bool {
        *self.leading.borrow()
    }

    /// Whether this replica is one of several that elect a leader.
    pub fn is_elected(&self) -> bool {
        self.elector.is_some()
    }

    /// `leader` or `follower`, as `/readyz` says it.
    pub fn name(&self) -> &'static str {
        if self.leads() {
            "leader"
        } else {
            "follower"
        }
    }

    /// How many times this replica started or stopped leading.
    pub fn transitions(&self) -> u64 {
        self.elector.as_ref().map_or(0, |e| e.transitions())
    }

    /// The end of the last window schedule `key` delivered, as far as the Lease tells (a lone
    /// replica keeps no progress: its schedules start from when it starts).
    pub fn progress(&self, key: &str) -> Option<i64> {
        self.elector.as_ref().and_then(|e| e.progress(key))
    }

    /// Records that schedule `key` delivered the window ending at `end`, where the next leader
    /// can read it.
    pub async fn record_progress(&self, key: &str, end: i64) {
        if let Some(elector) = &self.elector {
            elector.record_progress(key, end).await;
        }
    }

    /// Waits until this replica leads; false if `stop` turns true first.
    pub async fn until_leading(&self, stop: &mut watch::Receiver<bool>) -> bool {
        let mut leading = self.leading.clone();
        tokio::select! {
            led = leading.wait_for(|l| *l) => led.is_ok(),
            _ = stop.wait_for(|s| *s) => false,
        }
    }

    /// Resolves once this replica no longer leads (never for a lone replica).
    pub async fn lost(&self) {
        let mut leading = self.leading.clone();
        if leading.wait_for(|l| !*l).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
