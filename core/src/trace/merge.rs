//! Merging traces: the shards of one window (disjoint namespaces) and consecutive windows of one
//! tracer (adjacent or overlapping), into the trace one tracer would have exported for the whole.
//!
//! A trace file does not say which part of the cluster or which window it holds, only where its
//! window starts (its first event). So inputs that start at the same second are taken as parts of
//! one window and united; inputs that start later continue the union of those before them:
//!
//! - **The same event** is the same object (kind, namespace, name) changed at the same second to
//!   the same version, or deleted at the same second. Both windows of one tracer hold such changes
//!   where they overlap; they are written once. Two inputs that record the same object differently
//!   at the same second are not parts of one trace, and the merge refuses them.
//! - **Where a later window starts**, its first event holds the whole state at that second, not
//!   the changes. It is turned back into changes: the objects whose version differs from the state
//!   the earlier windows left are applied, and those the later window no longer has are deleted.
//!   For contiguous windows that is the change recorded at that second; across a gap it is the net
//!   change of the gap, as a tracer records the changes it missed while down. From that second on
//!   the later window is the state; the earlier windows' changes after it are kept where they say
//!   the same (or where the later window ended before them).
//! - **The index** holds every object of every input, with the hash of the input that saw it last.
//! - **Lifecycles** of one owner and pod hash are merged by start: a lifecycle that a later window
//!   clipped to its start is the continuation of one the earlier window left running (or that ended
//!   after that start), and takes its end. A trace names pods by owner and template only, so when
//!   several pods of one template span the boundary they are paired in launch order.
//!
//! - **Gaps** of every input are kept; those of one kind that overlap are made one.
//!
//! Within one second, a merged event lists the first input's objects, then those the others add;
//! objects recovered from a later window's first event follow in identity order.

use std::collections::{BTreeMap, HashMap};

use super::object::deletion_record;
use super::{EncodedObject, ObjectIdentity, PodLifecycle, Trace, TraceEvent, TraceIdentity};
use crate::gvk::Gvk;
use crate::tracer_config::TracerConfig;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MergeError {
    #[error("nothing to merge")]
    NoInputs,
    #[error(
        "{first} and {second} configure {gvk} differently; traces of differently configured tracers are not one trace"
    )]
    Config { first: String, second: String, gvk: Gvk },
    #[error("{input}: an object at {ts} has no apiVersion, kind or metadata.name")]
    Unnamed { input: String, ts: i64 },
    #[error("{first} and {second} record {object} differently at {ts}: they are not parts of one trace")]
    Conflict { first: String, second: String, object: String, ts: i64 },
}

/// A named trace to merge; the name is what errors call it (the file).
pub struct MergeInput<'a> {
    pub name: &'a str,
    pub trace: &'a Trace,
}

/// One change of one object in a merged event, with the input it came from.
#[derive(Clone)]
struct Change {
    id: ObjectIdentity,
    /// `None` for a deletion.
    version: Option<EncodedObject>,
    record: EncodedObject,
    input: usize,
}

/// A second's changes, one per object, in the order they were added.
#[derive(Clone, Default)]
struct Second {
    changes: Vec<Change>,
    at: HashMap<ObjectIdentity, usize>,
}

fn same_object(a: &EncodedObject, b: &EncodedObject) -> bool {
    a.as_bytes() == b.as_bytes() || matches!((a.to_json(), b.to_json()), (Ok(x), Ok(y)) if x == y)
}

fn object_name(id: &ObjectIdentity) -> String {
    format!("{} {}", id.gvk, id.namespaced_name())
}

impl Second {
    /// Adds a change unless the same one is there; another change of the same object is a conflict.
    fn add(&mut self, c: Change, ts: i64, names: &[&str]) -> Result<(), MergeError> {
        match self.at.get(&c.id) {
            None => {
                self.at.insert(c.id.clone(), self.changes.len());
                self.changes.push(c);
                Ok(())
            }
            Some(&i) => {
                let held = &self.changes[i];
                let same = match (&held.version, &c.version) {
                    (Some(a), Some(b)) => same_object(a, b),
                    (None, None) => true,
                    _ => false,
                };
                if same {
                    Ok(())
                } else {
                    Err(MergeError::Conflict {
                        first: names[held.input].to_string(),
                        second: names[c.input].to_string(),
                        object: object_name(&c.id),
                        ts,
                    })
                }
            }
        }
    }

    fn into_event(self, ts: i64) -> TraceEvent {
        let mut ev = TraceEvent { ts, applied_objs: Vec::new(), deleted_objs: Vec::new() };
        for c in self.changes {
            match c.version {
                Some(_) => ev.applied_objs.push(c.record),
                None => ev.deleted_objs.push(c.record),
            }
        }
        ev
    }
}

/// Events by second.
type Timeline = BTreeMap<i64, Second>;

fn timeline_of(input: usize, trace: &Trace, names: &[&str], into: &mut Timeline) -> Result<(), MergeError> {
    for ev in &trace.events {
        let second = into.entry(ev.ts).or_default();
        let changes = ev.applied_objs.iter().map(|o| (o, true)).chain(ev.deleted_objs.iter().map(|o| (o, false)));
        for (obj, applied) in changes {
            let id = obj.identity().ok_or_else(|| MergeError::Unnamed { input: names[input].into(), ts: ev.ts })?;
            let version = applied.then(|| obj.clone());
            second.add(Change { id, version, record: obj.clone(), input }, ev.ts, names)?;
        }
    }
    Ok(())
}

/// The objects alive after every change before `ts`, with the input each came from.
fn state_before(timeline: &Timeline, ts: i64) -> BTreeMap<ObjectIdentity, (EncodedObject, usize)> {
    let mut state = BTreeMap::new();
    for second in timeline.range(..ts).map(|(_, s)| s) {
        for c in &second.changes {
            match &c.version {
                Some(v) => state.insert(c.id.clone(), (v.clone(), c.input)),
                None => state.remove(&c.id),
            };
        }
    }
    state
}

/// Continues `merged` with a later window starting at `start`: its first event becomes the change
/// from the state `merged` left, and its later changes join those `merged` has.
fn continue_with(merged: &mut Timeline, later: Timeline, start: i64, names: &[&str]) -> Result<(), MergeError> {
    let before = state_before(merged, start);
    let mut later = later.into_iter();
    let whole: Vec<Change> = match later.next() {
        Some((ts, first)) if ts == start => first.changes,
        _ => Vec::new(),
    };
    let mut at_start: BTreeMap<ObjectIdentity, Change> = BTreeMap::new();
    for c in whole.into_iter().filter(|c| c.version.is_some()) {
        at_start.insert(c.id.clone(), c);
    }
    let mut diff: BTreeMap<ObjectIdentity, Change> = BTreeMap::new();
    for (id, c) in &at_start {
        let unchanged =
            before.get(id).is_some_and(|(held, _)| c.version.as_ref().is_some_and(|v| same_object(held, v)));
        if !unchanged {
            diff.insert(id.clone(), c.clone());
        }
    }
    for (id, (_, input)) in &before {
        if !at_start.contains_key(id) {
            let record = deletion_record(id);
            diff.insert(id.clone(), Change { id: id.clone(), version: None, record, input: *input });
        }
    }
    // What the earlier windows recorded at that second keeps its order where the later one agrees.
    let mut second = Second::default();
    if let Some(held) = merged.remove(&start) {
        for c in held.changes {
            let agrees = diff.get(&c.id).is_some_and(|d| match (&d.version, &c.version) {
                (Some(a), Some(b)) => same_object(a, b),
                (None, None) => true,
                _ => false,
            });
            if agrees {
                let c = diff.remove(&c.id).map(|_| c).expect("checked above");
                second.add(c, start, names)?;
            }
        }
    }
    for (_, c) in diff {
        second.add(c, start, names)?;
    }
    merged.insert(start, second);
    for (ts, s) in later {
        let into = merged.entry(ts).or_default();
        for c in s.changes {
            into.add(c, ts, names)?;
        }
    }
    Ok(())
}

/// Lifecycles of one owner and pod hash: `later`, whose window starts at `start`, continues
/// `earlier`.
fn merge_launches(earlier: &[PodLifecycle], later: &[PodLifecycle], start: i64) -> Vec<PodLifecycle> {
    let mut out: Vec<PodLifecycle> = Vec::with_capacity(earlier.len() + later.len());
    let mut open: Vec<(PodLifecycle, bool)> = Vec::new();
    for lc in earlier {
        if lc.end_ts.is_some_and(|e| e < start) {
            out.push(*lc);
        } else {
            open.push((*lc, false));
        }
    }
    let mut new = Vec::new();
    for lc in later {
        // A start at the window's start may be a clip of any pod running then.
        let found = open.iter().position(|(o, matched)| {
            !matched && if lc.start_ts == start { o.start_ts <= start } else { o.start_ts == lc.start_ts }
        });
        match found {
            Some(i) => {
                let (o, matched) = &mut open[i];
                *matched = true;
                o.end_ts = lc.end_ts.or(o.end_ts);
            }
            None => new.push(*lc),
        }
    }
    out.extend(open.into_iter().map(|(lc, _)| lc));
    out.extend(new);
    out.sort_by_key(|lc| lc.start_ts);
    out
}

type LifecycleTable = BTreeMap<TraceIdentity, BTreeMap<u64, Vec<PodLifecycle>>>;

fn merge_lifecycles(into: &mut LifecycleTable, later: &LifecycleTable, start: i64) {
    for (owner, by_hash) in later {
        let held = into.entry(owner.clone()).or_default();
        for (hash, lcs) in by_hash {
            let merged = merge_launches(held.get(hash).map_or(&[][..], Vec::as_slice), lcs, start);
            held.insert(*hash, merged);
        }
    }
}

fn merge_config(inputs: &[MergeInput<'_>]) -> Result<TracerConfig, MergeError> {
    let mut config = TracerConfig::default();
    let mut from: BTreeMap<Gvk, usize> = BTreeMap::new();
    for (i, input) in inputs.iter().enumerate() {
        for (gvk, cfg) in &input.trace.config.tracked_objects {
            match config.tracked_objects.get(gvk) {
                Some(held) if held != cfg => {
                    return Err(MergeError::Config {
                        first: inputs[from[gvk]].name.to_string(),
                        second: input.name.to_string(),
                        gvk: gvk.clone(),
                    })
                }
                Some(_) => {}
                None => {
                    config.tracked_objects.insert(gvk.clone(), cfg.clone());
                    from.insert(gvk.clone(), i);
                }
            }
        }
    }
    Ok(config)
}

/// The last second at which each input mentions each object name, for the index.
fn last_mentions(trace: &Trace) -> HashMap<(Option<Gvk>, String), i64> {
    let mut last = HashMap::new();
    for ev in &trace.events {
        for id in ev.applied_objs.iter().chain(&ev.deleted_objs).filter_map(EncodedObject::identity) {
            let name = id.namespaced_name();
            last.insert((Some(id.gvk), name.clone()), ev.ts);
            last.insert((None, name), ev.ts);
        }
    }
    last
}

/// Merges the inputs into one trace; see the module's description for what that means.
pub fn merge(inputs: &[MergeInput<'_>]) -> Result<Trace, MergeError> {
    if inputs.is_empty() {
        return Err(MergeError::NoInputs);
    }
    let names: Vec<&str> = inputs.iter().map(|i| i.name).collect();
    let config = merge_config(inputs)?;

    // Inputs by the second their window starts; a trace without events joins the first.
    let mut windows: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    let first_start = inputs.iter().filter_map(|i| i.trace.events.first()).map(|e| e.ts).min().unwrap_or(0);
    for (i, input) in inputs.iter().enumerate() {
        windows.entry(input.trace.events.first().map_or(first_start, |e| e.ts)).or_default().push(i);
    }

    let mut merged: Option<Timeline> = None;
    let mut lifecycles = LifecycleTable::new();
    for (&start, members) in &windows {
        let mut window = Timeline::new();
        let mut window_lifecycles = LifecycleTable::new();
        for &i in members {
            timeline_of(i, inputs[i].trace, &names, &mut window)?;
            merge_lifecycles(&mut window_lifecycles, &inputs[i].trace.pod_lifecycles, start);
        }
        match &mut merged {
            None => merged = Some(window),
            Some(m) => continue_with(m, window, start, &names)?,
        }
        merge_lifecycles(&mut lifecycles, &window_lifecycles, start);
    }

    let mut events: Vec<TraceEvent> = Vec::new();
    for (ts, second) in merged.unwrap_or_default() {
        let ev = second.into_event(ts);
        // The first event stands for the state at the start, even when nothing was alive.
        if events.is_empty() || !ev.applied_objs.is_empty() || !ev.deleted_objs.is_empty() {
            events.push(ev);
        }
    }

    // Each object's index entry from the input that saw it last; later windows win ties.
    let mut index: BTreeMap<TraceIdentity, (u64, (i64, i64))> = BTreeMap::new();
    for (&start, members) in &windows {
        for &i in members {
            let last = last_mentions(inputs[i].trace);
            for (key, hash) in &inputs[i].trace.index {
                let seen = last.get(&(key.gvk.clone(), key.name.clone())).copied().unwrap_or(i64::MIN);
                let rank = (seen, start);
                if index.get(key).is_none_or(|(_, held)| rank >= *held) {
                    index.insert(key.clone(), (*hash, rank));
                }
            }
        }
    }
    let index = index.into_iter().map(|(k, (h, _))| (k, h)).collect();
    lifecycles.retain(|_, by_hash| {
        by_hash.retain(|_, lcs| !lcs.is_empty());
        !by_hash.is_empty()
    });
    let gaps = super::gaps::union(inputs.iter().flat_map(|i| i.trace.gaps.iter().cloned()).collect());
    Ok(Trace { config, events, index, pod_lifecycles: lifecycles, gaps })
}

#[cfg(test)]
mod tests;
