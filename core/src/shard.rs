//! Namespace shards: which part of the cluster one of several tracer replicas records.
//!
//! A namespace belongs to shard `stable_hash(namespace) mod count`, where the namespace name is
//! hashed as a JSON string by the trace format's stable hash (docs/formats.md, "The stable hash"). That
//! definition is fixed by the file format, so a namespace stays on its shard across versions,
//! restarts and machines, and `examples/stable_hash.py '"team-a"'` computes it in Python.
//!
//! Label selectors cannot select namespaces by a hash of their name, so every replica watches
//! everything and the rule is applied to each change as it arrives, before the ingest loop:
//! - a namespaced object or pod is recorded, and fed to owner resolution, only by its
//!   namespace's shard. A pod's owners live in the pod's namespace, except cluster-scoped ones;
//! - a cluster-scoped object is recorded by shard 0 alone, but every shard keeps it in its owner
//!   cache (as a metadata-only owner), since a pod in any namespace may name it as an owner and
//!   resolution walks through it.

use crate::ownership::{KnownOwner, OwnerReference};
use crate::sources::{Change, ChangeKind, Payload};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShardError {
    #[error("the shard count must be at least 1")]
    NoShards,
    #[error("shard index {index} is not below the shard count {count} (shards are numbered from 0)")]
    OutOfRange { index: u32, count: u32 },
}

/// One shard of `count`: the namespaces whose hash modulo `count` is `index`, and, for shard 0,
/// the cluster-scoped objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

/// The stable hash of the name as a JSON string, taken without building a value, so that
/// filtering a change allocates nothing.
fn namespace_hash(namespace: &str) -> u64 {
    crate::hash::stable_hash_str(namespace)
}

/// The shard of `count` that records `namespace` (non-empty).
pub fn shard_of_namespace(namespace: &str, count: u32) -> u32 {
    (namespace_hash(namespace) % u64::from(count.max(1))) as u32
}

/// What a shard does with an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Record it and use it for owner resolution, as an unsharded tracer does.
    Keep,
    /// Only remember it as a possible owner (cluster-scoped objects on shards other than 0).
    OwnerOnly,
    Drop,
}

/// A change as a shard takes it.
#[derive(Debug)]
pub enum Admission {
    /// This shard's to ingest (possibly reduced to owner information).
    Mine(Change),
    /// Another shard's: only its kind is left, to be counted.
    Other(crate::Gvk),
}

impl Admission {
    pub fn mine(self) -> Option<Change> {
        match self {
            Admission::Mine(c) => Some(c),
            Admission::Other(_) => None,
        }
    }
}

impl Shard {
    pub fn new(index: u32, count: u32) -> Result<Self, ShardError> {
        if count == 0 {
            return Err(ShardError::NoShards);
        }
        if index >= count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }

    pub fn index(&self) -> u32 {
        self.index
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    /// What this shard does with an object in `namespace` (empty for a cluster-scoped one).
    pub fn verdict(&self, namespace: &str) -> Verdict {
        if namespace.is_empty() {
            if self.index == 0 {
                Verdict::Keep
            } else {
                Verdict::OwnerOnly
            }
        } else if shard_of_namespace(namespace, self.count) == self.index {
            Verdict::Keep
        } else {
            Verdict::Drop
        }
    }

    /// Applies the rule to a change as it arrives. A cluster-scoped object that another shard
    /// records comes back as a metadata-only owner.
    pub fn admit(&self, change: Change) -> Admission {
        let Change { gvk, at, kind } = change;
        let admitted = match kind {
            ChangeKind::Applied(p) => self.admit_payload(&gvk, p).map(ChangeKind::Applied),
            ChangeKind::Deleted(p) => self.admit_payload(&gvk, p).map(ChangeKind::Deleted),
            ChangeKind::Relisted(p) => self.admit_payload(&gvk, p).map(ChangeKind::Relisted),
            // Every shard lists every kind: the list's end reconciles what this shard holds, and a
            // gap in a kind's watch is a gap in every shard.
            k @ (ChangeKind::RelistStarted | ChangeKind::RelistDone | ChangeKind::Gap { .. }) => Some(k),
        };
        match admitted {
            Some(kind) => Admission::Mine(Change { gvk, at, kind }),
            None => Admission::Other(gvk),
        }
    }

    fn admit_payload(&self, gvk: &crate::Gvk, payload: Payload) -> Option<Payload> {
        let namespace = match &payload {
            Payload::Object(obj) => obj.pointer("/metadata/namespace").and_then(|v| v.as_str()).unwrap_or(""),
            Payload::Raw(raw) => raw.metadata.namespace.as_deref().unwrap_or(""),
            Payload::Meta { info, .. } => info.namespace.as_str(),
        };
        match self.verdict(namespace) {
            Verdict::Keep => Some(payload),
            Verdict::Drop => None,
            Verdict::OwnerOnly => match payload {
                meta @ Payload::Meta { .. } => Some(meta),
                Payload::Object(obj) => owner_only(gvk, &obj),
                Payload::Raw(raw) => owner_only(gvk, &raw.to_json(gvk)),
            },
        }
    }
}

/// A cluster-scoped object reduced to what owner resolution needs of it.
fn owner_only(gvk: &crate::Gvk, obj: &serde_json::Value) -> Option<Payload> {
    let uid = obj.pointer("/metadata/uid").and_then(|v| v.as_str())?.to_string();
    let name = obj.pointer("/metadata/name").and_then(|v| v.as_str()).unwrap_or("").to_string();
    let owners = OwnerReference::of_object(obj);
    Some(Payload::Meta { uid, info: KnownOwner { gvk: gvk.clone(), namespace: String::new(), name, owners } })
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::Gvk;

    #[test]
    fn a_namespace_hashes_as_the_stable_hash_of_its_name() {
        for ns in [
            "default",
            "kube-system",
            "team-a",
            "ünïcode",
            "a-very-long-namespace-name-of-sixty-three-characters-xxxxxxxxxx",
        ] {
            assert_eq!(namespace_hash(ns), crate::stable_hash(&Value::String(ns.into())), "{ns}");
        }
    }

    /// The assignment is part of the deployment's contract: a namespace must never move to another
    /// shard between versions. These values are those of the documented hash.
    #[test]
    fn the_assignment_never_changes() {
        let assigned: Vec<u32> = ["default", "kube-system", "team-a", "team-b", "team-c", "prod"]
            .iter()
            .map(|ns| shard_of_namespace(ns, 3))
            .collect();
        assert_eq!(assigned, PINNED);
    }

    const PINNED: [u32; 6] = [2, 1, 1, 2, 1, 1];

    #[test]
    fn namespaces_spread_over_the_shards() {
        for count in [2u32, 3, 5, 8] {
            let mut per = vec![0u32; count as usize];
            for i in 0..10_000 {
                per[shard_of_namespace(&format!("ns-{i}"), count) as usize] += 1;
            }
            let even = 10_000 / count;
            assert!(per.iter().all(|&n| n > even * 9 / 10 && n < even * 11 / 10), "{count}: {per:?}");
        }
    }

    #[test]
    fn every_namespace_has_exactly_one_shard_and_cluster_scope_is_shard_zeros() {
        for count in 1..6 {
            let shards: Vec<Shard> = (0..count).map(|i| Shard::new(i, count).unwrap()).collect();
            for ns in ["default", "a", "b", "team-x", "z"] {
                let keeping = shards.iter().filter(|s| s.verdict(ns) == Verdict::Keep).count();
                assert_eq!(keeping, 1, "{ns} of {count}");
            }
            assert_eq!(shards[0].verdict(""), Verdict::Keep);
            assert!(shards[1..].iter().all(|s| s.verdict("") == Verdict::OwnerOnly));
        }
        assert_eq!(Shard::new(0, 1).unwrap().verdict("anything"), Verdict::Keep, "one shard is everything");
    }

    #[test]
    fn bad_shards_are_refused() {
        assert_eq!(Shard::new(0, 0), Err(ShardError::NoShards));
        assert_eq!(Shard::new(3, 3), Err(ShardError::OutOfRange { index: 3, count: 3 }));
    }

    fn change(kind: ChangeKind) -> Change {
        Change { gvk: Gvk::new("example.com", "v1", "Cluster"), at: 1, kind }
    }

    fn object(namespace: Option<&str>) -> Value {
        let mut obj = json!({"apiVersion": "example.com/v1", "kind": "Cluster", "metadata": {"name": "c", "uid": "u-1",
            "ownerReferences": [{"apiVersion": "example.com/v1", "kind": "Top", "name": "t", "uid": "u-0"}]}});
        if let Some(ns) = namespace {
            obj["metadata"]["namespace"] = json!(ns);
        }
        obj
    }

    #[test]
    fn changes_are_kept_dropped_or_reduced_to_their_owner_information() {
        let (zero, one) = (Shard::new(0, 2).unwrap(), Shard::new(1, 2).unwrap());
        let names: Vec<String> = (0..16).map(|i| format!("ns-{i}")).collect();
        let mine = names.iter().find(|ns| shard_of_namespace(ns, 2) == 1).unwrap().as_str();
        let applied = |obj: Value| change(ChangeKind::Applied(Payload::Object(obj)));

        // A namespaced object: its shard keeps it whole, the other drops it.
        assert!(matches!(
            one.admit(applied(object(Some(mine)))).mine().unwrap().kind,
            ChangeKind::Applied(Payload::Object(_))
        ));
        assert!(zero.admit(applied(object(Some(mine)))).mine().is_none());
        assert!(zero.admit(change(ChangeKind::Deleted(Payload::Object(object(Some(mine)))))).mine().is_none());

        // A cluster-scoped one: shard 0 records it, shard 1 learns it as an owner only.
        assert!(matches!(
            zero.admit(applied(object(None))).mine().unwrap().kind,
            ChangeKind::Applied(Payload::Object(_))
        ));
        let ChangeKind::Applied(Payload::Meta { uid, info }) = one.admit(applied(object(None))).mine().unwrap().kind
        else {
            panic!("a metadata-only owner")
        };
        assert_eq!((uid.as_str(), info.name.as_str(), info.namespace.as_str()), ("u-1", "c", ""));
        assert_eq!(info.owners[0].uid, "u-0");
        let relisted = one.admit(change(ChangeKind::Relisted(Payload::Object(object(None))))).mine().unwrap();
        assert!(matches!(relisted.kind, ChangeKind::Relisted(Payload::Meta { .. })));

        // The list's boundaries reach every shard.
        assert!(one.admit(change(ChangeKind::RelistStarted)).mine().is_some());
        assert!(zero.admit(change(ChangeKind::RelistDone)).mine().is_some());
    }
}
