//! `ha`: several replicas, one leader. Every replica watches, records and answers `POST /export`;
//! only the holder of a `coordination.k8s.io/v1` Lease runs the scheduled exports and writes
//! checkpoints.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

fn default_duration() -> Duration {
    Duration::from_secs(15)
}

fn default_renew() -> Duration {
    Duration::from_secs(10)
}

fn default_retry() -> Duration {
    Duration::from_secs(2)
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HaConfig {
    pub lease: LeaseConfig,
    /// This replica's name in the Lease's `holderIdentity`; by default the `POD_NAME` environment
    /// variable, else the host name (which is the pod's name in a pod).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeaseConfig {
    pub name: String,
    /// By default the `POD_NAMESPACE` environment variable, else the namespace of the pod's
    /// service account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// How long the Lease stays held without a renewal: a follower takes over this long after
    /// the leader's last renewal.
    #[serde(default = "default_duration", with = "crate::duration")]
    pub duration: Duration,
    /// How long the leader keeps trying to renew before it stops leading; shorter than
    /// `duration`, so that it has stopped before a follower can take over.
    #[serde(default = "default_renew", with = "crate::duration")]
    pub renew: Duration,
    /// How often each replica reads the Lease (and the leader renews it).
    #[serde(default = "default_retry", with = "crate::duration")]
    pub retry: Duration,
}

/// A Kubernetes object name (a DNS subdomain).
fn is_object_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

impl HaConfig {
    pub(crate) fn validate(&self, source_name: &str) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            source_name: source_name.into(),
            key: key.into(),
            message,
        };
        let lease = &self.lease;
        if !is_object_name(&lease.name) {
            return Err(invalid(
                "ha.lease.name",
                format!("`{}` is not a Kubernetes object name (lowercase letters, digits, `-` and `.`)", lease.name),
            ));
        }
        if let Some(ns) = &lease.namespace {
            if !is_object_name(ns) || ns.len() > 63 || ns.contains('.') {
                return Err(invalid("ha.lease.namespace", format!("`{ns}` is not a namespace name")));
            }
        }
        if lease.duration < Duration::from_secs(1) {
            return Err(invalid("ha.lease.duration", "must be at least 1s".into()));
        }
        if lease.renew >= lease.duration {
            return Err(invalid(
                "ha.lease.renew",
                format!(
                    "must be shorter than ha.lease.duration ({:?}): a leader that cannot renew must stop before a follower may take over",
                    lease.duration
                ),
            ));
        }
        if lease.retry.is_zero() || lease.retry >= lease.renew {
            return Err(invalid(
                "ha.lease.retry",
                format!("must be more than 0s and shorter than ha.lease.renew ({:?})", lease.renew),
            ));
        }
        if self.identity.as_deref().is_some_and(|i| i.trim().is_empty()) {
            return Err(invalid("ha.identity", "is empty: leave it out to use the pod's name".into()));
        }
        Ok(())
    }
}
