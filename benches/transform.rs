//! `sk-tracer transform` against decoding and re-encoding the same trace without a program.
//!
//! `cargo bench --bench transform -- [small|medium|large] [--runs N]`
//!
//! The trace has the shape of the tracer benchmark's export at the same scale: Deployments with
//! full pod templates (`workload/template.rs`) created, their status reported, scaled, rolled out
//! to a new image and one in ten deleted; Volcano-style jobs with two templates; an index entry
//! and pod lifecycles for every owner. The program is a typical one: scrub every container image,
//! drop one namespace. Each run times what the command does between reading the file and writing
//! the result (decode, transform, encode) against decode and encode alone, for both formats, and
//! the ratio of the medians is what BENCHMARKS.md reports.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sk_core::export::{encode, KeepAll};
use sk_core::trace::{decode_any, EncodedObject, TraceEvent, TraceFormat};
use sk_core::transform::transform;
use sk_core::{stable_hash, Gvk, PodLifecycle, Trace, TraceIdentity, TrackedObjectConfig};
use sk_skel::Program;

#[path = "workload/template.rs"]
mod pod_template;
use pod_template::template;

const PROGRAM: &str = r#"
# Scrub every container image, in Deployments and in each task of a Volcano job.
modify(spec.template.spec.containers[*].image = "scrubbed");
modify(spec.tasks[*].template.spec.containers[*].image = "scrubbed");
# Drop one team's namespace.
delete(metadata.namespace == "team1");
"#;

const T0: i64 = 1_764_000_000;

fn deployment(ns: &str, name: &str, replicas: usize, image: &str, ready: usize) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"namespace": ns, "name": name, "labels": {"app": name, "team": "payments"},
                        "uid": format!("uid-{ns}-{name}"), "generation": 1},
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template(name, image)},
           "status": {"replicas": replicas, "readyReplicas": ready, "observedGeneration": 1}})
}

fn job(ns: &str, name: &str, phase: &str) -> Value {
    let task =
        |n: &str, replicas: usize| json!({"name": n, "replicas": replicas, "template": template(n, "trainer:2")});
    json!({"apiVersion": "batch.volcano.sh/v1alpha1", "kind": "Job",
           "metadata": {"namespace": ns, "name": name, "uid": format!("uid-{ns}-{name}")},
           "spec": {"tasks": [task("ps", 1), task("worker", 3)]},
           "status": {"state": {"phase": phase}}})
}

/// The trace of the tracer benchmark's workload at `deployments` Deployments.
fn workload(deployments: usize) -> Trace {
    let mut events: BTreeMap<i64, TraceEvent> = BTreeMap::new();
    let mut index = BTreeMap::new();
    let mut pod_lifecycles = BTreeMap::new();
    let mut at = |ts: i64, v: &Value, deleted: bool| {
        let e = events.entry(ts).or_insert_with(|| TraceEvent { ts, ..Default::default() });
        let list = if deleted { &mut e.deleted_objs } else { &mut e.applied_objs };
        list.push(EncodedObject::from_json(v));
    };
    let deploy_gvk = Gvk::new("apps", "v1", "Deployment");
    for d in 0..deployments {
        let (ns, name) = (format!("team{}", d / 10), format!("app{d}"));
        let scaled = if d % 2 == 0 { 8 } else { 3 };
        let versions = [
            (0, deployment(&ns, &name, 5, "registry.example.com/app:1.0", 0)),
            (1, deployment(&ns, &name, 5, "registry.example.com/app:1.0", 5)),
            (30, deployment(&ns, &name, scaled, "registry.example.com/app:1.0", 5)),
            (31, deployment(&ns, &name, scaled, "registry.example.com/app:1.0", scaled)),
            (60, deployment(&ns, &name, scaled, "registry.example.com/app:1.1", 0)),
            (61, deployment(&ns, &name, scaled, "registry.example.com/app:1.1", scaled)),
        ];
        for (dt, v) in &versions {
            at(T0 + dt, v, false);
        }
        if d % 10 == 0 {
            at(
                T0 + 600,
                &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": ns, "name": name}}),
                true,
            );
        }
        let key = TraceIdentity::new(deploy_gvk.clone(), format!("{ns}/{name}"));
        index.insert(key.clone(), stable_hash(&versions[5].1));
        let lcs = (0..scaled).map(|i| PodLifecycle { start_ts: T0 + 2 + i as i64, end_ts: None }).collect();
        pod_lifecycles.insert(key, [(d as u64, lcs)].into());
    }
    let job_gvk = Gvk::new("batch.volcano.sh", "v1alpha1", "Job");
    for j in 0..deployments / 20 {
        let (ns, name) = (format!("ml{}", j / 10), format!("train{j}"));
        at(T0, &job(&ns, &name, "Running"), false);
        let done = job(&ns, &name, "Completed");
        at(T0 + 600, &done, false);
        index.insert(TraceIdentity::new(job_gvk.clone(), format!("{ns}/{name}")), stable_hash(&done));
    }
    let mut config = sk_core::TracerConfig::default();
    let paths = sk_core::tracer_config::default_pod_template_paths(&deploy_gvk).unwrap_or_default();
    let tracked =
        |paths| TrackedObjectConfig { pod_spec_template_paths: paths, track_lifecycle: true, skip_owned: false };
    config.tracked_objects.insert(deploy_gvk, tracked(paths));
    let tasks = sk_core::PodTemplatePath::parse("/spec/tasks/*/template").expect("a path");
    config.tracked_objects.insert(job_gvk, tracked(vec![tasks]));
    Trace { config, events: events.into_values().collect(), index, pod_lifecycles, gaps: Vec::new() }
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn option<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let (name, deployments) = match args.first().map(String::as_str) {
        Some("large") => ("large", 14_000),
        Some("medium") => ("medium", 1_400),
        _ => ("small", 140),
    };
    let runs: usize = option(&args, "--runs").unwrap_or(3).max(1);
    let program = Program::parse(PROGRAM).expect("the benchmark's program");
    println!("scale {name}: {deployments} deployments, {} volcano jobs; {runs} runs each", deployments / 20);
    println!("| format | trace bytes | events | objects | decode + encode | decode + transform + encode | ratio |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let trace = workload(deployments);
    for format in [TraceFormat::V1, TraceFormat::SimkubeV2] {
        let bytes = encode(&trace, format).trace.into_bytes();
        let objects: usize = trace.events.iter().map(|e| e.applied_objs.len() + e.deleted_objs.len()).sum();
        let (mut plain, mut transformed) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let started = Instant::now();
            let (read, t) = decode_any(&bytes).expect("the trace decodes");
            let out = encode(&t, read).trace.into_bytes();
            plain.push(started.elapsed());
            drop((t, out));

            let started = Instant::now();
            let (read, mut t) = decode_any(&bytes).expect("the trace decodes");
            let start = t.events.first().map(|e| e.ts).unwrap_or_default();
            let stats = transform(&mut t, &program, start, &KeepAll, |_| {}).expect("the program applies");
            let out = encode(&t, read).trace.into_bytes();
            transformed.push(started.elapsed());
            assert!(stats.objects_deleted > 0 && stats.objects_changed > stats.objects_deleted, "{stats:?}");
            drop((t, out));
        }
        let (p, t) = (median(plain), median(transformed));
        println!(
            "| {} | {} | {} | {objects} | {:.2} s | {:.2} s | {:.2}x |",
            format.name(),
            bytes.len(),
            trace.events.len(),
            p.as_secs_f64(),
            t.as_secs_f64(),
            t.as_secs_f64() / p.as_secs_f64()
        );
    }
}
