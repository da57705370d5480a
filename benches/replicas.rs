//! What a replica costs under `ha`: three processes of the real binary watch one API emulator at
//! once, through the same workload: one alone (no `ha`, the baseline), and a leader and a
//! follower electing on a Lease. All three record everything; the alone one and the leader also
//! run a scheduled export. Reports each one's CPU seconds and resident memory as a ratio to the
//! lone replica's, and the election's requests per minute.
//!
//! `cargo bench --bench replicas -- [--deployments N] [--replicas N]`

use std::time::{Duration, Instant};

use kube_emulator::Emulator;
use serde_json::{json, Value};
use support::args::option;
use support::process::process_usage;
use support::workload::{start_new_pods, PodStart};
use support::{start_tracer_with_env, wait_until, Tracer};

#[path = "../tests/support/mod.rs"]
mod support;

struct Replica {
    name: &'static str,
    tracer: Tracer,
}

const CONFIG: &str = "trackedObjects:\n  apps/v1.Deployment:\n    trackLifecycle: true\n\
    exports:\n- {every: 10s, window: 10s, to: 'scheduled/{start}-{end}.sktrace'}\n";
const HA: &str = "ha:\n  lease: {name: sk-tracer, namespace: sk}\n";

fn start(emu: &Emulator, name: &'static str, ha: bool) -> Replica {
    let config = if ha { format!("{CONFIG}{HA}") } else { CONFIG.to_string() };
    let tracer = start_tracer_with_env(emu, &config, &[("RUST_LOG", "warn".into()), ("POD_NAME", name.into())]);
    tracer.wait_ready();
    Replica { name, tracer }
}

/// The watch events a replica has taken in, from its metrics.
fn events_seen(tracer: &Tracer) -> u64 {
    tracer
        .get("/metrics")
        .1
        .lines()
        .filter(|l| l.starts_with("sk_tracer_watch_events_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

fn template(app: &str, image: &str) -> Value {
    let env: Vec<Value> =
        (0..12).map(|i| json!({"name": format!("SETTING_{i}"), "value": format!("value-{i}-{app}")})).collect();
    json!({"metadata": {"labels": {"app": app, "team": "payments"}},
           "spec": {"containers": [{"name": "app", "image": image, "env": env,
                    "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}}]}})
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let deployments: usize = option(&args, "--deployments").unwrap_or(1000);
    let replicas: usize = option(&args, "--replicas").unwrap_or(3);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a runtime");
    let emu = rt.block_on(Emulator::start()).expect("the emulator");

    let alone = start(&emu, "alone", false);
    let leader = start(&emu, "leader", true);
    wait_until(30, "a leader", || leader.tracer.get("/readyz").1.contains("\"role\":\"leader\""));
    let follower = start(&emu, "follower", true);
    let all = [&alone, &leader, &follower];
    let before: Vec<_> = all.iter().map(|r| process_usage(r.tracer.pid())).collect();
    let lease_before = emu.requests_by_route();
    let started = Instant::now();

    let team = |d: usize| (format!("team{}", d / 10), format!("app{d}"));
    let namespaces: Vec<String> = (0..deployments).step_by(10).map(|d| team(d).0).collect();
    let t0 = kube_emulator::controllers::now();
    for d in 0..deployments {
        let (ns, name) = team(d);
        emu.create_deployment(&ns, &name, replicas, template(&name, "app:1")).expect("writing the workload");
    }
    start_new_pods(&emu, &namespaces, t0, PodStart::Running);
    for d in 0..deployments {
        let (ns, name) = team(d);
        emu.sync_deployment_status(&ns, &name).expect("writing the workload");
        emu.update_deployment_template(&ns, &name, template(&name, "app:2")).expect("writing the workload");
    }
    start_new_pods(&emu, &namespaces, t0 + 30, PodStart::Running);
    for d in 0..deployments {
        let (ns, name) = team(d);
        emu.delete_deployment(&ns, &name).expect("writing the workload");
    }
    // Caught up: every replica's event count has stopped moving.
    let mut last = vec![u64::MAX; all.len()];
    loop {
        std::thread::sleep(Duration::from_secs(2));
        let now: Vec<u64> = all.iter().map(|r| events_seen(&r.tracer)).collect();
        if now == last {
            break;
        }
        last = now;
    }
    let elapsed = started.elapsed();
    let after: Vec<_> = all.iter().map(|r| process_usage(r.tracer.pid())).collect();
    let lease_after = emu.requests_by_route();
    let lease_requests: u64 = lease_after
        .iter()
        .filter(|(route, _)| route.contains("leases"))
        .map(|(route, n)| n - lease_before.get(route).copied().unwrap_or(0))
        .sum();

    let (base_cpu, base_rss) = (after[0].0 - before[0].0, after[0].1 as f64);
    println!(
        "{deployments} Deployments x {replicas} pods created, rolled out, deleted: {} watch events per replica, {:.0} s",
        last[0],
        elapsed.as_secs_f64()
    );
    println!("| replica | CPU s | CPU / alone | RSS MiB | RSS / alone | peak RSS MiB | role |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let mut report = Vec::new();
    for (i, r) in all.iter().enumerate() {
        let cpu = after[i].0 - before[i].0;
        let (rss, peak) = (after[i].1 as f64, after[i].2 as f64);
        let role = if r.tracer.get("/readyz").1.contains("\"role\":\"leader\"") { "leader" } else { "follower" };
        println!(
            "| {} | {cpu:.2} | {:.2} | {:.1} | {:.2} | {:.1} | {role} |",
            r.name,
            cpu / base_cpu.max(0.001),
            rss / 1048576.0,
            rss / base_rss.max(1.0),
            peak / 1048576.0
        );
        report.push(json!({"replica": r.name, "cpu_seconds": cpu, "cpu_ratio": cpu / base_cpu.max(0.001),
                           "rss_bytes": rss, "rss_ratio": rss / base_rss.max(1.0), "peak_rss_bytes": peak, "role": role}));
    }
    let per_minute = lease_requests as f64 * 60.0 / elapsed.as_secs_f64();
    println!(
        "election: {lease_requests} Lease requests in {:.0} s ({per_minute:.0} per minute, both replicas)",
        elapsed.as_secs_f64()
    );
    if let Some(path) = option::<String>(&args, "--json") {
        let doc = json!({"deployments": deployments, "replicas": replicas, "events": last[0], "seconds": elapsed.as_secs_f64(),
                         "replicas_measured": report, "lease_requests_per_minute": per_minute});
        std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap_or_default()).expect("write the report");
    }
    drop((alone, leader, follower));
    drop(emu);
    rt.shutdown_background();
}
