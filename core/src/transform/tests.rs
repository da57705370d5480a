use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::*;
use crate::export::{export, ExportRequest, KeepAll};
use crate::store::Store;
use crate::trace::{PodLifecycle, TraceEvent};
use crate::{stable_hash, Gvk};

const T: i64 = 1_764_000_000;

fn deploy(ns: &str, name: &str, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": ns, "name": name},
           "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})
}

fn enc(v: &Value) -> EncodedObject {
    EncodedObject::from_json(v)
}

fn key(ns: &str, name: &str) -> TraceIdentity {
    TraceIdentity::new(Gvk::new("apps", "v1", "Deployment"), format!("{ns}/{name}"))
}

fn lifecycles() -> BTreeMap<u64, Vec<PodLifecycle>> {
    [(7, vec![PodLifecycle { start_ts: T, end_ts: None }])].into()
}

/// Two Deployments from the start; the one in `noise` changes and is deleted later.
fn trace() -> Trace {
    let web = deploy("demo", "web", "registry.example/web:1");
    let noisy = deploy("noise", "chatter", "registry.example/chatter:1");
    let noisy2 = deploy("noise", "chatter", "registry.example/chatter:2");
    Trace {
        config: Default::default(),
        events: vec![
            TraceEvent { ts: T, applied_objs: vec![enc(&web), enc(&noisy)], deleted_objs: vec![] },
            TraceEvent { ts: T + 60, applied_objs: vec![enc(&noisy2)], deleted_objs: vec![] },
            TraceEvent {
                ts: T + 120,
                applied_objs: vec![],
                deleted_objs: vec![enc(&json!({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"namespace": "noise", "name": "chatter"}}))],
            },
        ],
        index: [(key("demo", "web"), stable_hash(&web)), (key("noise", "chatter"), stable_hash(&noisy2))].into(),
        pod_lifecycles: [(key("demo", "web"), lifecycles()), (key("noise", "chatter"), lifecycles())].into(),
        gaps: Vec::new(),
    }
}

fn run(program: &str, trace: &mut Trace) -> TransformStats {
    let program = Program::parse(program).unwrap();
    transform(trace, &program, T, &KeepAll, |_| {}).unwrap()
}

#[test]
fn a_deleted_object_leaves_events_index_and_lifecycles() {
    let mut t = trace();
    let stats = run(r#"delete(metadata.namespace == "noise");"#, &mut t);
    // The events left empty are dropped; the first stays whatever it holds.
    assert_eq!(t.events.len(), 1);
    assert_eq!(t.events[0].applied_objs.len(), 1);
    assert_eq!(t.index.keys().collect::<Vec<_>>(), [&key("demo", "web")]);
    assert_eq!(t.pod_lifecycles.keys().collect::<Vec<_>>(), [&key("demo", "web")]);
    assert_eq!(
        stats,
        TransformStats {
            events: 3,
            events_matched: 3,
            events_dropped: 2,
            objects: 4,
            objects_matched: 3,
            objects_changed: 3,
            objects_deleted: 3,
            objects_filtered: 0
        }
    );
}

#[test]
fn a_deletion_record_follows_its_objects_versions() {
    // The label is on the versions, not on the deletion record.
    let mut t = trace();
    for ev in &mut t.events {
        for obj in &mut ev.applied_objs {
            let mut v = obj.to_json().unwrap();
            v["metadata"]["labels"] = json!({"team": v["metadata"]["namespace"].clone()});
            *obj = enc(&v);
        }
    }
    run(r#"delete(metadata.labels.team == "noise");"#, &mut t);
    assert_eq!(t.events.len(), 1, "{:?}", t.events);
}

#[test]
fn the_index_hashes_the_transformed_objects() {
    let mut t = trace();
    let stats = run(r#"modify(spec.template.spec.containers[*].image = "scrubbed");"#, &mut t);
    let web = deploy("demo", "web", "scrubbed");
    assert_eq!(t.index[&key("demo", "web")], stable_hash(&web));
    assert_eq!(t.index[&key("noise", "chatter")], stable_hash(&deploy("noise", "chatter", "scrubbed")));
    assert_eq!(t.events[0].applied_objs[0], enc(&web));
    // The deletion record has no containers: matched, unchanged.
    assert_eq!((stats.objects_matched, stats.objects_changed), (4, 3));
    assert_eq!(t.events.len(), 3);
}

#[test]
fn a_renamed_object_takes_its_index_entry_and_lifecycles_along() {
    let mut t = trace();
    run(r#"modify(metadata.namespace == "demo", metadata.namespace = "sim");"#, &mut t);
    assert!(t.index.contains_key(&key("sim", "web")) && !t.index.contains_key(&key("demo", "web")));
    assert_eq!(t.pod_lifecycles[&key("sim", "web")], lifecycles());
}

#[test]
fn v1_keys_without_kinds_are_matched_by_name() {
    let mut t = trace();
    t.index = t.index.into_iter().map(|(k, h)| (TraceIdentity { gvk: None, name: k.name }, h)).collect();
    run(r#"delete(metadata.namespace == "noise");"#, &mut t);
    assert_eq!(t.index.keys().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["demo/web"]);
}

#[test]
fn relative_times_count_from_the_start() {
    let mut t = trace();
    // Only the version at +60s is at or after one minute; the object keeps its first version.
    run(r#"delete(@t >= 1m && @t < 2m);"#, &mut t);
    assert_eq!(t.events.len(), 2);
    assert_eq!(
        t.index[&key("noise", "chatter")],
        stable_hash(&deploy("noise", "chatter", "registry.example/chatter:1"))
    );
}

#[test]
fn errors_name_the_object_and_the_position() {
    let program = Program::parse("remove(metadata.name > 1, status);").unwrap();
    let err = transform(&mut trace(), &program, T, &KeepAll, |_| {}).unwrap_err().to_string();
    assert!(err.starts_with("line 1, column 8: `>` compares numbers") && err.contains("Deployment demo/web"), "{err}");
    let program = Program::parse("remove(metadata.name);").unwrap();
    let err = transform(&mut trace(), &program, T, &KeepAll, |_| {}).unwrap_err().to_string();
    assert!(err.contains("without a string metadata.name"), "{err}");
}

struct NotIn(&'static str);

impl ObjectFilter for NotIn {
    fn keep(&self, obj: &Candidate<'_>) -> bool {
        obj.id().namespace != self.0
    }
}

#[test]
fn the_filters_judge_the_transformed_objects() {
    let mut t = trace();
    let program = Program::parse(r#"modify(metadata.namespace == "demo", metadata.namespace = "hidden");"#).unwrap();
    let stats = transform(&mut t, &program, T, &NotIn("hidden"), |_| {}).unwrap();
    assert_eq!(t.index.keys().collect::<Vec<_>>(), [&key("noise", "chatter")]);
    assert_eq!(stats.objects_filtered, 1);
    assert!(
        !t.pod_lifecycles.contains_key(&key("demo", "web")) && !t.pod_lifecycles.contains_key(&key("hidden", "web"))
    );
}

#[test]
fn an_export_applies_the_transform_to_its_window() {
    let store = Store::new();
    let web = deploy("demo", "web", "registry.example/web:1");
    let noisy = deploy("noise", "chatter", "registry.example/chatter:1");
    for v in [&web, &noisy] {
        store.apply(T, ObjectIdentity::of(v).unwrap(), enc(v), stable_hash(v));
    }
    let noisy2 = deploy("noise", "chatter", "registry.example/chatter:2");
    store.apply(T + 100, ObjectIdentity::of(&noisy2).unwrap(), enc(&noisy2), stable_hash(&noisy2));
    store.record_lifecycle("uid-n", key("noise", "chatter"), 7, PodLifecycle { start_ts: T, end_ts: None });
    store.record_lifecycle("uid-w", key("demo", "web"), 8, PodLifecycle { start_ts: T, end_ts: None });
    let request = ExportRequest::parse(
        json!({"start_ts": T + 10, "end_ts": T + 200, "transform":
            "delete(metadata.namespace == \"noise\");\nmodify(@t < 10s, metadata.labels.early = true);"})
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    let config = Default::default();
    let bytes = export(&store.snapshot(), &config, &request, &Default::default()).unwrap().trace.into_bytes();
    let got = crate::trace::decode(&bytes).unwrap();
    assert_eq!(got.events.len(), 1);
    assert_eq!(got.events[0].ts, T + 10);
    let mut web2 = web.clone();
    web2["metadata"]["labels"] = json!({"early": true});
    assert_eq!(got.events[0].applied_objs, [enc(&web2)]);
    assert_eq!(got.index.values().copied().collect::<Vec<_>>(), [stable_hash(&web2)]);
    assert_eq!(got.pod_lifecycles.len(), 1);
}
