//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's leaderelection does it
//! (kube-rs has none): the holder renews the Lease; a candidate takes it over once it has seen
//! the Lease unchanged for the Lease's duration, timed by its own clock from when it saw the
//! current version (so clocks that disagree between nodes do not matter); every write carries
//! the resourceVersion it was based on, so of two candidates racing for it the apiserver lets one
//! win and answers the other 409. A holder that cannot renew (the apiserver unreachable, a 403 on
//! leases) stops leading once `renew_deadline` has passed since its last renewal, before the
//! Lease can expire for the others.
//!
//! The Lease also carries the scheduled exports' progress, in annotations
//! `sk-tracer/schedule.<key>: <end of the last window delivered, unix seconds>`: the leader writes
//! them right after each delivery, and a replica that takes over goes on from there.
//!
//! What to do with each Lease read is decided by [`decide`], without I/O; [`Elector`] does the
//! reads and writes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
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

/// Where a pod's service account token says which namespace the pod runs in.
const POD_NAMESPACE_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("ha.lease.namespace is not set, and neither is POD_NAMESPACE, nor is this a pod ({POD_NAMESPACE_FILE} is missing): set one")]
    NoNamespace,
    #[error("ha.identity is not set, and neither is POD_NAME nor a host name: set one")]
    NoIdentity,
}

impl LeaseSettings {
    /// The settings `ha` asks for, with what it leaves out found as a pod finds it: the namespace
    /// from `POD_NAMESPACE` or the service account, the identity from `POD_NAME` or the host
    /// name (a pod's host name is its name). `var` reads an environment variable, `file` a file.
    pub fn resolve(
        ha: &sk_config::HaConfig,
        var: impl Fn(&str) -> Option<String>,
        file: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        let present = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let namespace = present(ha.lease.namespace.clone())
            .or_else(|| present(var("POD_NAMESPACE")))
            .or_else(|| present(file(POD_NAMESPACE_FILE)))
            .ok_or(SettingsError::NoNamespace)?;
        let identity = present(ha.identity.clone())
            .or_else(|| present(var("POD_NAME")))
            .or_else(|| present(var("HOSTNAME")))
            .or_else(|| present(file("/proc/sys/kernel/hostname")))
            .ok_or(SettingsError::NoIdentity)?;
        Ok(LeaseSettings {
            name: ha.lease.name.clone(),
            namespace,
            identity,
            duration: ha.lease.duration,
            renew_deadline: ha.lease.renew,
            retry: ha.lease.retry,
        })
    }
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

/// The annotation prefix of the schedules' progress.
pub const PROGRESS_PREFIX: &str = "sk-tracer/schedule.";

/// Each progress annotation of `theirs` and `ours`, with the later end where both have one:
/// progress only grows, so the larger value is the newer, whoever wrote it.
fn merged_progress(theirs: Option<&BTreeMap<String, String>>, ours: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    let mut merged = ours.clone();
    for (key, value) in theirs.into_iter().flatten() {
        let (Some(key), Ok(end)) = (key.strip_prefix(PROGRESS_PREFIX), value.parse::<i64>()) else { continue };
        let slot = merged.entry(key.to_string()).or_insert(end);
        *slot = (*slot).max(end);
    }
    merged
}

pub struct Elector {
    api: Api<Lease>,
    settings: LeaseSettings,
    leading: watch::Sender<bool>,
    /// The Lease's resourceVersion when this replica last saw it change, and when that was.
    observed: std::sync::Mutex<Option<(String, Instant)>>,
    /// One round at a time: two writes based on the same read would make the second a 409, which
    /// reads as having lost the Lease.
    rounds: tokio::sync::Mutex<()>,
    /// The schedules' progress, by schedule key: what this replica delivered, and what it read
    /// from the Lease when it last held it.
    progress: std::sync::Mutex<BTreeMap<String, i64>>,
    transitions: AtomicU64,
}

impl Elector {
    /// An elector and the receiver that says whether this replica leads (false at first).
    pub fn new(client: kube::Client, settings: LeaseSettings) -> (Arc<Self>, watch::Receiver<bool>) {
        let (leading, rx) = watch::channel(false);
        let api = Api::namespaced(client, &settings.namespace);
        let elector = Elector {
            api,
            settings,
            leading,
            observed: std::sync::Mutex::default(),
            rounds: tokio::sync::Mutex::default(),
            progress: std::sync::Mutex::default(),
            transitions: AtomicU64::new(0),
        };
        (Arc::new(elector), rx)
    }

    /// The annotations for a write of the Lease: those it has, with the progress this replica
    /// knows and the Lease's own merged, which this replica takes up as it holds the Lease.
    fn annotate(&self, existing: Option<BTreeMap<String, String>>) -> Option<BTreeMap<String, String>> {
        let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
        *progress = merged_progress(existing.as_ref(), &progress);
        let mut annotations = existing.unwrap_or_default();
        annotations.extend(progress.iter().map(|(key, end)| (format!("{PROGRESS_PREFIX}{key}"), end.to_string())));
        (!annotations.is_empty()).then_some(annotations)
    }

    /// How many times this replica started or stopped leading.
    pub fn transitions(&self) -> u64 {
        self.transitions.load(Ordering::Relaxed)
    }

    /// The end of the last window schedule `key` delivered, as the Lease said when this replica
    /// acquired it, or as this replica has delivered since.
    pub fn progress(&self, key: &str) -> Option<i64> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner()).get(key).copied()
    }

    /// Records that schedule `key` delivered the window ending at `end`, and writes it to the
    /// Lease at once if this replica holds it (else with the next renewal). Whether the write
    /// succeeded: a failed one is retried by the next round.
    pub async fn record_progress(&self, key: &str, end: i64) -> bool {
        {
            let mut progress = self.progress.lock().unwrap_or_else(|p| p.into_inner());
            let slot = progress.entry(key.to_string()).or_insert(end);
            *slot = (*slot).max(end);
        }
        match self.round().await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(lease = %self.settings.name, error = %e, "could not write the schedules' progress to the lease");
                false
            }
        }
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
        let _one_at_a_time = self.rounds.lock().await;
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
                        annotations: self.annotate(None),
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
                lease.metadata.annotations = self.annotate(lease.metadata.annotations.take());
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
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
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
                    self.transitions.fetch_add(1, Ordering::Relaxed);
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
        // The progress goes with the Lease, so that the next holder goes on from this one's.
        lease.metadata.annotations = self.annotate(lease.metadata.annotations.take());
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
    fn settings_take_what_the_config_leaves_out_from_the_pod() {
        let ha = |namespace: Option<&str>, identity: Option<&str>| sk_config::HaConfig {
            lease: sk_config::LeaseConfig {
                name: "l".into(),
                namespace: namespace.map(str::to_string),
                duration: secs(15),
                renew: secs(10),
                retry: secs(2),
            },
            identity: identity.map(str::to_string),
        };
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        let no_file = |_: &str| None;
        let s = LeaseSettings::resolve(&ha(Some("ns"), Some("me")), env(&[("POD_NAME", "pod")]), no_file).unwrap();
        assert_eq!((s.namespace.as_str(), s.identity.as_str(), s.renew_deadline), ("ns", "me", secs(10)));
        let pod = env(&[("POD_NAMESPACE", "sk"), ("POD_NAME", "sk-0"), ("HOSTNAME", "h")]);
        let s = LeaseSettings::resolve(&ha(None, None), pod, no_file).unwrap();
        assert_eq!((s.namespace.as_str(), s.identity.as_str()), ("sk", "sk-0"));
        let files = |f: &str| Some(if f.contains("serviceaccount") { "from-sa\n" } else { "host\n" }.to_string());
        let s = LeaseSettings::resolve(&ha(None, None), env(&[]), files).unwrap();
        assert_eq!((s.namespace.as_str(), s.identity.as_str()), ("from-sa", "host"));
        assert!(matches!(LeaseSettings::resolve(&ha(None, None), env(&[]), no_file), Err(SettingsError::NoNamespace)));
        let e = LeaseSettings::resolve(&ha(Some("ns"), None), env(&[("HOSTNAME", " ")]), no_file).unwrap_err();
        assert!(e.to_string().contains("ha.identity"), "{e}");
    }

    #[test]
    fn progress_merges_to_the_later_end() {
        let theirs: BTreeMap<String, String> = [
            (format!("{PROGRESS_PREFIX}a"), "100".to_string()),
            (format!("{PROGRESS_PREFIX}b"), "50".to_string()),
            (format!("{PROGRESS_PREFIX}c"), "not a number".to_string()),
            ("other".to_string(), "7".to_string()),
        ]
        .into();
        let ours: BTreeMap<String, i64> = [("a".to_string(), 90), ("b".to_string(), 60), ("d".to_string(), 1)].into();
        let merged = merged_progress(Some(&theirs), &ours);
        assert_eq!(merged, [("a".to_string(), 100), ("b".to_string(), 60), ("d".to_string(), 1)].into());
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
