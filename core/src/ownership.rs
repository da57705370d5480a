//! Owner resolution: which tracked object a pod's lifecycle is recorded under.
//!
//! Walking a pod's ownerReferences upward needs each intermediate owner's own references (a
//! ReplicaSet's Deployment, a Job's CronJob). They come from an in-memory cache fed by watches
//! (the tracked kinds' watches and metadata-only watches on intermediate kinds), never from a
//! request per pod, so the load on the apiserver does not grow with the number of pods.

use std::collections::{HashMap, HashSet, VecDeque};

use serde_json::Value;

use crate::gvk::Gvk;
use crate::trace::{namespaced_name, TraceIdentity};
use crate::tracer_config::TracerConfig;

/// Ownership chains are short (Pod → ReplicaSet → Deployment); a cycle or an absurd chain ends
/// the walk here.
const MAX_DEPTH: usize = 16;

/// One entry of an object's `metadata.ownerReferences`: the owner's uid and identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerReference {
    pub uid: String,
    pub gvk: Gvk,
    pub name: String,
    pub controller: bool,
}

impl OwnerReference {
    /// The ownerReferences of an object given as JSON; malformed entries are skipped.
    pub fn of_object(obj: &Value) -> Vec<OwnerReference> {
        let refs = obj.pointer("/metadata/ownerReferences").and_then(Value::as_array);
        refs.into_iter()
            .flatten()
            .filter_map(|r| {
                Some(OwnerReference {
                    uid: r.get("uid")?.as_str()?.to_string(),
                    gvk: Gvk::from_api_version(r.get("apiVersion")?.as_str()?, r.get("kind")?.as_str()?),
                    name: r.get("name")?.as_str()?.to_string(),
                    controller: r.get("controller").and_then(Value::as_bool).unwrap_or(false),
                })
            })
            .collect()
    }
}

/// The managing owner: the controller reference, else the first one.
fn managing(refs: &[OwnerReference]) -> Option<&OwnerReference> {
    refs.iter().find(|r| r.controller).or_else(|| refs.first())
}

/// A possible owner as the cache knows it: its identity and its own owner references.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownOwner {
    pub gvk: Gvk,
    pub namespace: String,
    pub name: String,
    pub owners: Vec<OwnerReference>,
}

/// Deleted owners remembered so that their pods, deleted after them, are known to have no owner
/// rather than to wait for one. Garbage collection deletes pods seconds after their owner, so
/// the most recent deletions are enough.
const MAX_GONE: usize = 65_536;

/// What is known about possible owners, by uid, which owners are known to be deleted, and which
/// kinds have been listed completely.
#[derive(Debug, Default)]
pub struct OwnerCache {
    /// Boxed: a hash table keeps up to half its slots empty, and an empty slot costs the size of
    /// a value, which is a pointer rather than a whole `KnownOwner`.
    by_uid: HashMap<String, Box<KnownOwner>>,
    gone: HashSet<String>,
    gone_order: VecDeque<String>,
    synced: HashSet<Gvk>,
}

impl OwnerCache {
    pub fn upsert(&mut self, uid: String, info: KnownOwner) {
        self.by_uid.insert(uid, Box::new(info));
    }

    /// The owner was deleted: pods that still name it have no owner from now on.
    pub fn remove(&mut self, uid: &str) {
        self.by_uid.remove(uid);
        self.mark_gone(uid.to_string());
    }

    fn mark_gone(&mut self, uid: String) {
        if self.gone.insert(uid.clone()) {
            self.gone_order.push_back(uid);
            if self.gone_order.len() > MAX_GONE {
                if let Some(oldest) = self.gone_order.pop_front() {
                    self.gone.remove(&oldest);
                }
            }
        }
    }

    /// After a kind's (re-)list: every object of that kind not in `alive` is gone.
    pub fn retain_kind(&mut self, gvk: &Gvk, alive: &HashSet<String>) {
        let gone: Vec<String> = self
            .by_uid
            .iter()
            .filter(|(uid, info)| &info.gvk == gvk && !alive.contains(*uid))
            .map(|(u, _)| u.clone())
            .collect();
        for uid in gone {
            self.remove(&uid);
        }
        self.synced.insert(gvk.clone());
    }

    pub fn contains(&self, uid: &str) -> bool {
        self.by_uid.contains_key(uid)
    }

    pub fn is_gone(&self, uid: &str) -> bool {
        self.gone.contains(uid)
    }

    pub fn is_synced(&self, gvk: &Gvk) -> bool {
        self.synced.contains(gvk)
    }

    pub fn len(&self) -> usize {
        self.by_uid.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_uid.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Record the pod's lifecycle under this owner.
    Owner(TraceIdentity),
    /// No ancestor is tracked with `trackLifecycle`.
    Untracked,
    /// This ancestor is not (yet) in the cache: watch its kind, then try again when it arrives.
    /// Watches on different kinds are not ordered, so a pod may well arrive before its
    /// ReplicaSet, even after the ReplicaSets' initial list.
    Waiting(OwnerReference),
}

/// Whether a pod with these owners may itself own pods, and so is kept as a possible owner. The
/// built-in controllers' pods run workloads, not controllers that start pods (and are most of a
/// cluster's pods, too many to remember); pods of operators' kinds, of other pods and bare pods
/// may: a Spark driver, owned by its SparkApplication or started bare by `spark-submit`, owns its
/// executors.
pub fn pod_may_own_pods(owners: &[OwnerReference]) -> bool {
    managing(owners).is_none_or(|owner| {
        !matches!(
            (owner.gvk.group.as_str(), owner.gvk.kind.as_str()),
            ("apps", "ReplicaSet" | "StatefulSet" | "DaemonSet") | ("batch", "Job") | ("", "Node")
        )
    })
}

/// Finds the tracked object a pod's lifecycle is recorded under: the nearest ancestor whose kind is
/// tracked with `trackLifecycle`, skipping ancestors that are themselves owned by an object of a
/// tracked kind. Those are not exported (the simulator recreates them from their owner, as it
/// recreates a CronJob's Jobs), so lifecycles recorded under them would be lost. A pod without
/// owners is its own owner when bare pods (`v1.Pod`) are tracked with `trackLifecycle`.
pub fn resolve_owner(pod: &Value, config: &TracerConfig, cache: &OwnerCache) -> Resolution {
    let namespace = pod.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
    let mut refs = OwnerReference::of_object(pod);
    if refs.is_empty() {
        let own = Gvk::new("", "v1", "Pod");
        let name = pod.pointer("/metadata/name").and_then(Value::as_str);
        return match (config.get(&own), name) {
            (Some(cfg), Some(name)) if cfg.track_lifecycle => {
                Resolution::Owner(TraceIdentity::new(own, namespaced_name(namespace, name)))
            }
            _ => Resolution::Untracked,
        };
    }
    for _ in 0..MAX_DEPTH {
        let Some(owner) = managing(&refs) else { return Resolution::Untracked };
        let tracked = config.get(&owner.gvk);
        let Some(info) = cache.by_uid.get(&owner.uid) else {
            return if cache.is_gone(&owner.uid) { Resolution::Untracked } else { Resolution::Waiting(owner.clone()) };
        };
        let owned_by_tracked = managing(&info.owners).is_some_and(|up| config.get(&up.gvk).is_some());
        if tracked.is_some_and(|c| c.track_lifecycle) && !owned_by_tracked {
            return Resolution::Owner(TraceIdentity::new(
                owner.gvk.clone(),
                namespaced_name(&info.namespace, &owner.name),
            ));
        }
        refs = info.owners.clone();
    }
    Resolution::Untracked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracer_config::TrackedObjectConfig;
    use serde_json::json;

    fn config(kinds: &[(&str, bool)]) -> TracerConfig {
        let mut c = TracerConfig::default();
        for (gvk, lifecycle) in kinds {
            c.tracked_objects.insert(
                gvk.parse().unwrap(),
                TrackedObjectConfig { pod_spec_template_paths: vec![], track_lifecycle: *lifecycle, skip_owned: false },
            );
        }
        c
    }

    fn owned_by(api_version: &str, kind: &str, name: &str, uid: &str) -> Value {
        json!({"metadata": {"namespace": "d", "name": "p", "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "not-the-controller", "uid": "cm"},
            {"apiVersion": api_version, "kind": kind, "name": name, "uid": uid, "controller": true}]}})
    }

    fn info(gvk: &str, name: &str, owners: Vec<OwnerReference>) -> KnownOwner {
        KnownOwner { gvk: gvk.parse().unwrap(), namespace: "d".into(), name: name.into(), owners }
    }

    fn waits_for(r: Resolution) -> Option<Gvk> {
        match r {
            Resolution::Waiting(owner) => Some(owner.gvk),
            _ => None,
        }
    }

    fn dep() -> Gvk {
        "apps/v1.Deployment".parse().unwrap()
    }

    #[test]
    fn walks_pod_replicaset_deployment() {
        let cfg = config(&[("apps/v1.Deployment", true)]);
        let pod = owned_by("apps/v1", "ReplicaSet", "web-abc", "rs1");
        let mut cache = OwnerCache::default();
        assert_eq!(waits_for(resolve_owner(&pod, &cfg, &cache)), Some("apps/v1.ReplicaSet".parse().unwrap()));
        let to_dep = OwnerReference { uid: "d1".into(), gvk: dep(), name: "web".into(), controller: true };
        cache.upsert("rs1".into(), info("apps/v1.ReplicaSet", "web-abc", vec![to_dep]));
        assert_eq!(waits_for(resolve_owner(&pod, &cfg, &cache)), Some(dep()));
        cache.upsert("d1".into(), info("apps/v1.Deployment", "web", vec![]));
        assert_eq!(resolve_owner(&pod, &cfg, &cache), Resolution::Owner(TraceIdentity::new(dep(), "d/web")));
    }

    #[test]
    fn nearest_exported_ancestor_with_track_lifecycle_wins() {
        // A CronJob's Jobs are not exported (the simulator recreates them), so their pods go to
        // the CronJob even where Jobs track lifecycles themselves.
        let cfg = config(&[("batch/v1.Job", true), ("batch/v1.CronJob", true)]);
        let pod = owned_by("batch/v1", "Job", "nightly-1", "j1");
        let mut cache = OwnerCache::default();
        let cron = OwnerReference {
            uid: "c1".into(),
            gvk: "batch/v1.CronJob".parse().unwrap(),
            name: "nightly".into(),
            controller: true,
        };
        cache.upsert("j1".into(), info("batch/v1.Job", "nightly-1", vec![cron]));
        assert_eq!(waits_for(resolve_owner(&pod, &cfg, &cache)), Some("batch/v1.CronJob".parse().unwrap()));
        cache.upsert("c1".into(), info("batch/v1.CronJob", "nightly", vec![]));
        assert_eq!(
            resolve_owner(&pod, &cfg, &cache),
            Resolution::Owner(TraceIdentity::new("batch/v1.CronJob".parse().unwrap(), "d/nightly"))
        );
        // A Job of its own records its pods' lifecycles itself.
        cache.upsert("j1".into(), info("batch/v1.Job", "nightly-1", vec![]));
        assert_eq!(
            resolve_owner(&pod, &cfg, &cache),
            Resolution::Owner(TraceIdentity::new("batch/v1.Job".parse().unwrap(), "d/nightly-1"))
        );
        // Tracked without lifecycles, it records none.
        let cfg = config(&[("batch/v1.Job", false), ("batch/v1.CronJob", true)]);
        assert_eq!(resolve_owner(&pod, &cfg, &cache), Resolution::Untracked);
    }

    #[test]
    fn a_tracked_owner_waits_for_its_own_watch() {
        let cfg = config(&[("batch.volcano.sh/v1alpha1.Job", true)]);
        let pod = owned_by("batch.volcano.sh/v1alpha1", "Job", "train", "v1");
        let gvk: Gvk = "batch.volcano.sh/v1alpha1.Job".parse().unwrap();
        let mut cache = OwnerCache::default();
        assert_eq!(waits_for(resolve_owner(&pod, &cfg, &cache)), Some(gvk.clone()));
        cache.upsert("v1".into(), info("batch.volcano.sh/v1alpha1.Job", "train", vec![]));
        assert_eq!(resolve_owner(&pod, &cfg, &cache), Resolution::Owner(TraceIdentity::new(gvk, "d/train")));
    }

    #[test]
    fn an_owner_missing_from_a_complete_list_may_still_arrive() {
        let cfg = config(&[("apps/v1.Deployment", true)]);
        let pod = owned_by("apps/v1", "ReplicaSet", "web-abc", "rs1");
        let mut cache = OwnerCache::default();
        cache.retain_kind(&"apps/v1.ReplicaSet".parse().unwrap(), &HashSet::new());
        let Resolution::Waiting(owner) = resolve_owner(&pod, &cfg, &cache) else { panic!("the pod waits") };
        assert_eq!((owner.uid.as_str(), owner.name.as_str()), ("rs1", "web-abc"));
    }

    #[test]
    fn a_deleted_owner_leaves_its_pods_untracked() {
        let cfg = config(&[("apps/v1.Deployment", true)]);
        let pod = owned_by("apps/v1", "ReplicaSet", "web-abc", "rs1");
        let rs: Gvk = "apps/v1.ReplicaSet".parse().unwrap();
        let mut cache = OwnerCache::default();
        cache.upsert("rs1".into(), info("apps/v1.ReplicaSet", "web-abc", vec![]));
        cache.remove("rs1");
        assert_eq!(resolve_owner(&pod, &cfg, &cache), Resolution::Untracked);
        // Deleted while nobody watched: the re-list no longer shows it.
        let mut cache = OwnerCache::default();
        cache.upsert("rs1".into(), info("apps/v1.ReplicaSet", "web-abc", vec![]));
        cache.retain_kind(&rs, &HashSet::new());
        assert_eq!(resolve_owner(&pod, &cfg, &cache), Resolution::Untracked);
    }

    #[test]
    fn remembered_deletions_are_bounded() {
        let mut cache = OwnerCache::default();
        for i in 0..MAX_GONE + 10 {
            cache.remove(&i.to_string());
        }
        assert!(!cache.is_gone("0"));
        assert!(cache.is_gone(&(MAX_GONE + 9).to_string()));
        assert_eq!(cache.gone.len(), MAX_GONE);
    }

    #[test]
    fn bare_pods_own_themselves_only_when_tracked_with_lifecycles() {
        let bare = json!({"metadata": {"namespace": "d", "name": "solo"}});
        let pod: Gvk = "v1.Pod".parse().unwrap();
        assert_eq!(
            resolve_owner(&bare, &config(&[("v1.Pod", true)]), &OwnerCache::default()),
            Resolution::Owner(TraceIdentity::new(pod, "d/solo"))
        );
        assert_eq!(resolve_owner(&bare, &config(&[("v1.Pod", false)]), &OwnerCache::default()), Resolution::Untracked);
        assert_eq!(resolve_owner(&bare, &config(&[]), &OwnerCache::default()), Resolution::Untracked);
    }

    #[test]
    fn ownership_cycles_end() {
        let cfg = config(&[("apps/v1.Deployment", true)]);
        let pod = owned_by("apps/v1", "ReplicaSet", "a", "a");
        let mut cache = OwnerCache::default();
        let back = OwnerReference {
            uid: "a".into(),
            gvk: "apps/v1.ReplicaSet".parse().unwrap(),
            name: "a".into(),
            controller: true,
        };
        cache.upsert("a".into(), info("apps/v1.ReplicaSet", "a", vec![back]));
        assert_eq!(resolve_owner(&pod, &cfg, &cache), Resolution::Untracked);
    }
}
