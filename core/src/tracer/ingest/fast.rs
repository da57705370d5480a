//! Changes as the watches deliver them: JSON text, decoded only as far as each change needs.
//!
//! On a real control plane most changes to a tracked object are status writes (controllers
//! reporting on every step of a rollout) and bookkeeping (`managedFields`, `resourceVersion`),
//! which the sanitisers remove before anything is recorded; and a pod seen before needs only its
//! owners and status to move its lifecycle. Decoding, sanitising and hashing every such change in
//! full cost more than the decode alone. Here:
//! - a tracked object is fingerprinted from its text, with the fields the sanitiser chain is known
//!   to drop left out ([`crate::pipeline::SanitiserChain::ignored`]); when the fingerprint is the
//!   one its recorded version was made from, and the store still holds that version, the full
//!   path would sanitise it to the same hash and record nothing, so nothing more is done;
//! - a pod is decoded into what owner resolution and its lifecycle read (its name, namespace,
//!   uid and owner references, `spec.restartPolicy`, its status), and decoded whole only when its
//!   hash must be taken (its first sighting) or it must wait for an owner.
//!
//! Anything these do not cover (a key repeated or escaped, a field of an unexpected type) takes
//! the full path, which stays the definition of what is recorded.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use xxhash_rust::xxh3::Xxh3;

use super::{pod_gvk, Ingest};
use crate::gvk::Gvk;
use crate::lifecycle::observed_lifecycle;
use crate::ownership::{resolve_owner, KnownOwner, OwnerReference, Resolution};
use crate::pipeline::IgnoredFields;
use crate::sources::{Fields, Payload, RawObject};
use crate::trace::ObjectIdentity;

/// A recorded object's fingerprint and the hash of its sanitised form, by its identity's key.
#[derive(Clone, Copy)]
pub(super) struct Seen {
    fingerprint: u128,
    hash: u64,
}

pub(super) fn identity_key(id: &ObjectIdentity) -> u64 {
    let mut h = Xxh3::new();
    for part in [id.gvk.api_version().as_str(), id.gvk.kind.as_str(), id.namespace.as_str(), id.name.as_str()] {
        put(&mut h, part.as_bytes());
    }
    h.digest()
}

/// Self-delimiting, so that no two sequences of parts feed the same bytes.
fn put(h: &mut Xxh3, bytes: &[u8]) {
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// The fingerprint of everything the sanitised object can depend on: every field but those the
/// chain ignores, and `apiVersion` and `kind`, which the watched kind sets. Fields are taken in
/// key order (the decoded object's maps have none) as the exact text that came, so equal
/// fingerprints mean equal decoded fields.
fn fingerprint(gvk: &Gvk, fields: &Fields<'_>, meta: &Fields<'_>, ignored: &IgnoredFields) -> u128 {
    let mut h = Xxh3::new();
    put(&mut h, gvk.api_version().as_bytes());
    put(&mut h, gvk.kind.as_bytes());
    let mut feed = |entries: &Fields<'_>, skip: &dyn Fn(&str) -> bool| {
        let mut kept: Vec<&(&str, &str)> = entries.0.iter().filter(|(k, _)| !skip(k)).collect();
        kept.sort_unstable_by_key(|(k, _)| *k);
        h.update(&(kept.len() as u64).to_le_bytes());
        for (k, v) in kept {
            put(&mut h, k.as_bytes());
            put(&mut h, v.as_bytes());
        }
    };
    let ignored_top = |k: &str| ignored.top.iter().any(|f| f == k);
    feed(fields, &|k| matches!(k, "apiVersion" | "kind" | "metadata") || ignored_top(k));
    if !ignored_top("metadata") {
        feed(meta, &|k| ignored.metadata.iter().any(|f| f == k));
    }
    h.digest128()
}

/// The object's top-level fields and its metadata's, as text.
fn outline(raw: &RawObject) -> Option<(Fields<'_>, Fields<'_>)> {
    let fields = raw.fields()?;
    let meta = Fields::of(fields.get("metadata")?)?;
    Some((fields, meta))
}

fn decode(text: Option<&str>) -> Option<Value> {
    text.map(|t| serde_json::from_str(t).unwrap_or(Value::Null))
}

/// `spec.restartPolicy`, the one field of a pod's spec its lifecycle reads; the rest is skipped.
#[derive(Deserialize)]
struct PodSpec<'a> {
    #[serde(borrow, rename = "restartPolicy")]
    restart_policy: Option<&'a RawValue>,
}

/// Whether `observed_lifecycle` reads the restart policy of a pod with this status: only to
/// tell whether a pod whose containers have all terminated, in a phase other than Succeeded or
/// Failed, is done.
fn reads_restart_policy(status: Option<&Value>) -> bool {
    let Some(status) = status else { return false };
    let phase_done = matches!(status.get("phase").and_then(Value::as_str), Some("Succeeded" | "Failed"));
    let containers = status.get("containerStatuses").and_then(Value::as_array);
    let all_terminated =
        containers.is_some_and(|cs| !cs.is_empty() && cs.iter().all(|c| c.pointer("/state/terminated").is_some()));
    all_terminated && !phase_done
}

/// What `resolve_owner` and `observed_lifecycle` read of a pod, as the same JSON paths: the
/// spec, most of a pod, is read only when the lifecycle depends on its restart policy. `None`
/// when the spec cannot be read this way.
fn pod_outline(fields: &Fields<'_>, meta: &Fields<'_>) -> Option<Value> {
    let mut m = Map::new();
    for key in ["namespace", "name", "uid", "ownerReferences"] {
        if let Some(v) = decode(meta.get(key)) {
            m.insert(key.into(), v);
        }
    }
    let mut pod = Map::new();
    pod.insert("metadata".into(), Value::Object(m));
    let status = decode(fields.get("status"));
    if let Some(spec) = fields.get("spec").filter(|_| reads_restart_policy(status.as_ref())) {
        let mut s = Map::new();
        if spec.starts_with('{') {
            let peek: PodSpec<'_> = serde_json::from_str(spec).ok()?;
            if let Some(policy) = decode(peek.restart_policy.map(RawValue::get)) {
                s.insert("restartPolicy".into(), policy);
            }
        }
        pod.insert("spec".into(), Value::Object(s));
    }
    if let Some(status) = status {
        pod.insert("status".into(), status);
    }
    Some(Value::Object(pod))
}

/// The parts of an object that name it and its owners, as JSON, for the functions that read
/// them from a whole object.
fn naming(gvk: &Gvk, meta: &Fields<'_>) -> Value {
    let mut m = Map::new();
    for key in ["namespace", "name", "ownerReferences"] {
        if let Some(v) = decode(meta.get(key)) {
            m.insert(key.into(), v);
        }
    }
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::String(gvk.api_version()));
    obj.insert("kind".into(), Value::String(gvk.kind.clone()));
    obj.insert("metadata".into(), Value::Object(m));
    Value::Object(obj)
}

impl Ingest {
    pub(super) fn whole(&self, raw: &RawObject, gvk: &Gvk) -> Value {
        self.metrics.decoded_whole.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        raw.to_json(gvk)
    }

    pub(super) fn applied_raw(&mut self, gvk: &Gvk, at: i64, raw: RawObject) -> Vec<Gvk> {
        let Some((fields, meta)) = outline(&raw) else {
            return self.applied(gvk, at, Payload::Object(self.whole(&raw, gvk)));
        };
        let is_pod = *gvk == pod_gvk();
        let naming = naming(gvk, &meta);
        let mut wanted = Vec::new();
        if is_pod {
            match self.pod_fast(&raw, &fields, &meta, None) {
                Some(w) => wanted = w,
                None => return self.applied(gvk, at, Payload::Object(self.whole(&raw, gvk))),
            }
        } else if let Some(uid) = &raw.metadata.uid {
            let info = KnownOwner {
                gvk: gvk.clone(),
                namespace: raw.metadata.namespace.clone().unwrap_or_default(),
                name: raw.metadata.name.clone().unwrap_or_default(),
                owners: OwnerReference::of_object(&naming),
            };
            self.owners.upsert(uid.clone(), info);
        }
        if let Some(cfg) = self.config.get(gvk) {
            let cfg = cfg.clone();
            let owned =
                naming.pointer("/metadata/ownerReferences").and_then(Value::as_array).is_some_and(|r| !r.is_empty());
            if !(cfg.skip_owned && owned) {
                if let Some(id) = ObjectIdentity::of(&naming) {
                    let key = identity_key(&id);
                    let fingerprint = fingerprint(gvk, &fields, &meta, self.pipeline.sanitisers().ignored());
                    let unchanged = self
                        .seen
                        .get(&key)
                        .is_some_and(|s| s.fingerprint == fingerprint && self.store.live_hash(&id) == Some(s.hash));
                    if !unchanged {
                        let hash = self.record_as(gvk, id, at, self.whole(&raw, gvk));
                        self.seen.insert(key, Seen { fingerprint, hash });
                    }
                }
            }
        }
        if let Some(uid) = raw.metadata.uid.as_deref().filter(|_| !is_pod) {
            wanted.extend(self.retry_pending(uid));
        }
        wanted
    }

    pub(super) fn deleted_raw(&mut self, gvk: &Gvk, at: i64, raw: RawObject) -> Vec<Gvk> {
        let full = |ingest: &mut Ingest, raw: RawObject| {
            let obj = ingest.whole(&raw, gvk);
            ingest.deleted(gvk, at, Payload::Object(obj))
        };
        // Other kinds' deletions are one per object; a pod's come one by one from the garbage
        // collector, for every pod.
        if *gvk != pod_gvk() || self.config.get(gvk).is_some() {
            return full(self, raw);
        }
        let Some((fields, meta)) = outline(&raw) else { return full(self, raw) };
        match self.pod_fast(&raw, &fields, &meta, Some(at)) {
            Some(wanted) => {
                if let Some(uid) = &raw.metadata.uid {
                    self.store.pod_deleted(uid, at);
                }
                wanted
            }
            None => full(self, raw),
        }
    }

    /// What `pod_seen` does for a pod whose lifecycle entry exists, or that needs none; `None`
    /// when it needs the whole pod (to take its hash, or to wait for an owner), having changed
    /// nothing.
    fn pod_fast(
        &mut self,
        raw: &RawObject,
        fields: &Fields<'_>,
        meta: &Fields<'_>,
        deleted_at: Option<i64>,
    ) -> Option<Vec<crate::Gvk>> {
        let Some(uid) = raw.metadata.uid.as_deref() else { return Some(Vec::new()) };
        let pod = pod_outline(fields, meta)?;
        match resolve_owner(&pod, &self.config, &self.owners) {
            Resolution::Owner(_) => {
                if let Some(lc) = observed_lifecycle(&pod) {
                    if !self.store.advance_lifecycle(uid, lc) {
                        return None;
                    }
                }
                if let Some(ts) = deleted_at {
                    self.store.pod_deleted(uid, ts);
                }
                Some(Vec::new())
            }
            Resolution::Untracked => Some(Vec::new()),
            // A pod often comes before its ReplicaSet: the watches are not ordered. Until it has
            // a lifecycle its hash is not taken, so what it waits with is its outline, which is
            // all that resolving it again reads.
            Resolution::Waiting(_) if observed_lifecycle(&pod).is_none() => {
                Some(self.pod_seen(&pod, deleted_at, self.received))
            }
            Resolution::Waiting(_) => None,
        }
    }
}
