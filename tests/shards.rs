//! Namespace shards and merged traces: one unsharded tracer and three shards, the real binary
//! each, watch the same emulator through one workload; the shards' exports merged with `sk-tracer
//! merge` must be the single tracer's export, event by event, with its index and lifecycles. So
//! must two consecutive windows of one tracer merged, against one export of the whole range.
//!
//! Events carry the second in which a tracer observed a change, so the tracers agree on it only
//! if they see each change in the same second: every step of the workload starts just after a
//! second begins and is seen by every tracer well before it ends. Nothing is normalised but the
//! order of objects within one second, which is the order changes arrived in and which shards
//! split between them, and the order of pods of one template that started in the same second.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kube_emulator::controllers::template;
use kube_emulator::kinds::KindSpec;
use kube_emulator::Emulator;
use serde_json::json;
use sk_core::shard::shard_of_namespace;
use sk_core::trace::{decode_any, EncodedObject, TraceFormat};
use sk_core::Trace;
use support::*;

const CONFIG: &str = "trackedObjects:
  apps/v1.Deployment:
    trackLifecycle: true
  batch/v1.Job:
    trackLifecycle: true
  example.com/v1.Widget:
    podSpecTemplatePath: /spec/template
";

/// Sleeps until 100 ms into the next second, so that what follows happens early in one second.
fn next_second() {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let into = Duration::from_nanos(u64::from(since.subsec_nanos()));
    std::thread::sleep(Duration::from_secs(1) - into + Duration::from_millis(100));
}

/// Two namespaces for each of three shards.
fn namespaces() -> Vec<String> {
    let mut per_shard: [Vec<String>; 3] = Default::default();
    for i in 0.. {
        let ns = format!("team-{i}");
        let shard = &mut per_shard[shard_of_namespace(&ns, 3) as usize];
        if shard.len() < 2 {
            shard.push(ns);
        }
        if per_shard.iter().all(|s| s.len() == 2) {
            break;
        }
    }
    per_shard.concat()
}

fn pods_of(emu: &Emulator, ns: &str, prefix: &str) -> Vec<String> {
    emu.list("v1", "Pod", Some(ns))
        .into_iter()
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
        .filter(|n| n.starts_with(prefix))
        .collect()
}

fn run_pods(emu: &Emulator, ns: &str, prefix: &str, at: i64) {
    for p in pods_of(emu, ns, prefix) {
        emu.set_pod_running(ns, &p, at).unwrap();
    }
}

fn widget(version: &str) -> serde_json::Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "shared"},
           "spec": {"template": template("widget", version)}})
}

/// The workload, one step per second: Deployments in every namespace, scaled, rolled out and
/// deleted, a Job run to completion, a cluster-scoped Widget created, changed and deleted.
fn workload(emu: &Emulator, ns: &[String]) {
    next_second();
    for n in ns {
        emu.create_deployment(n, "web", 2, template("web", "nginx:1.27")).unwrap();
        run_pods(emu, n, "web-", now());
    }
    emu.create(widget("v1")).unwrap();
    next_second();
    emu.create_job(&ns[1], "batch", 2, template("batch", "busybox:1")).unwrap();
    run_pods(emu, &ns[1], "batch-", now());
    emu.scale_deployment(&ns[2], "web", 3).unwrap();
    run_pods(emu, &ns[2], "web-", now());
    next_second();
    emu.update_deployment_template(&ns[3], "web", template("web", "nginx:1.28")).unwrap();
    run_pods(emu, &ns[3], "web-", now());
    let mut w = emu.get("example.com/v1", "Widget", "", "shared").unwrap();
    w["spec"]["template"] = template("widget", "v2");
    emu.update(w).unwrap();
    next_second();
    emu.complete_job(&ns[1], "batch", now()).unwrap();
    emu.scale_deployment(&ns[4], "web", 1).unwrap();
    next_second();
    emu.delete_deployment(&ns[5], "web").unwrap();
    emu.delete("example.com/v1", "Widget", "", "shared").unwrap();
    next_second();
}

/// Each second's objects in identity order, and pods that started in the same second in order of
/// their ends: launch order breaks such ties by the order a tracer first resolved the pods' owners,
/// which differs between tracers (and between runs of one) when pods wait for an owner together.
fn canonical(mut trace: Trace) -> Trace {
    let key = |o: &EncodedObject| o.identity();
    for ev in &mut trace.events {
        ev.applied_objs.sort_by_key(key);
        ev.deleted_objs.sort_by_key(key);
    }
    for lcs in trace.pod_lifecycles.values_mut().flat_map(|by_hash| by_hash.values_mut()) {
        lcs.sort();
    }
    trace
}

fn export_to(tracer: &Tracer, start: i64, end: i64, path: &Path) {
    let r = tracer.export_raw(&json!({"start_ts": start, "end_ts": end}));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    std::fs::write(path, &r.body).unwrap();
}

fn merge(files: &[PathBuf], out: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sk-tracer"))
        .arg("merge")
        .args(files)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn merged(files: &[PathBuf], out: &Path) -> Trace {
    let output = merge(files, out, &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    sk_core::trace::decode(&std::fs::read(out).unwrap()).unwrap()
}

#[test]
fn three_shards_merged_are_one_tracer_and_consecutive_windows_are_the_whole_range() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    emu.register_kind(KindSpec::new("example.com", "v1", "Widget", "widgets", false));
    let ns = namespaces();
    let single = start_tracer(&emu, CONFIG);
    let shards: Vec<Tracer> = (0..3)
        .map(|i| {
            start_tracer_with_env(
                &emu,
                CONFIG,
                &[("SK_TRACER_SHARD__INDEX", format!("sk-tracer-{i}")), ("SK_TRACER_SHARD__COUNT", "3".into())],
            )
        })
        .collect();
    for t in shards.iter().chain([&single]) {
        t.wait_ready();
    }
    next_second();
    let start = now();
    workload(&emu, &ns);
    let middle = start + 3;
    let end = now() + 1;
    let deletions = |t: &Tracer| {
        let trace = t.export(start, end);
        deleted(&trace, "Widget").len() + deleted(&trace, "Deployment").len()
    };
    wait_until(15, "every tracer to record the last deletions", || {
        deletions(&single) == 2 && shards.iter().map(deletions).sum::<usize>() == 2
    });
    let dir = tempfile::tempdir().unwrap();

    // Three shards of one window.
    let whole = single.export(start, end);
    let parts: Vec<PathBuf> = (0..3).map(|i| dir.path().join(format!("shard-{i}.sktrace"))).collect();
    for (t, path) in shards.iter().zip(&parts) {
        export_to(t, start, end, path);
    }
    for (i, path) in parts.iter().enumerate() {
        let part = sk_core::trace::decode(&std::fs::read(path).unwrap()).unwrap();
        let names: Vec<String> = part.index.keys().map(|k| k.name.clone()).collect();
        assert!(!names.is_empty(), "shard {i} records something");
        for name in &names {
            match name.split_once('/') {
                Some((n, _)) => assert_eq!(shard_of_namespace(n, 3), i as u32, "{name} on shard {i}"),
                None => assert_eq!(i, 0, "the cluster-scoped {name} on shard 0 only"),
            }
        }
    }
    let merged_shards = merged(&parts, &dir.path().join("all.sktrace"));
    assert_eq!(
        whole.events.len(),
        6,
        "one event per step, after the empty first: {:?}",
        whole.events.iter().map(|e| e.ts).collect::<Vec<_>>()
    );
    assert_eq!(whole.index.len(), ns.len() + 2, "six Deployments, the Job and the Widget");
    assert_eq!(whole.pod_lifecycles.len(), ns.len() + 1, "every Deployment's pods and the Job's");
    assert_eq!(canonical(merged_shards), canonical(whole.clone()), "the shards merged are the single tracer's trace");

    // Two consecutive windows of the single tracer, and of every shard.
    let (a, b) = (dir.path().join("a.sktrace"), dir.path().join("b.sktrace"));
    export_to(&single, start, middle, &a);
    export_to(&single, middle, end, &b);
    assert_eq!(canonical(merged(&[b.clone(), a.clone()], &dir.path().join("ab.sktrace"))), canonical(whole.clone()));
    let mut windows = Vec::new();
    for (i, t) in shards.iter().enumerate() {
        for (w, (from, to)) in [(start, middle), (middle, end)].into_iter().enumerate() {
            let path = dir.path().join(format!("shard-{i}-{w}.sktrace"));
            export_to(t, from, to, &path);
            windows.push(path);
        }
    }
    assert_eq!(
        canonical(merged(&windows, &dir.path().join("six.sktrace"))),
        canonical(whole.clone()),
        "three shards, two windows each"
    );

    // SimKube's format out; what was written reads back as the same trace.
    let v2 = dir.path().join("all-v2.sktrace");
    let output = merge(&parts, &v2, &["--format", "simkube-v2"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let (format, read) = decode_any(&std::fs::read(&v2).unwrap()).unwrap();
    assert_eq!(format, TraceFormat::SimkubeV2);
    assert_eq!(canonical(read).events, canonical(whole).events);
}

#[test]
fn unreadable_inputs_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.sktrace");
    let json = dir.path().join("trace.json");
    std::fs::write(&json, "{\"events\": []}").unwrap();
    let out = dir.path().join("out.sktrace");
    for (input, expected) in [(&missing, "reading trace file"), (&json, "is not a valid trace: this is JSON")] {
        let output = merge(std::slice::from_ref(input), &out, &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success());
        assert!(stderr.contains(&input.display().to_string()) && stderr.contains(expected), "{stderr}");
    }
    assert!(!out.exists(), "nothing is written when an input is bad");
    let help = Command::new(env!("CARGO_BIN_EXE_sk-tracer")).args(["merge", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for part in ["--out", "--format", "simkube-v2", "same second"] {
        assert!(help.contains(part), "{part} in\n{help}");
    }
}
