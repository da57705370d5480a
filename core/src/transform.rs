//! A SKEL program applied to a trace: to every object version and deletion record of every event,
//! in order, then the export filters over what it left. An object none of whose versions is left
//! leaves the index and takes its pod lifecycles with it; the index hashes the transformed
//! objects; an event left empty is dropped, except the first (the state at the trace's start).
//! The export service and `sk-tracer transform` both come here.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;
use sk_skel::{At, EvalError, Program};

use crate::object_filter::{Candidate, ObjectFilter};
use crate::store::StoredObject;
use crate::trace::{EncodedObject, ObjectIdentity, Trace, TraceIdentity};

/// What a transform did, counted over every object version and deletion record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransformStats {
    pub events: usize,
    /// Events where some command's selector held for some object.
    pub events_matched: usize,
    /// Events dropped because nothing was left in them.
    pub events_dropped: usize,
    pub objects: usize,
    pub objects_matched: usize,
    /// Modified or deleted.
    pub objects_changed: usize,
    pub objects_deleted: usize,
    /// Left out by the export filters after the transform.
    pub objects_filtered: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum TransformError {
    #[error("{error} (applied to {object} at {ts})")]
    Eval { error: EvalError, object: String, ts: i64 },
    #[error("the transform left {object} at {ts} without {missing}; delete() drops an object whole")]
    NotAnObject { object: String, ts: i64, missing: &'static str },
    #[error("an object at {ts} cannot be read: {message}")]
    Undecodable { ts: i64, message: String },
}

/// An object as it is first seen in the trace, by the identity it was recorded under.
struct Seen {
    /// The filters' verdict on its first version the transform left; `None` while it has none.
    kept: Option<bool>,
    /// Its last version in the output, with the identity it has there.
    last: Option<(ObjectIdentity, EncodedObject)>,
}

/// Applies `program` to `trace` in place and then `filter`; relative `@t` tests count from
/// `start`. `progress` is called after each event with the number of events done.
pub fn transform(
    trace: &mut Trace,
    program: &Program,
    start: i64,
    filter: &dyn ObjectFilter,
    mut progress: impl FnMut(usize),
) -> Result<TransformStats, TransformError> {
    let mut stats = TransformStats { events: trace.events.len(), ..Default::default() };
    let mut seen: HashMap<ObjectIdentity, Seen> = HashMap::new();
    for (done, event) in trace.events.iter_mut().enumerate() {
        let at = At { ts: event.ts, start };
        let mut matched = false;

        let applied = std::mem::take(&mut event.applied_objs);
        event.applied_objs.reserve(applied.len());
        for obj in applied {
            let (id, out, m) = one(program, obj, at, &mut stats)?;
            matched |= m;
            // Seen even when deleted: an object with no version left is gone from the index.
            let entry = seen.entry(id).or_insert(Seen { kept: None, last: None });
            let Some((out_id, out)) = out else { continue };
            let kept = *entry.kept.get_or_insert_with(|| {
                let stored = StoredObject::new(Arc::new(out_id.clone()), out.clone(), 0);
                filter.keep(&Candidate::new(&stored))
            });
            if !kept {
                stats.objects_filtered += 1;
                continue;
            }
            entry.last = Some((out_id, out.clone()));
            event.applied_objs.push(out);
        }

        let deleted = std::mem::take(&mut event.deleted_objs);
        for record in deleted {
            let (id, out, m) = one(program, record, at, &mut stats)?;
            matched |= m;
            let Some((out_id, out)) = out else { continue };
            // A deletion follows the verdict on the object's versions; one whose versions the
            // trace does not hold is judged by its record.
            let kept = match seen.get(&id) {
                Some(s) => s.kept == Some(true),
                None => filter.keep(&Candidate::new(&StoredObject::new(Arc::new(out_id), out.clone(), 0))),
            };
            if kept {
                event.deleted_objs.push(out);
            } else {
                stats.objects_filtered += 1;
            }
        }
        stats.events_matched += usize::from(matched);
        progress(done + 1);
    }

    let mut at = 0;
    let before = trace.events.len();
    trace.events.retain(|e| {
        at += 1;
        at == 1 || !e.applied_objs.is_empty() || !e.deleted_objs.is_empty()
    });
    stats.events_dropped = before - trace.events.len();

    let renamed = Renames::new(&seen);
    let index = std::mem::take(&mut trace.index);
    for (key, hash) in index {
        match renamed.of(&key) {
            Fate::Untouched => {
                trace.index.insert(key, hash);
            }
            Fate::Kept(id, obj) => {
                let hash = obj.to_json().map(|v| crate::stable_hash(&v)).unwrap_or(hash);
                trace.index.insert(renamed_key(&key, id), hash);
            }
            Fate::Gone => {}
        }
    }
    let lifecycles = std::mem::take(&mut trace.pod_lifecycles);
    for (key, by_hash) in lifecycles {
        match renamed.of(&key) {
            Fate::Untouched => {
                trace.pod_lifecycles.insert(key, by_hash);
            }
            Fate::Kept(id, _) => {
                trace.pod_lifecycles.insert(renamed_key(&key, id), by_hash);
            }
            Fate::Gone => {}
        }
    }
    Ok(stats)
}

/// An object as a transform leaves it: its identity and bytes, or `None` when deleted.
type Transformed = Option<(ObjectIdentity, EncodedObject)>;

/// The program applied to one object version or deletion record: the identity it was recorded
/// under, what it is now, and whether a selector held.
fn one(
    program: &Program,
    obj: EncodedObject,
    at: At,
    stats: &mut TransformStats,
) -> Result<(ObjectIdentity, Transformed, bool), TransformError> {
    stats.objects += 1;
    let mut json = obj.to_json().map_err(|e| TransformError::Undecodable { ts: at.ts, message: e.to_string() })?;
    let id = ObjectIdentity::of(&json).ok_or_else(|| TransformError::NotAnObject {
        object: "an object".into(),
        ts: at.ts,
        missing: "its identity",
    })?;
    let outcome = program.apply(&mut json, at).map_err(|error| TransformError::Eval {
        error,
        object: describe(&id),
        ts: at.ts,
    })?;
    stats.objects_matched += usize::from(outcome.matched);
    stats.objects_changed += usize::from(outcome.changed);
    if outcome.deleted {
        stats.objects_deleted += 1;
        return Ok((id, None, outcome.matched));
    }
    if !outcome.changed {
        return Ok((id.clone(), Some((id, obj)), outcome.matched));
    }
    let out_id = ObjectIdentity::of(&json).ok_or_else(|| TransformError::NotAnObject {
        object: describe(&id),
        ts: at.ts,
        missing: missing(&json),
    })?;
    Ok((id, Some((out_id, EncodedObject::from_json(&json))), outcome.matched))
}

fn describe(id: &ObjectIdentity) -> String {
    format!("{} {}", id.gvk.kind, id.namespaced_name())
}

/// What a transformed object lacks of a Kubernetes object's identity.
fn missing(json: &Value) -> &'static str {
    if json.get("apiVersion").and_then(Value::as_str).is_none() {
        "a string apiVersion"
    } else if json.get("kind").and_then(Value::as_str).is_none() {
        "a string kind"
    } else if json.pointer("/metadata/name").and_then(Value::as_str).is_none() {
        "a string metadata.name"
    } else {
        "a string metadata.namespace"
    }
}

enum Fate<'a> {
    /// No version of it in the events: the transform never saw it.
    Untouched,
    Kept(&'a ObjectIdentity, &'a EncodedObject),
    /// Deleted by the transform, or left out by the filters.
    Gone,
}

/// The objects of the events by the keys of the index and lifecycle table, which name the kind
/// where the format does (simkube-v2) and only `ns/name` where it does not (v1).
struct Renames<'a> {
    by_kind: HashMap<(&'a crate::Gvk, String), &'a Seen>,
    by_name: HashMap<String, &'a Seen>,
}

impl<'a> Renames<'a> {
    fn new(seen: &'a HashMap<ObjectIdentity, Seen>) -> Self {
        let mut by_kind = HashMap::with_capacity(seen.len());
        let mut by_name = HashMap::with_capacity(seen.len());
        for (id, s) in seen {
            by_kind.insert((&id.gvk, id.namespaced_name()), s);
            by_name.insert(id.namespaced_name(), s);
        }
        Renames { by_kind, by_name }
    }

    fn of(&self, key: &TraceIdentity) -> Fate<'a> {
        let found = match &key.gvk {
            Some(gvk) => self.by_kind.get(&(gvk, key.name.clone())),
            None => self.by_name.get(&key.name),
        };
        match found {
            None => Fate::Untouched,
            Some(Seen { kept: Some(true), last: Some((id, obj)) }) => Fate::Kept(id, obj),
            Some(_) => Fate::Gone,
        }
    }
}

/// The key for `id`, in the same form as `key` (with or without the kind).
fn renamed_key(key: &TraceIdentity, id: &ObjectIdentity) -> TraceIdentity {
    TraceIdentity { gvk: key.gvk.as_ref().map(|_| id.gvk.clone()), name: id.namespaced_name() }
}

#[cfg(test)]
mod tests;
