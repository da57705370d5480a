//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does it
//! (kube-rs has none): the holder renews the Lease; a candidate takes it over once it has seen
//! the Lease unchanged for the Lease's duration, timed by its own clock from when it saw the
//! current version (so clocks that disagree between nodes do not matter); every write carries
//! the resourceVersion it was based on, so of two candidates racing for it the apiserver lets one
//! win and answers the other 409. A holder that cannot renew (the apiserver unreachable, a 403 on
//! leases) stops leading once `renew_deadline` has passed since its last renewal, before the
//! Lease can expire for the others.
//!
//! What to do with each Lease read is decided by [`decide`], without I/O; [`Elector`] does the
//! reads and writes.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use tokio::sync::watch;

#[derive(Clone, Debug)]
pub struct LeaseSettings {
    pub name: String,
    pub namespace: String,
    /// This replica's name in the Lease's `holderIdentity` (the pod's name, say).
    pub identity: String,
    /// How long a Lease stays held without renewal.
    pub duration: Duration,
    /// How long the holder keeps trying to renew before it stops leading; shorter than
    /// `duration`, so that it has stopped before another replica may take over.
    pub renew_deadline: Duration,
    /// How often a round runs: the holder renews, the others look for an expired Lease.
    pub retry: Duration,
}

/// What a candidate does with the Lease it read.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// There is no Lease: create it, held by this replica.
    Create,
    /// This replica holds it: renew it.
    Renew,
    /// Another replica held it and let it expire (or released it): take it over.
    TakeOver,
    /// Another replica holds it.
    Follow { holder: String },
}

/// The step for a Lease (`None` when there is none) that this replica has seen unchanged for
/// `unchanged_for`.
pub fn decide(lease: Option<&LeaseSpec>, me: &str, unchanged_for: Duration) -> Step {
    let Some(spec) = lease else { return Step::Create };
    let holder = spec.holder_identity.as_deref().unwrap_or("");
    if holder == me {
        return Step::Renew;
    }
    let duration = Duration::from_secs(spec.lease_duration_seconds.unwrap_or(0).max(0).unsigned_abs().into());
    if holder.is_empty() || unchanged_for >= duration {
        Step::TakeOver
    } else {
        Step::Follow { holder: holder.to_string() }
    }
}

pub struct Elector {
    api: Api<Lease>,
    settings: LeaseSettings,
    leading: watch::Sender<bool>,
    /// The Lease's resourceVersion when this replica last saw it change, and when that was.
    observed: std::sync::Mutex<Option<(String, Instant)>>,
}

impl Elector {
    /// An elector and the receiver that says whether this replica leads (false at first).
    pub fn new(client: kube::Client, settings: LeaseSettings) -> (Self, watch::Receiver<bool>) {
        let (leading, rx) = watch::channel(false);
        let api = Api::namespaced(client, &settings.namespace);
        (Elector { api, settings, leading, observed: std::sync::Mutex::default() }, rx)
    }

    fn spec(&self, now: Timestamp, acquired: Option<MicroTime>, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.settings.identity.clone()),
            lease_duration_seconds: Some(self.settings.duration.as_secs().max(1).try_into().unwrap_or(i32::MAX)),
            acquire_time: Some(acquired.unwrap_or(MicroTime(now))),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..Default::default()
        }
    }

    /// One round: read the Lease, decide, write. `Ok(true)` when this replica holds it after
    /// the round; a lost race (409) is `Ok(false)`, any other failure an error.
    pub async fn round(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let current = self.api.get_opt(&self.settings.name).await?;
        let unchanged_for = {
            let version = current.as_ref().and_then(|l| l.metadata.resource_version.clone()).unwrap_or_default();
            let mut observed = self.observed.lock().unwrap_or_else(|p| p.into_inner());
            match &*observed {
                Some((seen, since)) if *seen == version => since.elapsed(),
                _ => {
                    *observed = Some((version, Instant::now()));
                    Duration::ZERO
                }
            }
        };
        let step = decide(current.as_ref().and_then(|l| l.spec.as_ref()), &self.settings.identity, unchanged_for);
        let written = match (step, current) {
            (Step::Follow { .. }, _) => return Ok(false),
            (Step::Create, _) => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.settings.name.clone()),
                        namespace: Some(self.settings.namespace.clone()),
                        ..Default::default()
                    },
                    spec: Some(self.spec(now, None, 0)),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            (step, Some(mut lease)) => {
                let old = lease.spec.take().unwrap_or_default();
                let transitions = old.lease_transitions.unwrap_or(0);
                lease.spec = Some(match step {
                    Step::Renew => self.spec(now, old.acquire_time, transitions),
                    _ => self.spec(now, None, transitions.saturating_add(1)),
                });
                // The resourceVersion read stays in the metadata: a write since then is a 409.
                self.api.replace(&self.settings.name, &PostParams::default(), &lease).await
            }
            (_, None) => return Ok(false),
        };
        match written {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Runs rounds every `retry` until `stop` turns true, publishing whether this replica leads.
    /// A holder whose renewals fail stops leading once `renew_deadline` has passed since the last
    /// one that succeeded. At the end a holder releases the Lease, so that another replica takes
    /// over at once rather than after it expires.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut renewed_at: Option<tokio::time::Instant> = None;
        loop {
            let started = tokio::time::Instant::now();
            match self.round().await {
                Ok(true) => renewed_at = Some(started),
                Ok(false) => renewed_at = None,
                Err(e) => tracing::warn!(lease = %self.settings.name, error = %e, "lease round failed"),
            }
            let leads = renewed_at.is_some_and(|at| at.elapsed() < self.settings.renew_deadline);
            if !leads {
                renewed_at = None;
            }
            self.leading.send_if_modified(|was| {
                let changed = *was != leads;
                if changed {
                    tracing::info!(lease = %self.settings.name, identity = %self.settings.identity, leads, "leadership changed");
                }
                *was = leads;
                changed
            });
            tokio::select! {
                () = tokio::time::sleep(self.settings.retry) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        if *self.leading.borrow() {
            self.leading.send_replace(false);
            if let Err(e) = self.release().await {
                tracing::warn!(lease = %self.settings.name, error = %e, "could not release the lease");
            }
        }
    }

    /// Gives the Lease up if this replica holds it: no holder, so the next round of another
    /// replica takes it over.
    pub async fn release(&self) -> Result<(), kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.settings.name).await? else { return Ok(()) };
        let Some(spec) = lease.spec.as_mut() else { return Ok(()) };
        if spec.holder_identity.as_deref() != Some(self.settings.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        self.api.replace(&self.settings.name, &PostParams::default(), &lease).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: Option<&str>, duration: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: holder.map(str::to_string),
            lease_duration_seconds: Some(duration),
            ..Default::default()
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn each_lease_state_has_its_step() {
        assert_eq!(decide(None, "a", secs(0)), Step::Create);
        assert_eq!(decide(Some(&spec(Some("a"), 15)), "a", secs(60)), Step::Renew, "even long unrenewed, mine");
        assert_eq!(decide(Some(&spec(Some("b"), 15)), "a", secs(10)), Step::Follow { holder: "b".into() });
        assert_eq!(decide(Some(&spec(Some("b"), 15)), "a", secs(15)), Step::TakeOver, "unchanged for its duration");
        assert_eq!(decide(Some(&spec(None, 15)), "a", secs(0)), Step::TakeOver, "released");
        assert_eq!(decide(Some(&spec(Some(""), 15)), "a", secs(0)), Step::TakeOver, "released");
        assert_eq!(decide(Some(&spec(Some("b"), -3)), "a", secs(0)), Step::TakeOver, "a nonsense duration is none");
    }
}
