//! Changes the watches deliver as JSON text take a shorter path through ingest than decoded
//! objects (status writes and bookkeeping are fingerprinted and skipped, pods seen before are read
//! only for their owners and status). What is recorded must be exactly what the full path records:
//! each case feeds the same watch events to two tracers, one through each path, and compares the
//! exported traces byte for byte.

use std::sync::Arc;

use serde_json::{json, Value};
use sk_core::export::{build_filters, export, ExportRequest, TraceFormat};
use sk_core::ownership::KnownOwner;
use sk_core::pipeline::SanitiserChain;
use sk_core::sources::{Change, ChangeKind, Payload, RawObject};
use sk_core::store::Store;
use sk_core::tracer::{Ingest, Metrics, Pipeline};
use sk_core::{Gvk, TracerConfig};

// Links the built-in sanitisers.
use sk_plugins as _;

const T: i64 = 1_764_000_000;

fn config() -> TracerConfig {
    let dir = tempfile::tempdir().unwrap();
    let yaml = "trackedObjects:\n  apps/v1.Deployment:\n    trackLifecycle: true\n";
    std::fs::write(dir.path().join("c.yaml"), yaml).unwrap();
    sk_config::Loader::new().file(dir.path().join("c.yaml")).load().unwrap().tracer
}

fn pipeline(sanitisers: &[&str]) -> Pipeline {
    let names: Vec<String> = sanitisers.iter().map(|s| s.to_string()).collect();
    let chain = SanitiserChain::build(&names, &serde_json::Map::new()).unwrap();
    Pipeline::new(chain, SanitiserChain::build(&["pod-hash".into()], &serde_json::Map::new()).unwrap())
}

/// One watch event: the kind, whether it deletes, the object as the apiserver sends it.
enum Event {
    Object(&'static str, bool, Value),
    /// A ReplicaSet from the metadata-only watch.
    Owner {
        uid: &'static str,
        name: &'static str,
        deployment: &'static str,
    },
}

fn gvk(kind: &str) -> Gvk {
    match kind {
        "Deployment" => Gvk::new("apps", "v1", "Deployment"),
        _ => Gvk::new("", "v1", "Pod"),
    }
}

/// The trace exported after feeding `events` through the full path (`raw: false`) or the
/// watches' (`raw: true`), and how many versions were recorded.
fn trace(events: &[Event], sanitisers: &[&str], raw: bool) -> (Vec<u8>, u64, u64) {
    let cfg = config();
    let store = Arc::new(Store::new());
    let metrics = Arc::new(Metrics::default());
    let mut ingest = Ingest::new(Arc::new(cfg.clone()), Arc::new(pipeline(sanitisers)), store.clone(), metrics.clone());
    for (i, e) in events.iter().enumerate() {
        let at = T + i as i64;
        let (gvk, kind) = match e {
            Event::Object(kind, deleted, obj) => {
                let gvk = gvk(kind);
                // As the bytes come off the wire: text, decoded as the watches decode it.
                let kind = if *deleted { "DELETED" } else { "MODIFIED" };
                let text = format!(r#"{{"type":"{kind}","object":{obj}}}"#);
                let event: kube::core::WatchEvent<RawObject> = serde_json::from_str(&text).unwrap();
                let o = match event {
                    kube::core::WatchEvent::Modified(o) | kube::core::WatchEvent::Deleted(o) => o,
                    _ => unreachable!("written as one of these"),
                };
                let payload = if raw { Payload::Raw(Box::new(o)) } else { Payload::Object(o.to_json(&gvk)) };
                (gvk, if *deleted { ChangeKind::Deleted(payload) } else { ChangeKind::Applied(payload) })
            }
            Event::Owner { uid, name, deployment } => {
                let owners = vec![sk_core::ownership::OwnerReference {
                    uid: format!("uid-{deployment}"),
                    gvk: gvk("Deployment"),
                    name: deployment.to_string(),
                    controller: true,
                }];
                let info = KnownOwner {
                    gvk: Gvk::new("apps", "v1", "ReplicaSet"),
                    namespace: "d".into(),
                    name: name.to_string(),
                    owners,
                };
                (
                    Gvk::new("apps", "v1", "ReplicaSet"),
                    ChangeKind::Applied(Payload::Meta { uid: uid.to_string(), info }),
                )
            }
        };
        ingest.handle(Change { gvk, at, kind });
    }
    let request = ExportRequest {
        start_ts: 0,
        end_ts: i64::MAX,
        export_path: None,
        filters: Default::default(),
        format: Some(TraceFormat::V1),
        transform: None,
    };
    let filters = build_filters(&serde_json::Map::new(), &serde_json::Map::new(), &cfg).unwrap();
    let encoded = export(&store.snapshot(), &cfg, &request, &filters).unwrap();
    let count = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    (encoded.trace.into_bytes().to_vec(), count(&metrics.recorded), count(&metrics.decoded_whole))
}

fn managed(manager: &str, fields: Value) -> Value {
    json!({"manager": manager, "operation": "Update", "apiVersion": "apps/v1", "time": "2025-11-24T16:00:00Z",
           "fieldsType": "FieldsV1", "fieldsV1": fields})
}

fn deployment(rv: u64, image: &str, status: Value, f: impl FnOnce(&mut Value)) -> Value {
    let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "d", "uid": "uid-web", "resourceVersion": rv.to_string(), "generation": 1,
                     "creationTimestamp": "2025-11-24T16:00:00Z", "labels": {"app": "web"},
                     "annotations": {"deployment.kubernetes.io/revision": "1", "db-password": "hunter2"},
                     "managedFields": [managed("kubectl", json!({"f:spec": {"f:replicas": {}}})),
                                       managed("kube-controller-manager", json!({"f:status": {"f:replicas": {}}}))]},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": image, "env": [{"name": "TOKEN", "value": "abc"}]}]}}},
        "status": status});
    f(&mut d);
    d
}

fn pod(name: &'static str, owner_uid: &str, status: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": "d", "uid": format!("uid-{name}"), "resourceVersion": "9",
                        "labels": {"app": "web"}, "managedFields": [managed("kubelet", json!({"f:status": {}}))],
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": owner_uid, "controller": true}]},
           "spec": {"restartPolicy": "Always", "nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]},
           "status": status})
}

fn unschedulable(attempt: u32) -> Value {
    json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                               "message": format!("0/{} nodes are available", 3 + attempt)}]})
}

fn running(at: &str) -> Value {
    json!({"phase": "Running", "containerStatuses": [{"name": "c", "state": {"running": {"startedAt": at}}}]})
}

fn workload() -> Vec<Event> {
    use Event::Object;
    let ready = |n: u64| json!({"replicas": 2, "readyReplicas": n, "observedGeneration": 1});
    vec![
        Object("Deployment", false, deployment(1, "nginx:1", json!({}), |_| {})),
        // Status, managedFields, resourceVersion: nothing a trace keeps.
        Object("Deployment", false, deployment(2, "nginx:1", ready(0), |_| {})),
        Object(
            "Deployment",
            false,
            deployment(3, "nginx:1", ready(1), |d| {
                d["metadata"]["managedFields"][1]["time"] = json!("2025-11-24T16:00:09Z")
            }),
        ),
        Object("Deployment", false, deployment(4, "nginx:1", ready(1), |_| {})),
        // A status write that also changes a label: the label is recorded.
        Object(
            "Deployment",
            false,
            deployment(5, "nginx:1", ready(2), |d| d["metadata"]["labels"]["tier"] = json!("web")),
        ),
        // What the redact sanitiser touches: an annotation it removes (nothing to record), an
        // env var it fingerprints (a new fingerprint is recorded).
        Object(
            "Deployment",
            false,
            deployment(6, "nginx:1", ready(2), |d| {
                d["metadata"]["labels"]["tier"] = json!("web");
                d["metadata"]["annotations"]["db-password"] = json!("hunter3");
            }),
        ),
        Object(
            "Deployment",
            false,
            deployment(7, "nginx:1", ready(2), |d| {
                d["metadata"]["labels"]["tier"] = json!("web");
                d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = json!("xyz");
            }),
        ),
        // Fields in another order, and key order within them: the same object.
        Object("Deployment", false, {
            let d = deployment(8, "nginx:1", ready(2), |d| {
                d["metadata"]["labels"]["tier"] = json!("web");
                d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = json!("xyz");
            });
            let Value::Object(m) = d else { unreachable!() };
            Value::Object(m.into_iter().rev().collect())
        }),
        // The owner chain and pods: the scheduler's retries, then the kubelet.
        Event::Owner { uid: "uid-rs", name: "web-abc", deployment: "web" },
        Object("Pod", false, pod("p1", "uid-rs", json!({"phase": "Pending"}))),
        Object("Pod", false, pod("p1", "uid-rs", unschedulable(0))),
        Object("Pod", false, pod("p1", "uid-rs", unschedulable(1))),
        Object("Pod", false, pod("p1", "uid-rs", running("2025-11-24T16:01:00Z"))),
        Object("Pod", false, pod("p1", "uid-rs", running("2025-11-24T16:01:00Z"))),
        // A pod whose owner is not known yet waits, and is resolved when it comes: p4 before it
        // has a lifecycle, p2 with one.
        Object("Pod", false, pod("p4", "uid-rs2", json!({"phase": "Pending"}))),
        Object("Pod", false, pod("p4", "uid-rs2", unschedulable(0))),
        Object("Pod", false, pod("p2", "uid-rs2", running("2025-11-24T16:01:05Z"))),
        Object("Pod", false, pod("p2", "uid-rs2", running("2025-11-24T16:01:05Z"))),
        Event::Owner { uid: "uid-rs2", name: "web-def", deployment: "web" },
        Object("Pod", false, pod("p4", "uid-rs2", running("2025-11-24T16:01:09Z"))),
        Object(
            "Pod",
            false,
            pod(
                "p1",
                "uid-rs",
                json!({"phase": "Succeeded", "containerStatuses": [{"name": "c", "state": {"terminated": {"startedAt": "2025-11-24T16:01:00Z", "finishedAt": "2025-11-24T16:02:00Z"}}}]}),
            ),
        ),
        Object("Pod", true, pod("p1", "uid-rs", json!({"phase": "Succeeded"}))),
        // Every container terminated, the phase not yet final: the restart policy decides.
        Object("Pod", false, pod("p3", "uid-rs", running("2025-11-24T16:01:07Z"))),
        Object("Pod", false, {
            let mut p = pod(
                "p3",
                "uid-rs",
                json!({"phase": "Running", "containerStatuses": [{"name": "c", "state": {"terminated": {"startedAt": "2025-11-24T16:01:07Z", "finishedAt": "2025-11-24T16:03:00Z"}}}]}),
            );
            p["spec"]["restartPolicy"] = json!("Never");
            p
        }),
        Object("Pod", true, pod("p2", "uid-rs2", running("2025-11-24T16:01:05Z"))),
        // Deleted, then created again as it was: the fingerprint is the same, the store's
        // version is gone, and it is recorded again.
        Object("Deployment", true, deployment(9, "nginx:1", ready(2), |_| {})),
        Object("Deployment", false, deployment(10, "nginx:1", ready(2), |_| {})),
        Object("Deployment", false, deployment(11, "nginx:2", ready(0), |_| {})),
        Object("Deployment", false, deployment(12, "nginx:2", ready(2), |_| {})),
    ]
}

/// The versions recorded, and the events the watch path decoded whole.
fn same_either_way(sanitisers: &[&str]) -> (u64, u64) {
    let events = workload();
    let (full, recorded_full, _) = trace(&events, sanitisers, false);
    let (fast, recorded_fast, decoded) = trace(&events, sanitisers, true);
    assert_eq!(recorded_fast, recorded_full, "{sanitisers:?}: versions recorded");
    assert!(full == fast, "{sanitisers:?}: the traces differ");
    (recorded_full, decoded)
}

#[test]
fn the_watch_path_records_exactly_what_the_full_path_records() {
    // The default chain: the first version, the label, the env var, the re-creation and the new
    // image are recorded. Decoded whole: the Deployments whose text changed beyond status and
    // bookkeeping (those five and the redacted annotation; fields reordered are not a change),
    // the deletion, and the pods' first sightings with a lifecycle (p2's twice: it waited for
    // its owner with one; p4 waited without).
    let events = workload().len() as u64;
    let (recorded, decoded) = same_either_way(&["metadata", "status", "node-name", "redact"]);
    assert_eq!((recorded, decoded), (5, 12), "of {events} events");
    // Status kept: every status write is a version of its own.
    let (recorded, decoded) = same_either_way(&["metadata", "node-name", "redact"]);
    assert!(recorded > 5 && decoded > 12, "{recorded} {decoded}");
    // Status dropped before managedFields is: the order changes what is ignored, not the trace.
    same_either_way(&["status", "redact", "metadata"]);
    // No sanitiser: everything the apiserver writes is a change.
    same_either_way(&[]);
}
