//! What a replica costs under `ha`: three processes of the real binary watch one API emulator at
//! once, through the same workload: one alone (no `ha`, the baseline), and a leader and a
//! follower electing on a Lease. All three record everything; the alone one and the leader also
//! run a scheduled export. Reports each one's CPU seconds and resident memory as a ratio to the
//! lone replica's, and the election's requests per minute.
//!
//! `cargo bench --bench replicas -- [--deployments N] [--replicas N]`

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube_emulator::Emulator;
use serde_json::{json, Value};

struct Replica {
    name: &'static str,
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn get(port: u16, path: &str) -> String {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return String::new() };
    let _ = s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

const CONFIG: &str = "trackedObjects:\n  apps/v1.Deployment:\n    trackLifecycle: true\n\
    exports:\n- {every: 10s, window: 10s, to: 'scheduled/{start}-{end}.sktrace'}\n";
const HA: &str = "ha:\n  lease: {name: sk-tracer, namespace: sk}\n";

fn start(emu: &Emulator, name: &'static str, ha: bool) -> Replica {
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = if ha { format!("{CONFIG}{HA}") } else { CONFIG.to_string() };
    std::fs::write(dir.path().join("c.yaml"), config).expect("write");
    emu.write_kubeconfig(dir.path().join("kubeconfig")).expect("write");
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_sk-tracer"))
        .args(["run", "--config"])
        .arg(dir.path().join("c.yaml"))
        .arg("--kubeconfig")
        .arg(dir.path().join("kubeconfig"))
        .args(["--port", &port.to_string(), "--export-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .env("POD_NAME", name)
        .stdout(Stdio::null())
        .spawn()
        .expect("the sk-tracer binary");
    let replica = Replica { name, child, port, _dir: dir };
    let t = Instant::now();
    while !get(port, "/readyz").starts_with("HTTP/1.1 200") {
        assert!(t.elapsed() < Duration::from_secs(60), "{name} did not become ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    replica
}

/// CPU seconds (user and system) and resident and peak resident bytes of a process.
fn usage(pid: u32) -> (f64, u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; the fields after it are fixed.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // SAFETY: sysconf reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu = (ticks(11) + ticks(12)) as f64 / hz;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = |key: &str| {
        status.lines().find_map(|l| l.strip_prefix(key)?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
    };
    (cpu, kib("VmRSS:").unwrap_or(0) * 1024, kib("VmHWM:").unwrap_or(0) * 1024)
}

/// The watch events a replica has taken in, from its metrics.
fn events_seen(port: u16) -> u64 {
    get(port, "/metrics")
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

fn start_new_pods(emu: &Emulator, namespaces: &[String], at: i64) {
    for ns in namespaces {
        for pod in emu.list("v1", "Pod", Some(ns)) {
            if pod.pointer("/status/containerStatuses").is_some() {
                continue;
            }
            let name = pod["metadata"]["name"].as_str().unwrap_or_default();
            emu.set_pod_running(ns, name, at).expect("writing the workload");
        }
    }
}

fn option<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let deployments: usize = option(&args, "--deployments").unwrap_or(1000);
    let replicas: usize = option(&args, "--replicas").unwrap_or(3);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a runtime");
    let emu = rt.block_on(Emulator::start()).expect("the emulator");

    let alone = start(&emu, "alone", false);
    let leader = start(&emu, "leader", true);
    let t = Instant::now();
    while !get(leader.port, "/readyz").contains("\"role\":\"leader\"") {
        assert!(t.elapsed() < Duration::from_secs(30), "no leader");
        std::thread::sleep(Duration::from_millis(100));
    }
    let follower = start(&emu, "follower", true);
    let all = [&alone, &leader, &follower];
    let before: Vec<_> = all.iter().map(|r| usage(r.child.id())).collect();
    let lease_before = emu.requests_by_route();
    let started = Instant::now();

    let team = |d: usize| (format!("team{}", d / 10), format!("app{d}"));
    let namespaces: Vec<String> = (0..deployments).step_by(10).map(|d| team(d).0).collect();
    let t0 = kube_emulator::controllers::now();
    for d in 0..deployments {
        let (ns, name) = team(d);
        emu.create_deployment(&ns, &name, replicas, template(&name, "app:1")).expect("writing the workload");
    }
    start_new_pods(&emu, &namespaces, t0);
    for d in 0..deployments {
        let (ns, name) = team(d);
        emu.sync_deployment_status(&ns, &name).expect("writing the workload");
        emu.update_deployment_template(&ns, &name, template(&name, "app:2")).expect("writing the workload");
    }
    start_new_pods(&emu, &namespaces, t0 + 30);
    for d in 0..deployments {
        let (ns, name) = team(d);
        emu.delete_deployment(&ns, &name).expect("writing the workload");
    }
    // Caught up: every replica's event count has stopped moving.
    let mut last = vec![u64::MAX; all.len()];
    loop {
        std::thread::sleep(Duration::from_secs(2));
        let now: Vec<u64> = all.iter().map(|r| events_seen(r.port)).collect();
        if now == last {
            break;
        }
        last = now;
    }
    let elapsed = started.elapsed();
    let after: Vec<_> = all.iter().map(|r| usage(r.child.id())).collect();
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
        let role = if get(r.port, "/readyz").contains("\"role\":\"leader\"") { "leader" } else { "follower" };
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
