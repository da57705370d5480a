use std::sync::Arc;

use serde_json::{json, Value};

use super::*;
use crate::export::{KeepAll, Window};
use crate::pipeline::SanitiserChain;
use crate::trace::{PodLifecycle, TraceIdentity};
use crate::tracer::Pipeline;

const T: i64 = 1_764_000_000;

fn config(yaml_like: &[(&str, &str, bool, bool)]) -> Arc<TracerConfig> {
    let mut c = TracerConfig::default();
    for (gvk, path, lifecycle, skip_owned) in yaml_like {
        c.tracked_objects.insert(
            gvk.parse().unwrap(),
            TrackedObjectConfig {
                pod_spec_template_paths: vec![path.parse().unwrap()],
                track_lifecycle: *lifecycle,
                skip_owned: *skip_owned,
            },
        );
    }
    Arc::new(c)
}

fn ingest(cfg: Arc<TracerConfig>) -> (Ingest, Arc<Store>) {
    let store = Arc::new(Store::new());
    let pipeline = Arc::new(Pipeline::new(SanitiserChain::default(), SanitiserChain::default()));
    (Ingest::new(cfg, pipeline, store.clone(), Arc::new(Metrics::default())), store)
}

fn change(gvk: &str, at: i64, kind: ChangeKind) -> Change {
    Change { gvk: gvk.parse().unwrap(), at, kind }
}

fn applied(gvk: &str, at: i64, obj: Value) -> Change {
    change(gvk, at, ChangeKind::Applied(Payload::Object(obj)))
}

fn deployment(name: &str, uid: &str, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": "d", "name": name, "uid": uid},
           "spec": {"replicas": 1, "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": image}]}}}})
}

fn pod(name: &str, uid: &str, owner: (&str, &str, &str, &str), status: Value) -> Value {
    let (api, kind, oname, ouid) = owner;
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"namespace": "d", "name": name, "uid": uid, "labels": {"app": "web"},
                        "ownerReferences": [{"apiVersion": api, "kind": kind, "name": oname, "uid": ouid, "controller": true}]},
           "spec": {"containers": [{"name": "c", "image": "nginx"}]}, "status": status})
}

fn running(at: &str) -> Value {
    json!({"phase": "Running", "containerStatuses": [{"name": "c", "state": {"running": {"startedAt": at}}}]})
}

fn export(store: &Store, cfg: &TracerConfig) -> crate::Trace {
    store.snapshot().window(cfg, Window::new(T, i64::MAX).unwrap(), &KeepAll)
}

fn rs_meta(uid: &str, name: &str, deployment: (&str, &str)) -> Change {
    change(
        "apps/v1.ReplicaSet",
        T,
        ChangeKind::Applied(Payload::Meta {
            uid: uid.into(),
            info: KnownOwner {
                gvk: "apps/v1.ReplicaSet".parse().unwrap(),
                namespace: "d".into(),
                name: name.into(),
                owners: vec![OwnerReference {
                    uid: deployment.1.into(),
                    gvk: "apps/v1.Deployment".parse().unwrap(),
                    name: deployment.0.into(),
                    controller: true,
                }],
            },
        }),
    )
}

#[test]
fn pods_wait_for_their_owner_chain_then_record_lifecycles() {
    let cfg = config(&[("apps/v1.Deployment", "/spec/template", true, false)]);
    let (mut ing, store) = ingest(cfg.clone());
    assert!(ing.handle(applied("apps/v1.Deployment", T, deployment("web", "dep1", "nginx"))).is_empty());
    let p = pod("web-1", "p1", ("apps/v1", "ReplicaSet", "web-abc", "rs1"), running("2025-11-24T16:00:05Z"));
    let wanted = ing.handle(applied("v1.Pod", T + 5, p.clone()));
    assert_eq!(wanted, vec!["apps/v1.ReplicaSet".parse::<Gvk>().unwrap()]);
    assert_eq!(ing.pending_pods(), 1);
    // The same kind is asked for once.
    let p2 = pod("web-2", "p2", ("apps/v1", "ReplicaSet", "web-abc", "rs1"), running("2025-11-24T16:00:06Z"));
    assert!(ing.handle(applied("v1.Pod", T + 6, p2)).is_empty());
    ing.handle(rs_meta("rs1", "web-abc", ("web", "dep1")));
    assert_eq!(ing.pending_pods(), 0);
    let trace = export(&store, &cfg);
    let owner = TraceIdentity::new("apps/v1.Deployment".parse().unwrap(), "d/web");
    let by_hash = &trace.pod_lifecycles[&owner];
    assert_eq!(by_hash.len(), 1, "both pods share a template, so a hash");
    let lcs = by_hash.values().next().unwrap();
    assert_eq!(
        lcs,
        &vec![PodLifecycle { start_ts: T + 5, end_ts: None }, PodLifecycle { start_ts: T + 6, end_ts: None }]
    );

    // The Deployment goes first, as garbage collection deletes pods after their owners; a pod
    // deleted while running still ends at its deletion.
    ing.handle(change(
        "apps/v1.Deployment",
        T + 29,
        ChangeKind::Deleted(Payload::Object(deployment("web", "dep1", "nginx"))),
    ));
    ing.handle(change("v1.Pod", T + 30, ChangeKind::Deleted(Payload::Object(p))));
    let trace = export(&store, &cfg);
    assert_eq!(trace.pod_lifecycles[&owner].values().next().unwrap()[0].end_ts, Some(T + 30));
}

#[test]
fn owners_without_track_lifecycle_record_no_lifecycles() {
    let cfg = config(&[("apps/v1.Deployment", "/spec/template", false, false)]);
    let (mut ing, store) = ingest(cfg.clone());
    ing.handle(applied("apps/v1.Deployment", T, deployment("web", "dep1", "nginx")));
    ing.handle(rs_meta("rs1", "web-abc", ("web", "dep1")));
    ing.handle(applied(
        "v1.Pod",
        T + 5,
        pod("web-1", "p1", ("apps/v1", "ReplicaSet", "web-abc", "rs1"), running("2025-11-24T16:00:05Z")),
    ));
    assert!(export(&store, &cfg).pod_lifecycles.is_empty());
    assert_eq!(ing.pending_pods(), 0);
}

#[test]
fn a_relist_reconciles_against_the_trace() {
    let cfg = config(&[("apps/v1.Deployment", "/spec/template", false, false)]);
    let (mut ing, store) = ingest(cfg.clone());
    for (n, uid) in [("a", "1"), ("b", "2"), ("c", "3")] {
        ing.handle(applied("apps/v1.Deployment", T, deployment(n, uid, "v1")));
    }
    ing.handle(change("apps/v1.Deployment", T + 60, ChangeKind::RelistStarted));
    for (n, uid, image) in [("a", "1", "v1"), ("b", "2", "v2"), ("d", "4", "v1")] {
        ing.handle(change(
            "apps/v1.Deployment",
            T + 60,
            ChangeKind::Relisted(Payload::Object(deployment(n, uid, image))),
        ));
    }
    ing.handle(change("apps/v1.Deployment", T + 60, ChangeKind::RelistDone));
    let trace = export(&store, &cfg);
    assert_eq!(trace.events.len(), 2);
    let last = &trace.events[1];
    let names = |objs: &[EncodedObject]| objs.iter().map(|o| o.identity().unwrap().name).collect::<Vec<_>>();
    assert_eq!(names(&last.applied_objs), ["b", "d"]);
    assert_eq!(names(&last.deleted_objs), ["c"]);
}

#[test]
fn skip_owned_records_only_objects_without_owners() {
    let cfg = config(&[("v1.Pod", "", true, true)]);
    let (mut ing, store) = ingest(cfg.clone());
    let bare = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "d", "name": "solo", "uid": "s"},
                      "spec": {"containers": []}, "status": running("2025-11-24T16:00:01Z")});
    ing.handle(applied("v1.Pod", T, bare));
    ing.handle(applied(
        "v1.Pod",
        T,
        pod("owned", "o", ("apps/v1", "ReplicaSet", "x", "rsx"), running("2025-11-24T16:00:01Z")),
    ));
    let trace = export(&store, &cfg);
    let names: Vec<_> = trace.events[0].applied_objs.iter().map(|o| o.identity().unwrap().name).collect();
    assert_eq!(names, ["solo"]);
    let owner = TraceIdentity::new("v1.Pod".parse().unwrap(), "d/solo");
    assert!(trace.pod_lifecycles.contains_key(&owner), "a bare tracked pod is its own owner");
}

#[test]
fn pods_gone_during_a_relist_gap_end_there() {
    let cfg = config(&[("batch.volcano.sh/v1alpha1.Job", "/spec/tasks/*/template", true, false)]);
    let (mut ing, store) = ingest(cfg.clone());
    let job = json!({"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "metadata": {"namespace": "d", "name": "train", "uid": "j"},
                     "spec": {"tasks": [{"template": {"spec": {"containers": []}}}]}});
    ing.handle(applied("batch.volcano.sh/v1alpha1.Job", T, job));
    let owner = ("batch.volcano.sh/v1alpha1", "Job", "train", "j");
    ing.handle(applied("v1.Pod", T, pod("w-0", "w0", owner, running("2025-11-24T16:00:01Z"))));
    ing.handle(applied("v1.Pod", T, pod("w-1", "w1", owner, running("2025-11-24T16:00:02Z"))));
    ing.handle(change("v1.Pod", T + 90, ChangeKind::RelistStarted));
    ing.handle(change(
        "v1.Pod",
        T + 90,
        ChangeKind::Relisted(Payload::Object(pod("w-1", "w1", owner, running("2025-11-24T16:00:02Z")))),
    ));
    ing.handle(change("v1.Pod", T + 90, ChangeKind::RelistDone));
    let trace = export(&store, &cfg);
    let lcs: Vec<_> = trace.pod_lifecycles.values().flat_map(|m| m.values().flatten()).copied().collect();
    assert_eq!(
        lcs,
        vec![PodLifecycle { start_ts: T + 1, end_ts: Some(T + 90) }, PodLifecycle { start_ts: T + 2, end_ts: None }]
    );
}

fn rs_listed(at: i64, uids: &[(&str, &str)]) -> Vec<Change> {
    let mut changes = vec![change("apps/v1.ReplicaSet", at, ChangeKind::RelistStarted)];
    for (uid, name) in uids {
        let Change { kind: ChangeKind::Applied(payload), .. } = rs_meta(uid, name, ("web", "dep1")) else {
            unreachable!()
        };
        changes.push(change("apps/v1.ReplicaSet", at, ChangeKind::Relisted(payload)));
    }
    changes.push(change("apps/v1.ReplicaSet", at, ChangeKind::RelistDone));
    changes
}

fn lifecycle_count(store: &Store, cfg: &TracerConfig) -> usize {
    export(store, cfg).pod_lifecycles.values().flat_map(|m| m.values()).map(Vec::len).sum()
}

#[test]
fn a_pod_seen_before_its_replicaset_waits_for_it_after_the_initial_list() {
    // Watches on different kinds are not ordered: the ReplicaSets are listed, then a new pod
    // arrives before its new ReplicaSet does.
    let cfg = config(&[("apps/v1.Deployment", "/spec/template", true, false)]);
    let (mut ing, store) = ingest(cfg.clone());
    ing.handle(applied("apps/v1.Deployment", T, deployment("web", "dep1", "nginx")));
    ing.handle(applied("v1.Pod", T + 1, pod("old-1", "p0", ("apps/v1", "ReplicaSet", "web-old", "rs0"), json!({}))));
    for c in rs_listed(T + 1, &[("rs0", "web-old")]) {
        ing.handle(c);
    }
    let p = pod("web-1", "p1", ("apps/v1", "ReplicaSet", "web-new", "rs1"), running("2025-11-24T16:00:05Z"));
    ing.handle(applied("v1.Pod", T + 5, p));
    assert_eq!(ing.pending_pods(), 1, "the pod waits: its ReplicaSet is on its way");
    ing.handle(rs_meta("rs1", "web-new", ("web", "dep1")));
    assert_eq!(ing.pending_pods(), 0);
    assert_eq!(lifecycle_count(&store, &cfg), 1);
}

#[test]
fn a_pod_whose_owner_never_appears_is_given_up_after_the_grace_period() {
    let cfg = config(&[("apps/v1.Deployment", "/spec/template", true, false)]);
    let (mut ing, store) = ingest(cfg.clone());
    let metrics = ing.metrics.clone();
    for c in rs_listed(T, &[]) {
        ing.handle(c);
    }
    let orphan = pod("web-1", "p1", ("apps/v1", "ReplicaSet", "web-gone", "rs9"), running("2025-11-24T16:00:05Z"));
    ing.handle(applied("v1.Pod", T + 1, orphan.clone()));
    // Updates to a waiting pod do not restart its wait.
    ing.handle(applied("v1.Pod", T + OWNER_GRACE_SECS - 10, orphan));
    ing.handle(applied("apps/v1.Deployment", T + OWNER_GRACE_SECS - 1, deployment("web", "dep1", "nginx")));
    assert_eq!(ing.pending_pods(), 1);
    // Waiting pods are checked every quarter of the grace period.
    ing.handle(applied("apps/v1.Deployment", T + OWNER_GRACE_SECS * 5 / 4 + 1, deployment("web", "dep1", "nginx:2")));
    assert_eq!(ing.pending_pods(), 0);
    assert_eq!(Metrics::get(&metrics.unresolved_pods), 1);
    assert_eq!(lifecycle_count(&store, &cfg), 0);
}

#[test]
fn pods_wait_for_a_kind_that_is_not_listed_yet_however_long() {
    let cfg = config(&[("apps/v1.Deployment", "/spec/template", true, false)]);
    let (mut ing, _) = ingest(cfg.clone());
    let p = pod("web-1", "p1", ("apps/v1", "ReplicaSet", "web-abc", "rs1"), running("2025-11-24T16:00:05Z"));
    ing.handle(applied("v1.Pod", T, p));
    ing.handle(applied("apps/v1.Deployment", T + 10 * OWNER_GRACE_SECS, deployment("web", "dep1", "nginx")));
    assert_eq!(ing.pending_pods(), 1);
}

#[test]
fn pods_deleted_after_their_owner_neither_wait_nor_lose_their_end() {
    let cfg = config(&[("apps/v1.Deployment", "/spec/template", true, false)]);
    let (mut ing, store) = ingest(cfg.clone());
    ing.handle(applied("apps/v1.Deployment", T, deployment("web", "dep1", "nginx")));
    ing.handle(rs_meta("rs1", "web-abc", ("web", "dep1")));
    let p = pod("web-1", "p1", ("apps/v1", "ReplicaSet", "web-abc", "rs1"), running("2025-11-24T16:00:05Z"));
    ing.handle(applied("v1.Pod", T + 5, p.clone()));
    let Change { kind: ChangeKind::Applied(rs), .. } = rs_meta("rs1", "web-abc", ("web", "dep1")) else {
        unreachable!()
    };
    ing.handle(change("apps/v1.ReplicaSet", T + 20, ChangeKind::Deleted(rs)));
    ing.handle(change("v1.Pod", T + 21, ChangeKind::Deleted(Payload::Object(p))));
    assert_eq!(ing.pending_pods(), 0);
    let trace = export(&store, &cfg);
    let lcs: Vec<_> = trace.pod_lifecycles.values().flat_map(|m| m.values()).flatten().collect();
    assert_eq!(lcs, [&PodLifecycle { start_ts: T + 5, end_ts: Some(T + 21) }]);
}

/// A list as a new process's watch delivers it: the initial list is a re-list like any other.
fn listed(gvk: &str, at: i64, objs: Vec<Value>) -> Vec<Change> {
    let mut changes = vec![change(gvk, at, ChangeKind::RelistStarted)];
    changes.extend(objs.into_iter().map(|o| change(gvk, at, ChangeKind::Relisted(Payload::Object(o)))));
    changes.push(change(gvk, at, ChangeKind::RelistDone));
    changes
}

#[test]
fn the_first_lists_after_a_restore_reconcile_against_the_restored_trace() {
    let cfg = config(&[("batch.volcano.sh/v1alpha1.Job", "/spec/tasks/*/template", true, false)]);
    let job = |name: &str, uid: &str, image: &str| {
        json!({"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job", "metadata": {"namespace": "d", "name": name, "uid": uid},
               "spec": {"tasks": [{"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}]}})
    };
    let owner = ("batch.volcano.sh/v1alpha1", "Job", "train", "j");
    let kind = "batch.volcano.sh/v1alpha1.Job";
    let (mut before, store) = ingest(cfg.clone());
    for j in [job("train", "j", "v1"), job("eval", "e", "v1"), job("gone", "g", "v1")] {
        before.handle(applied(kind, T, j));
    }
    before.handle(applied("v1.Pod", T, pod("w-0", "w0", owner, running("2025-11-24T16:00:01Z"))));
    before.handle(applied("v1.Pod", T, pod("w-1", "w1", owner, running("2025-11-24T16:00:02Z"))));
    let checkpoint = store.checkpoint();
    drop(before);

    // A new process: nothing but the restored store; its owner cache is empty.
    let store = Arc::new(Store::from_checkpoint(&checkpoint).unwrap());
    let pipeline = Arc::new(Pipeline::new(SanitiserChain::default(), SanitiserChain::default()));
    let mut after = Ingest::new(cfg.clone(), pipeline, store.clone(), Arc::new(Metrics::default()));
    let at = T + 600;
    for c in listed(kind, at, vec![job("train", "j", "v1"), job("eval", "e", "v2"), job("new", "n", "v1")]) {
        after.handle(c);
    }
    for c in listed("v1.Pod", at, vec![pod("w-1", "w1", owner, running("2025-11-24T16:00:02Z"))]) {
        after.handle(c);
    }

    let trace = export(&store, &cfg);
    assert_eq!(trace.events.len(), 2, "what was recorded, and one event at the list");
    let names = |objs: &[EncodedObject]| objs.iter().map(|o| o.identity().unwrap().name).collect::<Vec<_>>();
    assert_eq!(trace.events[1].ts, at);
    assert_eq!(names(&trace.events[1].applied_objs), ["eval", "new"], "changed and new; train unchanged");
    assert_eq!(names(&trace.events[1].deleted_objs), ["gone"]);
    let lcs: Vec<_> = trace.pod_lifecycles.values().flat_map(|m| m.values().flatten()).copied().collect();
    assert_eq!(
        lcs,
        vec![PodLifecycle { start_ts: T + 1, end_ts: Some(at) }, PodLifecycle { start_ts: T + 2, end_ts: None }],
        "the pod gone while down ends at the list; the running one is not recorded twice"
    );
}

#[test]
fn gaps_are_recorded_for_the_kinds_the_trace_holds() {
    let gap = |gvk: &str, from| change(gvk, T + 30, ChangeKind::Gap { from });
    let (mut ing, store) = ingest(config(&[("apps/v1.Deployment", "/spec/template", false, false)]));
    ing.handle(gap("apps/v1.Deployment", T + 10));
    // Pods matter only where lifecycles are tracked; owner kinds' watches only feed resolution.
    ing.handle(gap("v1.Pod", T + 10));
    ing.handle(gap("apps/v1.ReplicaSet", T + 10));
    let expected = Gap { kind: "apps/v1.Deployment".parse().unwrap(), from: T + 10, to: T + 30 };
    assert_eq!(store.gaps(), std::slice::from_ref(&expected));
    assert_eq!(export(&store, &ing.config).gaps, [expected]);
    assert_eq!(ing.metrics.gaps().values().sum::<u64>(), 1);

    let (mut ing, store) = ingest(config(&[("apps/v1.Deployment", "/spec/template", true, false)]));
    ing.handle(gap("v1.Pod", T + 10));
    assert_eq!(store.gaps().len(), 1, "pods, with lifecycles tracked");
}

#[test]
fn a_fresh_tracers_first_list_starts_the_trace_and_a_relist_keeps_each_changes_time() {
    let cfg = config(&[("apps/v1.Deployment", "/spec/template", false, false)]);
    let (mut ing, store) = ingest(cfg.clone());
    let written = |image: &str, at: &str| {
        let mut d = deployment("a", "1", image);
        d["metadata"]["managedFields"] = json!([{"manager": "kubectl", "operation": "Update", "time": at}]);
        d
    };
    let list = |ing: &mut Ingest, at: i64, obj: Value| {
        ing.handle(change("apps/v1.Deployment", at, ChangeKind::RelistStarted));
        ing.handle(change("apps/v1.Deployment", at, ChangeKind::Relisted(Payload::Object(obj))));
        ing.handle(change("apps/v1.Deployment", at, ChangeKind::RelistDone));
    };
    // Written at T, an hour before the tracer's first list: nothing before the list was observed.
    list(&mut ing, T + 3600, written("v1", "2025-11-24T16:00:00Z"));
    // Changed at T + 5000 while the watch was lost; the re-list at T + 7200 shows it.
    list(&mut ing, T + 7200, written("v2", "2025-11-24T17:23:20Z"));
    let trace = export(&store, &cfg);
    let stamps: Vec<i64> = trace.events.iter().filter(|e| !e.applied_objs.is_empty()).map(|e| e.ts).collect();
    assert_eq!(stamps, [T + 3600, T + 5000]);
}
