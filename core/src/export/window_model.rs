//! The window's semantics written plainly, with owned maps and no care for speed, and any store
//! history cut both ways: the cut the exports use must give the same trace, and its encoding the
//! same bytes as the trace's.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::store::*;
use crate::trace::object::deletion_record;
use crate::trace::{simkube_v2, v1, EncodedObject, ObjectIdentity, PodLifecycle, Trace, TraceEvent, TraceIdentity};
use crate::tracer_config::TracerConfig;

const T: i64 = 1_764_000_000;

fn model(snap: &Snapshot, config: &TracerConfig, w: Window, filter: &dyn ObjectFilter) -> Trace {
    let start = w.start().max(snap.base_ts.unwrap_or(i64::MIN));
    let mut alive: BTreeMap<ObjectIdentity, StoredObject> =
        snap.base.iter().map(|(k, v)| ((**k).clone(), v.clone())).collect();
    let mut inside = Vec::new();
    for ev in snap.events().take_while(|ev| ev.ts < w.end()) {
        if ev.ts <= start {
            for obj in &ev.applied {
                alive.insert((*obj.id).clone(), obj.clone());
            }
            for id in &ev.deleted {
                alive.remove(&**id);
            }
        } else {
            inside.push(ev);
        }
    }
    // The first version of an object decides; the hash is that of its last kept version.
    let mut verdicts: HashMap<ObjectIdentity, (bool, Option<u64>)> = HashMap::new();
    let keep = |verdicts: &mut HashMap<ObjectIdentity, (bool, Option<u64>)>, o: &StoredObject| {
        let v = verdicts.entry((*o.id).clone()).or_insert_with(|| (filter.keep(&Candidate::new(o)), None));
        if v.0 {
            v.1 = Some(o.hash);
        }
        v.0
    };
    let first: Vec<_> = alive.values().filter(|o| keep(&mut verdicts, o)).map(|o| o.obj.clone()).collect();
    let mut events = vec![TraceEvent { ts: start, applied_objs: first, deleted_objs: vec![] }];
    for ev in inside {
        let applied_objs: Vec<_> =
            ev.applied.iter().filter(|o| keep(&mut verdicts, o)).map(|o| o.obj.clone()).collect();
        let deleted_objs: Vec<_> = ev
            .deleted
            .iter()
            .filter(|id| verdicts.get(&***id).is_some_and(|v| v.0))
            .map(|id| deletion_record(id))
            .collect();
        if !applied_objs.is_empty() || !deleted_objs.is_empty() {
            events.push(TraceEvent { ts: ev.ts, applied_objs, deleted_objs });
        }
    }
    let index: BTreeMap<TraceIdentity, u64> = verdicts
        .iter()
        .filter_map(|(id, (_, last))| Some((TraceIdentity::new(id.gvk.clone(), id.namespaced_name()), (*last)?)))
        .collect();
    let mut pod_lifecycles = BTreeMap::new();
    for (owner, by_hash) in snap.lifecycles() {
        if !index.contains_key(&owner) {
            continue;
        }
        let clipped: BTreeMap<u64, Vec<PodLifecycle>> = by_hash
            .into_iter()
            .map(|(h, lcs)| {
                let lcs = lcs
                    .into_iter()
                    .filter(|lc| lc.start_ts < w.end() && lc.end_ts.is_none_or(|e| e >= start))
                    .map(|lc| PodLifecycle {
                        start_ts: lc.start_ts.max(start),
                        end_ts: lc.end_ts.filter(|e| *e < w.end()),
                    })
                    .collect::<Vec<_>>();
                (h, lcs)
            })
            .filter(|(_, lcs)| !lcs.is_empty())
            .collect();
        if !clipped.is_empty() {
            pod_lifecycles.insert(owner, clipped);
        }
    }
    let gaps = snap.gaps.iter().filter_map(|g| g.clip(start, w.end())).collect();
    Trace { config: config.clone(), events, index, pod_lifecycles, gaps }
}

/// Leaves out objects labelled `skip` (as an object's first version in the window has it).
struct NotSkipped;

impl ObjectFilter for NotSkipped {
    fn keep(&self, obj: &Candidate<'_>) -> bool {
        obj.metadata().label("skip").is_none()
    }
}

#[derive(Clone, Debug)]
enum Op {
    Apply { at: i64, object: usize, version: u8, skip: bool },
    Delete { at: i64, object: usize },
    Lifecycle { pod: u8, owner: usize, hash: u64, start: i64, end: Option<i64> },
    PodDeleted { at: i64, pod: u8 },
    Evict { now: i64, max_age: i64 },
}

/// Objects whose names collide across kinds and namespaces, and across the namespaced name's
/// `/` (`a-b/x` sorts before `a/x`; a cluster-scoped `a` beside them), and beyond 16 bytes.
const OBJECTS: [(&str, &str, &str, &str); 10] = [
    ("apps/v1", "Deployment", "a", "x"),
    ("batch/v1", "Job", "a", "x"),
    ("apps/v1", "Deployment", "a-b", "x"),
    ("apps/v1", "Deployment", "a", "y"),
    ("example.com/v1", "Widget", "", "a"),
    ("example.com/v1", "Widget", "", "a-b"),
    ("apps/v1", "Deployment", "ab", "x"),
    // Longer than the 16 bytes the index is first sorted by.
    ("apps/v1", "Deployment", "namespace-sixteen", "web-a"),
    ("batch/v1", "Job", "namespace-sixteen", "web-a"),
    ("example.com/v1", "Widget", "", "namespace-sixteen-web"),
];

fn object(i: usize, version: u8, skip: bool) -> serde_json::Value {
    let (api, kind, ns, name) = OBJECTS[i];
    let mut labels = json!({"v": version.to_string()});
    if skip {
        labels["skip"] = json!("yes");
    }
    let mut meta = json!({"name": name, "labels": labels});
    if !ns.is_empty() {
        meta["namespace"] = json!(ns);
    }
    json!({"apiVersion": api, "kind": kind, "metadata": meta, "spec": {"pad": "p".repeat(version as usize * 200)}})
}

fn op() -> impl Strategy<Value = Op> {
    let at = 0i64..40;
    prop_oneof![
        4 => (at.clone(), 0..OBJECTS.len(), 0u8..4, prop::bool::weighted(0.2))
            .prop_map(|(at, object, version, skip)| Op::Apply { at, object, version, skip }),
        1 => (at.clone(), 0..OBJECTS.len()).prop_map(|(at, object)| Op::Delete { at, object }),
        2 => (0u8..12, 0..OBJECTS.len(), 0u64..3, at.clone(), prop::option::of(0i64..20))
            .prop_map(|(pod, owner, hash, start, len)| Op::Lifecycle { pod, owner, hash, start, end: len.map(|l| start + l) }),
        1 => (at.clone(), 0u8..12).prop_map(|(at, pod)| Op::PodDeleted { at, pod }),
        1 => (at, 1i64..30).prop_map(|(now, max_age)| Op::Evict { now, max_age }),
    ]
}

fn play(ops: &[Op]) -> Store {
    let store = Store::new();
    // Time only moves forward, as the tracer's clock does.
    let mut now = T;
    for op in ops {
        match *op {
            Op::Apply { at, object: i, version, skip } => {
                now = now.max(T + at);
                let v = object(i, version, skip);
                store.apply(now, ObjectIdentity::of(&v).unwrap(), EncodedObject::from_json(&v), crate::stable_hash(&v));
            }
            Op::Delete { at, object: i } => {
                now = now.max(T + at);
                store.delete(now, &ObjectIdentity::of(&object(i, 0, false)).unwrap());
            }
            Op::Lifecycle { pod, owner, hash, start, end } => {
                let id = ObjectIdentity::of(&object(owner, 0, false)).unwrap();
                let owner = TraceIdentity::new(id.gvk.clone(), id.namespaced_name());
                let lc = PodLifecycle { start_ts: T + start, end_ts: end.map(|e| T + e) };
                store.record_lifecycle(&format!("pod-{pod}"), owner, hash, lc);
            }
            Op::PodDeleted { at, pod } => {
                now = now.max(T + at);
                store.pod_deleted(&format!("pod-{pod}"), now);
            }
            Op::Evict { now: at, max_age } => {
                now = now.max(T + at);
                store.evict(now, Retention { max_age_secs: max_age, max_bytes: u64::MAX });
            }
        }
    }
    store
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_cut_is_the_window_and_encodes_as_its_trace(
        ops in prop::collection::vec(op(), 0..40),
        start in -5i64..45,
        len in 1i64..50,
        filtered in any::<bool>(),
    ) {
        let snap = play(&ops).snapshot();
        let config = TracerConfig::default();
        let w = Window::new(T + start, T + start + len).unwrap();
        let filter: &dyn ObjectFilter = if filtered { &NotSkipped } else { &KeepAll };
        let trace = snap.window(&config, w, filter);
        prop_assert_eq!(&trace, &model(&snap, &config, w, filter));
        let cut = snap.cut(&config, w, filter);
        prop_assert_eq!(v1::encode_to_chunks(&cut).into_bytes(), v1::encode_to_vec(&trace));
        // SimKube's format is written from the cut too, and must say what the model's trace says.
        let mut v2 = Vec::new();
        simkube_v2::encode(&trace, &mut v2).unwrap();
        prop_assert_eq!(simkube_v2::encode_to_chunks(&cut).into_bytes(), v2);
    }
}
