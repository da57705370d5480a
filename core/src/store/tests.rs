use std::collections::HashSet;

use serde_json::{json, Value};

use super::*;
use crate::export::{Candidate, KeepAll, ObjectFilter, Window, WindowError};
use crate::stable_hash;
use crate::trace::TraceEvent;
use crate::tracer_config::TracerConfig;

const T: i64 = 1_764_000_000;

fn obj(kind: &str, name: &str, version: u32) -> Value {
    let api = if kind == "Pod" { "v1" } else { "apps/v1" };
    json!({"apiVersion": api, "kind": kind, "metadata": {"namespace": "d", "name": name, "labels": {"v": version.to_string()}}})
}

fn id_of(v: &Value) -> ObjectIdentity {
    ObjectIdentity::of(v).unwrap()
}

fn apply(store: &Store, ts: i64, v: &Value) -> bool {
    store.apply(ts, id_of(v), EncodedObject::from_json(v), stable_hash(v))
}

fn names(objs: &[EncodedObject]) -> Vec<String> {
    objs.iter()
        .map(|o| {
            format!(
                "{}@{}",
                o.identity().unwrap().name,
                o.to_json().unwrap()["metadata"]["labels"]["v"].as_str().unwrap_or("-")
            )
        })
        .collect()
}

fn all_events(store: &Store) -> Vec<StoredEvent> {
    store.snapshot().events().cloned().collect()
}

fn everything() -> Window {
    Window::new(0, i64::MAX).unwrap()
}

#[test]
fn an_unchanged_object_records_nothing() {
    let store = Store::new();
    assert!(apply(&store, T, &obj("Deployment", "a", 1)));
    assert!(!apply(&store, T + 5, &obj("Deployment", "a", 1)));
    assert!(apply(&store, T + 6, &obj("Deployment", "a", 2)));
    assert_eq!(store.stats().events, 2);
    assert_eq!(store.stats().object_versions, 2);
}

#[test]
fn a_snapshot_counts_the_versions_the_store_holds() {
    let store = Store::new();
    assert_eq!(store.snapshot().versions(), 0);
    apply(&store, T, &obj("Deployment", "a", 1));
    apply(&store, T + 1, &obj("Deployment", "a", 2));
    apply(&store, T + 1, &obj("Deployment", "b", 1));
    apply(&store, T + 3, &obj("Deployment", "b", 2));
    assert_eq!(store.snapshot().versions(), store.stats().object_versions);
    assert_eq!(store.snapshot().versions(), 4);
    // Folded into the base, a's two versions count as the one the base keeps.
    store.evict(T + 7, Retention { max_age_secs: 5, max_bytes: u64::MAX });
    let snapshot = store.snapshot();
    let counted = snapshot.base.len() + snapshot.events().map(|ev| ev.applied.len()).sum::<usize>();
    assert_eq!((snapshot.versions(), counted), (counted, 3));
}

#[test]
fn changes_in_one_second_merge_into_their_net_effect() {
    let store = Store::new();
    apply(&store, T, &obj("Deployment", "a", 1));
    apply(&store, T + 1, &obj("Deployment", "b", 1));
    apply(&store, T + 1, &obj("Deployment", "a", 2));
    apply(&store, T + 1, &obj("Deployment", "a", 3));
    // Created and deleted within the same second: nothing to replay.
    apply(&store, T + 1, &obj("Deployment", "c", 1));
    assert!(store.delete(T + 1, &id_of(&obj("Deployment", "c", 1))));
    let evs = all_events(&store);
    assert_eq!(evs.len(), 2);
    let applied: Vec<_> = evs[1].applied.iter().map(|o| o.obj.clone()).collect();
    assert_eq!(names(&applied), ["b@1", "a@3"]);
    assert!(evs[1].deleted.is_empty());

    // Deleted and recreated within one second: one applied version, no deletion.
    store.delete(T + 2, &id_of(&obj("Deployment", "a", 3)));
    apply(&store, T + 2, &obj("Deployment", "a", 4));
    // Existing, updated, then deleted within one second: a deletion only.
    apply(&store, T + 2, &obj("Deployment", "b", 2));
    store.delete(T + 2, &id_of(&obj("Deployment", "b", 2)));
    let evs = all_events(&store);
    let applied: Vec<_> = evs[2].applied.iter().map(|o| o.obj.clone()).collect();
    assert_eq!(names(&applied), ["a@4"]);
    assert_eq!(evs[2].deleted.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["b"]);
    assert_eq!(store.stats().object_versions, 4, "a@1, b@1, a@3, a@4");
}

fn seconds(store: &Store) -> Vec<i64> {
    store.snapshot().events().map(|e| e.ts).collect()
}

fn versions_at(store: &Store, ts: i64) -> Vec<String> {
    let evs = all_events(store);
    let ev = evs.iter().find(|e| e.ts == ts).unwrap_or_else(|| panic!("no event at {ts}"));
    let mut out = names(&ev.applied.iter().map(|o| o.obj.clone()).collect::<Vec<_>>());
    out.extend(ev.deleted.iter().map(|d| format!("-{}", d.name)));
    out
}

#[test]
fn a_late_change_goes_into_its_own_earlier_second() {
    let store = Store::new();
    apply(&store, T + 10, &obj("Deployment", "a", 1));
    apply(&store, T + 3, &obj("Deployment", "b", 1));
    apply(&store, T + 3, &obj("Deployment", "c", 1));
    apply(&store, T + 7, &obj("Deployment", "d", 1));
    assert_eq!(seconds(&store), [T + 3, T + 7, T + 10]);
    assert_eq!(versions_at(&store, T + 3), ["b@1", "c@1"]);
    assert_eq!(store.stats().events, 3);
    // The newest event still takes changes in its second.
    apply(&store, T + 10, &obj("Deployment", "e", 1));
    assert_eq!(versions_at(&store, T + 10), ["a@1", "e@1"]);
}

#[test]
fn a_late_change_folds_into_an_open_event_of_its_second_only() {
    let store = Store::new();
    apply(&store, T + 5, &obj("Deployment", "x", 1));
    apply(&store, T + 5, &obj("Deployment", "y", 1));
    apply(&store, T + 9, &obj("Deployment", "z", 1));
    // x again within its second, delivered after a later second began: its net change.
    apply(&store, T + 5, &obj("Deployment", "x", 2));
    assert_eq!(versions_at(&store, T + 5), ["x@2", "y@1"]);
    // Created and deleted within that second: nothing to replay; the others keep their places.
    assert!(store.delete(T + 5, &id_of(&obj("Deployment", "x", 2))));
    assert_eq!(versions_at(&store, T + 5), ["y@1"]);
    apply(&store, T + 5, &obj("Deployment", "y", 2));
    assert_eq!(versions_at(&store, T + 5), ["y@2"]);
    assert_eq!(store.stats().object_versions, 2);
}

#[test]
fn changes_in_different_seconds_stay_different_events() {
    let store = Store::new();
    apply(&store, T, &obj("Deployment", "a", 1));
    // A backlog read at once: an update and a deletion, each stamped with its own second.
    apply(&store, T + 20, &obj("Deployment", "a", 2));
    store.delete(T + 21, &id_of(&obj("Deployment", "a", 2)));
    apply(&store, T + 22, &obj("Deployment", "b", 1));
    assert_eq!(seconds(&store), [T, T + 20, T + 21, T + 22]);
    assert_eq!(versions_at(&store, T + 20), ["a@2"]);
    assert_eq!(versions_at(&store, T + 21), ["-a"]);
}

#[test]
fn a_change_is_never_placed_before_its_objects_previous_change() {
    let store = Store::new();
    apply(&store, T, &obj("Deployment", "a", 1));
    apply(&store, T + 10, &obj("Deployment", "a", 2));
    // Claimed earlier than a's last recorded change: placed in that change's second.
    apply(&store, T + 3, &obj("Deployment", "a", 3));
    assert_eq!(seconds(&store), [T, T + 10]);
    assert_eq!(versions_at(&store, T + 10), ["a@3"]);
    store.delete(T + 4, &id_of(&obj("Deployment", "a", 3)));
    assert_eq!(versions_at(&store, T + 10), ["-a"], "updated and deleted in one second: a deletion");
    // Recreated, claimed before its deletion: in the deletion's second, as its net change.
    apply(&store, T + 8, &obj("Deployment", "a", 4));
    assert_eq!(versions_at(&store, T + 10), ["a@4"]);
    assert_eq!(seconds(&store), [T, T + 10]);
}

#[test]
fn a_late_change_into_a_sealed_chunk_leaves_a_held_snapshot_as_it_was() {
    let store = Store::new();
    let n = CHUNK_EVENTS as i64 * 2 + 10;
    for i in 0..n {
        apply(&store, T + 2 * i, &obj("Deployment", &format!("o{i}"), 1));
    }
    let held = store.snapshot();
    let before: Vec<StoredEvent> = held.events().cloned().collect();
    // A new second inside the first chunk, and a change within an existing second of it.
    apply(&store, T + 3, &obj("Deployment", "late", 1));
    apply(&store, T + 4, &obj("Deployment", "o2", 2));
    apply(&store, T + 4, &obj("Deployment", "other", 1));
    assert_eq!(held.events().cloned().collect::<Vec<_>>(), before, "the snapshot keeps what it saw");
    let ts = seconds(&store);
    assert_eq!(ts.len(), n as usize + 1);
    assert!(ts.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(versions_at(&store, T + 3), ["late@1"]);
    assert_eq!(versions_at(&store, T + 4), ["o2@2", "other@1"]);
    assert_eq!(store.stats().events, n as usize + 1);
    // With no snapshot holding it, a chunk changes in place just the same.
    drop(held);
    apply(&store, T + 5, &obj("Deployment", "later", 1));
    assert_eq!(versions_at(&store, T + 5), ["later@1"]);
    assert_eq!(store.stats().object_versions, n as usize + 3);
}

#[test]
fn a_change_older_than_the_retained_history_goes_into_the_base_state() {
    let store = Store::new();
    apply(&store, T, &obj("Deployment", "a", 1));
    apply(&store, T + 10, &obj("Deployment", "b", 1));
    apply(&store, T + 20, &obj("Deployment", "c", 1));
    store.evict(T + 20, Retention { max_age_secs: 5, max_bytes: u64::MAX });
    assert_eq!(store.stats().base_ts, Some(T + 10));
    // At the boundary and before it: part of the state the retained history starts from.
    apply(&store, T + 10, &obj("Deployment", "late", 1));
    apply(&store, T + 2, &obj("Deployment", "a", 2));
    store.delete(T + 5, &id_of(&obj("Deployment", "b", 1)));
    assert_eq!(seconds(&store), [T + 20]);
    let snap = store.snapshot();
    let base: Vec<String> = snap.base.values().map(|o| o.id.name.clone()).collect();
    assert_eq!(base, ["a", "late"]);
    assert_eq!(names(&[snap.base.values().next().unwrap().obj.clone()]), ["a@2"]);
    assert_eq!(store.stats().live_objects, 3);
    // After the boundary: an event of its own.
    apply(&store, T + 11, &obj("Deployment", "d", 1));
    assert_eq!(seconds(&store), [T + 11, T + 20]);
}

#[test]
fn deleting_an_unknown_object_records_nothing() {
    let store = Store::new();
    assert!(!store.delete(T, &id_of(&obj("Deployment", "ghost", 1))));
    assert_eq!(store.stats().events, 0);
}

#[test]
fn a_relist_records_only_what_changed_during_the_gap() {
    let store = Store::new();
    for n in ["a", "b", "c"] {
        apply(&store, T, &obj("Deployment", n, 1));
    }
    apply(&store, T, &obj("Pod", "p", 1));
    // The re-list shows a unchanged, b changed, c gone, d new.
    let listed = [obj("Deployment", "a", 1), obj("Deployment", "b", 2), obj("Deployment", "d", 1)];
    for v in &listed {
        apply(&store, T + 60, v);
    }
    let seen: HashSet<_> = listed.iter().map(id_of).collect();
    assert_eq!(store.reconcile_relist(T + 60, &"apps/v1.Deployment".parse().unwrap(), &seen), 1);
    let evs = all_events(&store);
    assert_eq!(evs.len(), 2);
    let applied: Vec<_> = evs[1].applied.iter().map(|o| o.obj.clone()).collect();
    assert_eq!(names(&applied), ["b@2", "d@1"]);
    assert_eq!(evs[1].deleted.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["c"]);
    assert_eq!(store.live_hash(&id_of(&obj("Pod", "p", 1))), Some(stable_hash(&obj("Pod", "p", 1))));
}

#[test]
fn snapshots_do_not_see_later_ingest_across_chunks() {
    let store = Store::new();
    for i in 0..(CHUNK_EVENTS as i64 * 2 + 10) {
        apply(&store, T + i, &obj("Deployment", "a", i as u32));
    }
    let snap = store.snapshot();
    apply(&store, T + 100_000, &obj("Deployment", "late", 1));
    let ts: Vec<i64> = snap.events().map(|e| e.ts).collect();
    assert_eq!(ts.len(), CHUNK_EVENTS * 2 + 10);
    assert!(ts.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(store.snapshot().events().count(), CHUNK_EVENTS * 2 + 11);
}

fn trace_events(t: &crate::Trace) -> Vec<(i64, Vec<String>, Vec<String>)> {
    t.events
        .iter()
        .map(|TraceEvent { ts, applied_objs, deleted_objs }| {
            (*ts - T, names(applied_objs), deleted_objs.iter().map(|o| o.identity().unwrap().name).collect())
        })
        .collect()
}

fn workload() -> Store {
    let store = Store::new();
    apply(&store, T, &obj("Deployment", "a", 1));
    apply(&store, T, &obj("Deployment", "gone-before", 1));
    apply(&store, T + 10, &obj("Deployment", "a", 2));
    store.delete(T + 15, &id_of(&obj("Deployment", "gone-before", 1)));
    apply(&store, T + 20, &obj("Deployment", "b", 1));
    apply(&store, T + 30, &obj("Deployment", "a", 3));
    store.delete(T + 40, &id_of(&obj("Deployment", "b", 1)));
    apply(&store, T + 50, &obj("Deployment", "after", 1));
    store
}

#[test]
fn a_window_starts_with_everything_alive_and_excludes_its_end() {
    let snap = workload().snapshot();
    let t = snap.window(&TracerConfig::default(), Window::new(T + 20, T + 50).unwrap(), &KeepAll);
    assert_eq!(
        trace_events(&t),
        vec![
            (20, vec!["a@2".into(), "b@1".into()], vec![]),
            (30, vec!["a@3".into()], vec![]),
            (40, vec![], vec!["b".into()]),
        ]
    );
    let index: Vec<_> = t.index.keys().map(|k| k.name.as_str()).collect();
    assert_eq!(index, ["d/a", "d/b"]);
    assert_eq!(
        t.index[&TraceIdentity::new("apps/v1.Deployment".parse().unwrap(), "d/a")],
        stable_hash(&obj("Deployment", "a", 3))
    );
    assert_eq!(Window::new(5, 5), Err(WindowError::Empty { start: 5, end: 5 }));
    assert_eq!(Window::new(6, 5), Err(WindowError::Empty { start: 6, end: 5 }));
}

struct NotNamed(&'static str);
impl ObjectFilter for NotNamed {
    fn keep(&self, o: &Candidate<'_>) -> bool {
        o.id().name != self.0
    }
}

#[test]
fn filtered_objects_leave_out_their_versions_and_deletions() {
    let snap = workload().snapshot();
    let t = snap.window(&TracerConfig::default(), Window::new(T + 15, T + 100).unwrap(), &NotNamed("b"));
    assert_eq!(
        trace_events(&t),
        vec![(15, vec!["a@2".into()], vec![]), (30, vec!["a@3".into()], vec![]), (50, vec!["after@1".into()], vec![])]
    );
}

#[test]
fn lifecycles_overlapping_the_window_are_clipped() {
    let store = workload();
    let owner = TraceIdentity::new("apps/v1.Deployment".parse().unwrap(), "d/a");
    let lc = |s: i64, e: Option<i64>| PodLifecycle { start_ts: T + s, end_ts: e.map(|e| T + e) };
    store.record_lifecycle("p1", owner.clone(), 7, lc(1, Some(12))); // ends before the window
    store.record_lifecycle("p2", owner.clone(), 7, lc(5, None)); // runs into the window
    store.record_lifecycle("p3", owner.clone(), 7, lc(25, Some(45))); // inside
    store.record_lifecycle("p4", owner.clone(), 8, lc(35, Some(70))); // ends after the window
    store.record_lifecycle("p5", owner.clone(), 8, lc(60, None)); // starts after the window
    store.record_lifecycle(
        "orphan",
        TraceIdentity::new("apps/v1.Deployment".parse().unwrap(), "d/none"),
        1,
        lc(25, None),
    );
    store.pod_deleted("p2", T + 28);
    let t = store.snapshot().window(&TracerConfig::default(), Window::new(T + 20, T + 50).unwrap(), &KeepAll);
    assert_eq!(t.pod_lifecycles.len(), 1, "owners outside the export are left out");
    let by_hash = &t.pod_lifecycles[&owner];
    assert_eq!(by_hash[&7], vec![lc(20, Some(28)), lc(25, Some(45))]);
    assert_eq!(by_hash[&8], vec![lc(35, None)]);
}

#[test]
fn lifecycles_keep_launch_order_and_only_move_forward() {
    let store = Store::new();
    let owner = TraceIdentity::new("apps/v1.Deployment".parse().unwrap(), "d/a");
    let lc = |s: i64, e: Option<i64>| PodLifecycle { start_ts: T + s, end_ts: e.map(|e| T + e) };
    store.record_lifecycle("late", owner.clone(), 1, lc(9, None));
    store.record_lifecycle("early", owner.clone(), 1, lc(3, None));
    store.record_lifecycle("early", owner.clone(), 1, lc(7, None)); // a restart does not move the start
    store.record_lifecycle("late", owner.clone(), 1, lc(9, Some(20)));
    store.pod_deleted("late", T + 30); // already ended: the end stays
    let table = &store.snapshot().lifecycles()[&owner][&1];
    assert_eq!(table, &vec![lc(3, None), lc(9, Some(20))]);
}

#[test]
fn retention_folds_old_events_into_the_base_state() {
    let store = workload();
    let before = store.stats();
    let owner = TraceIdentity::new("apps/v1.Deployment".parse().unwrap(), "d/a");
    store.record_lifecycle("old", owner.clone(), 1, PodLifecycle { start_ts: T, end_ts: Some(T + 5) });
    store.record_lifecycle("new", owner.clone(), 1, PodLifecycle { start_ts: T, end_ts: None });
    // Keep 31 seconds at time T+50: events at T, T+10 and T+15 go.
    let policy = Retention { max_age_secs: 31, max_bytes: u64::MAX };
    assert_eq!(store.evict(T + 50, policy), 3);
    let after = store.stats();
    assert_eq!(after.base_ts, Some(T + 15));
    assert_eq!(after.events, before.events - 3);
    assert_eq!(after.evicted_events, 3);
    let snap = store.snapshot();
    // An export from the beginning starts at the retention boundary and still knows `a`.
    let t = snap.window(&TracerConfig::default(), Window::new(0, T + 25).unwrap(), &KeepAll);
    assert_eq!(trace_events(&t), vec![(15, vec!["a@2".into()], vec![]), (20, vec!["b@1".into()], vec![])]);
    assert_eq!(snap.lifecycles()[&owner][&1].len(), 1, "lifecycles that ended before the boundary are forgotten");

    // A byte budget evicts down to it, but never the latest event.
    assert!(store.evict(T + 50, Retention { max_age_secs: i64::MAX / 2, max_bytes: 0 }) > 0);
    assert_eq!(store.stats().events, 1);
    let t = store.snapshot().window(&TracerConfig::default(), everything(), &KeepAll);
    assert_eq!(trace_events(&t)[0].1, vec!["a@3".to_string()]);
}

#[test]
fn a_window_round_trips_through_the_v1_format() {
    let t = workload().snapshot().window(&TracerConfig::default(), everything(), &KeepAll);
    let bytes = crate::trace::v1::encode_to_vec(&t);
    assert_eq!(crate::trace::decode(&bytes).unwrap().events, t.events);
}

#[test]
fn a_snapshots_lifecycles_do_not_see_later_changes() {
    let store = Store::new();
    let owner = TraceIdentity::new("apps/v1.Deployment".parse().unwrap(), "d/a");
    let other = TraceIdentity::new("apps/v1.Deployment".parse().unwrap(), "d/b");
    let lc = |s: i64, e: Option<i64>| PodLifecycle { start_ts: T + s, end_ts: e.map(|e| T + e) };
    store.record_lifecycle("p1", owner.clone(), 1, lc(1, None));
    store.record_lifecycle("q1", other.clone(), 7, lc(2, None));
    let before = store.snapshot();
    // The entry a snapshot shares is copied before it changes: an end, a new pod, a new hash.
    store.pod_deleted("p1", T + 5);
    store.record_lifecycle("p2", owner.clone(), 1, lc(3, None));
    store.record_lifecycle("p3", owner.clone(), 2, lc(4, None));
    assert_eq!(before.lifecycles()[&owner], BTreeMap::from([(1, vec![lc(1, None)])]));
    assert_eq!(
        store.snapshot().lifecycles()[&owner],
        BTreeMap::from([(1, vec![lc(1, Some(5)), lc(3, None)]), (2, vec![lc(4, None)])])
    );
    // Retention that forgets ended lifecycles leaves the snapshot's as they were.
    let mid = store.snapshot();
    store.evict(T + 100, Retention { max_age_secs: 0, max_bytes: 0 });
    apply(&store, T + 10, &obj("Deployment", "x", 1));
    apply(&store, T + 20, &obj("Deployment", "x", 2));
    store.evict(T + 100, Retention { max_age_secs: 0, max_bytes: 0 });
    assert_eq!(mid.lifecycles()[&owner][&1], vec![lc(1, Some(5)), lc(3, None)]);
    assert_eq!(store.snapshot().lifecycles()[&owner][&1], vec![lc(3, None)]);
    assert_eq!(before.lifecycles()[&other], store.snapshot().lifecycles()[&other]);
}

#[test]
fn changes_within_one_second_merge_in_place_after_a_deletion_moves_the_rest() {
    let store = Store::new();
    apply(&store, T, &obj("Deployment", "before", 1));
    for name in ["a", "b", "c", "d"] {
        apply(&store, T + 1, &obj("Deployment", name, 1));
    }
    // `a` leaves the event; `b`, `c` and `d` move up, and their later versions replace them there.
    store.delete(T + 1, &id_of(&obj("Deployment", "a", 1)));
    apply(&store, T + 1, &obj("Deployment", "d", 2));
    apply(&store, T + 1, &obj("Deployment", "b", 2));
    store.delete(T + 1, &id_of(&obj("Deployment", "c", 1)));
    apply(&store, T + 1, &obj("Deployment", "d", 3));
    // A deletion of an object that existed before the second, then its return within it.
    store.delete(T + 1, &id_of(&obj("Deployment", "before", 1)));
    apply(&store, T + 1, &obj("Deployment", "before", 2));
    apply(&store, T + 1, &obj("Deployment", "b", 3));
    let evs = all_events(&store);
    assert_eq!(names(&evs[1].applied.iter().map(|o| o.obj.clone()).collect::<Vec<_>>()), ["b@3", "d@3", "before@2"]);
    assert!(evs[1].deleted.is_empty());
    assert_eq!(store.stats().object_versions, 4);
}

/// An export tells objects apart by their identity's address: a deleted and recreated object
/// must come back with the identity its earlier versions hold, or it would be two objects.
#[test]
fn a_recreated_object_shares_the_identity_of_its_earlier_versions() {
    let store = Store::new();
    apply(&store, T, &obj("Deployment", "a", 1));
    assert!(store.delete(T + 1, &id_of(&obj("Deployment", "a", 1))));
    apply(&store, T + 2, &obj("Deployment", "a", 2));
    let events = all_events(&store);
    let (first, deleted, again) = (&events[0].applied[0].id, &events[1].deleted[0], &events[2].applied[0].id);
    assert!(Arc::ptr_eq(first, deleted) && Arc::ptr_eq(first, again));
}

/// Identities of objects created and deleted within one second are referred to by nothing: the
/// set of identities forgets them rather than growing with every name ever seen.
#[test]
fn identities_nothing_refers_to_are_forgotten() {
    let store = Store::new();
    for i in 0..10 * IDS_SWEEP_MIN {
        let v = obj("Deployment", &format!("short-lived-{i}"), 1);
        apply(&store, T, &v);
        store.delete(T, &id_of(&v));
    }
    apply(&store, T, &obj("Deployment", "kept", 1));
    let st = store.lock();
    assert!(st.ids.len() <= IDS_SWEEP_MIN, "{} identities held", st.ids.len());
    assert!(st.ids.iter().any(|id| id.name == "kept"));
}

/// A restored store interns as recording does: a recreated object finds its identity.
#[test]
fn a_restored_store_shares_identities_with_later_versions() {
    let store = Store::new();
    apply(&store, T, &obj("Deployment", "a", 1));
    store.delete(T + 1, &id_of(&obj("Deployment", "a", 1)));
    let restored = Store::from_checkpoint(&store.checkpoint()).unwrap();
    apply(&restored, T + 2, &obj("Deployment", "a", 2));
    let events = all_events(&restored);
    assert!(Arc::ptr_eq(&events[0].applied[0].id, &events[2].applied[0].id));
}
