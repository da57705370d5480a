use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::export::{KeepAll, Window};
use crate::shard::{Shard, Verdict};
use crate::store::Store;

const T: i64 = 1_764_000_000;

/// Objects in three namespaces and one cluster-scoped, two kinds.
const OBJECTS: [(&str, &str, &str, &str); 7] = [
    ("apps/v1", "Deployment", "a", "web"),
    ("apps/v1", "Deployment", "b", "web"),
    ("batch/v1", "Job", "a", "web"),
    ("apps/v1", "Deployment", "c", "api"),
    ("example.com/v1", "Widget", "", "w"),
    ("apps/v1", "Deployment", "team-x", "db"),
    ("batch/v1", "Job", "c", "run"),
];

fn object(i: usize, version: u8) -> serde_json::Value {
    let (api, kind, ns, name) = OBJECTS[i];
    let mut meta = json!({"name": name, "labels": {"v": version.to_string()}});
    if !ns.is_empty() {
        meta["namespace"] = json!(ns);
    }
    json!({"apiVersion": api, "kind": kind, "metadata": meta})
}

fn owner(i: usize) -> TraceIdentity {
    let id = ObjectIdentity::of(&object(i, 0)).unwrap();
    TraceIdentity::new(id.gvk.clone(), id.namespaced_name())
}

#[derive(Clone, Debug)]
enum Op {
    Apply {
        at: i64,
        object: usize,
        version: u8,
    },
    Delete {
        at: i64,
        object: usize,
    },
    /// A pod of an owner alive then, starting then; deleting the owner ends its pods, as garbage
    /// collection does.
    Pod {
        pod: u8,
        owner: usize,
        hash: u64,
        len: Option<i64>,
    },
    PodDeleted {
        at: i64,
        pod: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let at = 0i64..30;
    prop_oneof![
        4 => (at.clone(), 0..OBJECTS.len(), 0u8..3).prop_map(|(at, object, version)| Op::Apply { at, object, version }),
        1 => (at.clone(), 0..OBJECTS.len()).prop_map(|(at, object)| Op::Delete { at, object }),
        2 => (0u8..10, 0..OBJECTS.len(), 0u64..2, prop::option::of(0i64..12))
            .prop_map(|(pod, owner, hash, len)| Op::Pod { pod, owner, hash, len }),
        1 => (at, 0u8..10).prop_map(|(at, pod)| Op::PodDeleted { at, pod }),
    ]
}

/// Plays the ops into one store, or, with a shard, into the store of that shard (what its
/// tracer would have recorded).
fn play(ops: &[Op], shard: Option<Shard>) -> Store {
    let store = Store::new();
    let mine = |i: usize| shard.is_none_or(|s| s.verdict(OBJECTS[i].2) == Verdict::Keep);
    let mut now = T;
    let mut pod_owner: HashMap<u8, usize> = HashMap::new();
    let mut alive = [false; OBJECTS.len()];
    // An owner deleted in the second a pod of it starts, when a window starts then, is in neither
    // window's index, so neither has the pod: deletions come a second after the last start.
    let mut last_start = [i64::MIN; OBJECTS.len()];
    for op in ops {
        match *op {
            Op::Apply { at, object: i, version } => {
                now = now.max(T + at);
                let v = object(i, version);
                alive[i] = true;
                if mine(i) {
                    store.apply(
                        now,
                        ObjectIdentity::of(&v).unwrap(),
                        EncodedObject::from_json(&v),
                        crate::stable_hash(&v),
                    );
                }
            }
            Op::Delete { at, object: i } => {
                now = now.max(T + at).max(last_start[i].saturating_add(1));
                alive[i] = false;
                if mine(i) {
                    store.delete(now, &ObjectIdentity::of(&object(i, 0)).unwrap());
                    for (pod, _) in pod_owner.iter().filter(|(_, &o)| o == i) {
                        store.pod_deleted(&format!("pod-{pod}"), now);
                    }
                }
            }
            Op::Pod { pod, owner: i, hash, len } => {
                if pod_owner.contains_key(&pod) || !alive[i] {
                    continue;
                }
                pod_owner.insert(pod, i);
                last_start[i] = now;
                if mine(i) {
                    let lc = PodLifecycle { start_ts: now, end_ts: len.map(|l| now + l) };
                    store.record_lifecycle(&format!("pod-{pod}"), owner(i), hash, lc);
                }
            }
            Op::PodDeleted { at, pod } => {
                now = now.max(T + at);
                if pod_owner.get(&pod).is_some_and(|&i| mine(i)) {
                    store.pod_deleted(&format!("pod-{pod}"), now);
                }
            }
        }
    }
    store
}

fn window(store: &Store, start: i64, end: i64) -> Trace {
    store.snapshot().window(&TracerConfig::default(), Window::new(T + start, T + end).unwrap(), &KeepAll)
}

/// Events with each second's objects in identity order: a second's order is the order the
/// changes arrived in, which shards split between them.
fn canonical(mut trace: Trace) -> Trace {
    let key = |o: &EncodedObject| o.identity();
    for ev in &mut trace.events {
        ev.applied_objs.sort_by_key(key);
        ev.deleted_objs.sort_by_key(key);
    }
    trace
}

/// Without versions that equal the version before them: the store records an object changed and
/// changed back within one second as applied, which the state at a window's start cannot show.
fn without_no_op_changes(mut trace: Trace) -> Trace {
    let mut last: HashMap<ObjectIdentity, EncodedObject> = HashMap::new();
    for ev in &mut trace.events {
        ev.applied_objs.retain(|o| {
            let id = o.identity().unwrap();
            last.insert(id, o.clone()).is_none_or(|before| before != *o)
        });
        for o in &ev.deleted_objs {
            last.remove(&o.identity().unwrap());
        }
    }
    let first = trace.events.first().map(|e| e.ts);
    trace.events.retain(|ev| Some(ev.ts) == first || !ev.applied_objs.is_empty() || !ev.deleted_objs.is_empty());
    trace
}

fn merged(traces: &[&Trace]) -> Trace {
    let names: Vec<String> = (0..traces.len()).map(|i| format!("t{i}.sktrace")).collect();
    let inputs: Vec<MergeInput<'_>> =
        traces.iter().zip(&names).map(|(trace, name)| MergeInput { name, trace }).collect();
    merge(&inputs).unwrap()
}

/// Lifecycles with each template's starts and ends as sorted lists: which end goes with which
/// start is not in a trace for pods that span a window's boundary together.
type StartsAndEnds = BTreeMap<(TraceIdentity, u64), (Vec<i64>, Vec<Option<i64>>)>;

fn launches_as_sets(trace: &Trace) -> StartsAndEnds {
    let mut out = BTreeMap::new();
    for (owner, by_hash) in &trace.pod_lifecycles {
        for (hash, lcs) in by_hash {
            let mut starts: Vec<i64> = lcs.iter().map(|l| l.start_ts).collect();
            let mut ends: Vec<Option<i64>> = lcs.iter().map(|l| l.end_ts).collect();
            starts.sort_unstable();
            ends.sort_unstable();
            out.insert((owner.clone(), *hash), (starts, ends));
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn shards_merged_are_the_unsharded_trace(
        ops in prop::collection::vec(op(), 0..40),
        count in 1u32..4,
        start in -2i64..20,
        len in 1i64..30,
    ) {
        let whole = window(&play(&ops, None), start, start + len);
        let shards: Vec<Trace> = (0..count)
            .map(|i| window(&play(&ops, Some(Shard::new(i, count).unwrap())), start, start + len))
            .collect();
        let parts: Vec<&Trace> = shards.iter().collect();
        prop_assert_eq!(canonical(merged(&parts)), canonical(whole));
    }

    #[test]
    fn consecutive_windows_merged_are_the_whole_range(
        ops in prop::collection::vec(op(), 0..40),
        start in -2i64..10,
        first in 1i64..20,
        overlap in 0i64..6,
        second in 1i64..20,
    ) {
        let store = play(&ops, None);
        let boundary = start + first;
        let later_start = (boundary - overlap).max(start + 1);
        let (a, b) = (window(&store, start, boundary), window(&store, later_start, boundary + second));
        let whole = canonical(without_no_op_changes(window(&store, start, boundary + second)));
        let merged = canonical(without_no_op_changes(merged(&[&a, &b])));
        prop_assert_eq!(&merged.events, &whole.events);
        prop_assert_eq!(&merged.index, &whole.index);
        // A window exports the lifecycles of the owners it holds: the pods of an owner deleted by
        // the later window's start end in neither window when they end after the earlier one.
        let mut whole = whole;
        for (_, by_hash) in whole.pod_lifecycles.iter_mut().filter(|(o, _)| !b.index.contains_key(o)) {
            for lc in by_hash.values_mut().flatten() {
                lc.end_ts = lc.end_ts.filter(|e| *e < T + boundary);
            }
        }
        prop_assert_eq!(launches_as_sets(&merged), launches_as_sets(&whole));
    }
}

#[test]
fn a_pod_running_across_the_boundary_keeps_its_start_and_gets_its_end() {
    let store = Store::new();
    let web = object(0, 0);
    store.apply(T, ObjectIdentity::of(&web).unwrap(), EncodedObject::from_json(&web), crate::stable_hash(&web));
    store.record_lifecycle("p1", owner(0), 7, PodLifecycle { start_ts: T + 2, end_ts: None });
    store.record_lifecycle("p2", owner(0), 7, PodLifecycle { start_ts: T + 3, end_ts: Some(T + 5) });
    store.record_lifecycle("p3", owner(0), 7, PodLifecycle { start_ts: T + 12, end_ts: None });
    store.pod_deleted("p1", T + 15);
    let (a, b) = (window(&store, 0, 10), window(&store, 10, 20));
    assert_eq!(a.pod_lifecycles[&owner(0)][&7][0], PodLifecycle { start_ts: T + 2, end_ts: None });
    assert_eq!(b.pod_lifecycles[&owner(0)][&7][0], PodLifecycle { start_ts: T + 10, end_ts: Some(T + 15) });
    let whole = window(&store, 0, 20);
    assert_eq!(merged(&[&a, &b]), whole);
    assert_eq!(
        whole.pod_lifecycles[&owner(0)][&7],
        [
            PodLifecycle { start_ts: T + 2, end_ts: Some(T + 15) },
            PodLifecycle { start_ts: T + 3, end_ts: Some(T + 5) },
            PodLifecycle { start_ts: T + 12, end_ts: None },
        ]
    );
    // The order of the inputs does not matter, nor does giving one twice.
    assert_eq!(merged(&[&b, &a, &b]), whole);
}

#[test]
fn disagreeing_inputs_and_configs_are_refused_by_name() {
    let one = Store::new();
    let two = Store::new();
    for (store, version) in [(&one, 1), (&two, 2)] {
        let v = object(0, version);
        store.apply(T + 1, ObjectIdentity::of(&v).unwrap(), EncodedObject::from_json(&v), crate::stable_hash(&v));
    }
    let (a, b) = (window(&one, 0, 5), window(&two, 0, 5));
    let inputs = [MergeInput { name: "a.sktrace", trace: &a }, MergeInput { name: "b.sktrace", trace: &b }];
    assert_eq!(
        merge(&inputs).unwrap_err().to_string(),
        format!(
            "a.sktrace and b.sktrace record apps/v1.Deployment a/web differently at {}: they are not parts of one trace",
            T + 1
        )
    );

    let mut other = a.clone();
    let gvk: Gvk = "apps/v1.Deployment".parse().unwrap();
    let cfg = |lifecycle| crate::TrackedObjectConfig {
        pod_spec_template_paths: vec![],
        track_lifecycle: lifecycle,
        skip_owned: false,
    };
    let mut first = a.clone();
    first.config.tracked_objects.insert(gvk.clone(), cfg(false));
    other.config.tracked_objects.insert(gvk, cfg(true));
    let inputs = [MergeInput { name: "a.sktrace", trace: &first }, MergeInput { name: "c.sktrace", trace: &other }];
    assert!(merge(&inputs)
        .unwrap_err()
        .to_string()
        .starts_with("a.sktrace and c.sktrace configure apps/v1.Deployment differently"));
    assert_eq!(merge(&[]), Err(MergeError::NoInputs));
}
