//! The tracer when its watches are cut off: how soon it watches again once the apiserver answers,
//! what a re-list that replaced a watch leaves in the trace (a gap, said out loud), and what
//! `/readyz` says meanwhile.

mod support;

use std::time::{Duration, Instant};

use kube_emulator::Emulator;
use support::*;

const DEPLOYMENTS: &str = "trackedObjects:\n  apps/v1.Deployment: {}\n";

fn config_with_grace(grace: &str) -> String {
    format!("{DEPLOYMENTS}server:\n  readinessGrace: {grace}\n")
}

fn count(names: &[String], name: &str) -> usize {
    names.iter().filter(|n| *n == name).count()
}

/// `(status, body)` of `/readyz`.
fn readyz(tracer: &Tracer) -> (u16, String) {
    tracer.get("/readyz")
}

#[test]
fn a_refused_apiserver_is_watched_again_within_a_second_of_restoring() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    emu.create(deployment("a", "v1")).unwrap();
    let tracer = start_tracer(&emu, &config_with_grace("3s"));
    tracer.wait_ready();
    wait_until(10, "the initial list", || applied(&tracer.export_all(), "Deployment") == ["a"]);
    // Changes within one second are one event: the update must fall in a later second.
    std::thread::sleep(Duration::from_millis(1100));

    // Long enough that exponential backoff would have stretched its retries to several seconds.
    let stopped = Instant::now();
    emu.stop();
    wait_until(10, "readiness to name the kind whose watch is down", || {
        let (status, body) = readyz(&tracer);
        status == 503 && body.contains("apps/v1.Deployment") && body.contains("watch down")
    });
    assert!(stopped.elapsed() >= Duration::from_secs(3), "not before the grace: {:?}", stopped.elapsed());
    emu.update(deployment("a", "v2")).unwrap();
    std::thread::sleep(Duration::from_secs(15).saturating_sub(stopped.elapsed()));

    rt.block_on(emu.restart_after(Duration::ZERO)).unwrap();
    let restored = Instant::now();
    wait_until(10, "the change made during the outage", || {
        count(&applied(&tracer.export_all(), "Deployment"), "a") == 2
    });
    let seen_after = restored.elapsed();
    eprintln!("the outage's change was visible {} ms after the apiserver answered again", seen_after.as_millis());
    // About a second: the last retry's delay is at most 1 s; the rest is slack for a loaded machine.
    assert!(seen_after <= Duration::from_millis(2000), "watched again only {seen_after:?} after restoring");

    wait_until(5, "readiness once the watch is back", || readyz(&tracer).0 == 200);
    let trace = tracer.export_all();
    assert!(trace.gaps.is_empty(), "the watch resumed where it was, so nothing was missed: {:?}", trace.gaps);
}

#[test]
fn a_forced_410_relist_records_a_gap_that_exports_and_inspect_show() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    for n in ["a", "b"] {
        emu.create(deployment(n, "v1")).unwrap();
    }
    let tracer = start_tracer(&emu, DEPLOYMENTS);
    tracer.wait_ready();
    wait_until(10, "the initial list", || applied(&tracer.export_all(), "Deployment").len() == 2);
    std::thread::sleep(Duration::from_millis(1100));

    let before = now();
    emu.stop();
    emu.update(deployment("a", "v2")).unwrap();
    emu.delete("apps/v1", "Deployment", "d", "b").unwrap();
    // The history is gone: the watch cannot resume and must re-list.
    emu.compact();
    rt.block_on(emu.restart_after(Duration::from_secs(2))).unwrap();
    let restarted = now();

    wait_until(15, "the re-list's outcome", || deleted(&tracer.export_all(), "Deployment") == ["b"]);
    let trace = tracer.export_all();
    assert_eq!(trace.gaps.len(), 1, "{:?}", trace.gaps);
    let gap = &trace.gaps[0];
    assert_eq!(gap.kind.to_string(), "apps/v1.Deployment");
    assert!(gap.from >= before && gap.from <= restarted, "from the connection's loss: {gap:?}, stopped at {before}");
    assert!(gap.to >= restarted, "to the re-list's end: {gap:?}, restarted at {restarted}");
    assert!(trace.events.iter().any(|e| e.ts == gap.to), "the re-list's outcome is at the gap's end");

    // A window before the gap is complete; one that overlaps it holds the overlapping part.
    assert!(tracer.export(before - 60, before).gaps.is_empty());
    let clipped = tracer.export(gap.from + 1, gap.to + 10);
    assert_eq!((clipped.gaps.len(), clipped.gaps.first().map(|g| g.from)), (1, Some(gap.from + 1)));

    // simkube-v2 carries it too, under a key of its own.
    let r =
        tracer.export_raw(&serde_json::json!({"start_ts": before - 60, "end_ts": now() + 60, "format": "simkube-v2"}));
    assert_eq!(r.status, 200);
    assert_eq!(r.body[0], 0x86, "a map of six keys: SimKube's five and `gaps`");
    let (format, v2) = sk_core::trace::decode_any(&r.body).unwrap();
    assert_eq!((format.name(), v2.gaps.clone()), ("simkube-v2", trace.gaps.clone()));

    // `inspect` says so, as the log and the metrics do, once.
    let file = tracer.dir.path().join("gapped.sktrace");
    let r = tracer.export_raw(&serde_json::json!({"start_ts": before - 60, "end_ts": now() + 60}));
    std::fs::write(&file, &r.body).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sk-tracer")).arg("inspect").arg(&file).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("gaps:       1 (") && text.contains("  apps/v1.Deployment  "), "{text}");
    let (_, metrics) = tracer.get("/metrics");
    assert!(metrics.contains("sk_tracer_watch_gaps_total{kind=\"apps/v1.Deployment\"} 1"), "{metrics}");
    assert_eq!(tracer.log().matches("the trace has a gap for this kind").count(), 1, "{}", tracer.log());
}

#[test]
fn readyz_follows_the_watch() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer(&emu, &config_with_grace("2s"));
    tracer.wait_ready();

    let cut = Instant::now();
    emu.reset_connections();
    let (status, body) = readyz(&tracer);
    if cut.elapsed() < Duration::from_secs(2) {
        assert_eq!(status, 200, "within the grace a dropped watch is still ready: {body}");
    }
    wait_until(10, "not ready, naming the kind", || {
        let (status, body) = readyz(&tracer);
        status == 503 && body.contains("apps/v1.Deployment") && body.contains("watch down")
    });
    assert!(cut.elapsed() >= Duration::from_secs(2), "after the grace, not before: {:?}", cut.elapsed());

    // Nothing changes when the connections are accepted again: the watch resumes without a word.
    emu.accept_connections();
    let back = Instant::now();
    wait_until(10, "ready again", || readyz(&tracer).0 == 200);
    eprintln!("ready again {} ms after the apiserver answered", back.elapsed().as_millis());
    assert!(tracer.export_all().gaps.is_empty());
}

#[test]
fn a_bad_readiness_grace_is_refused_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, config_with_grace("0s")).unwrap();
    let out =
        std::process::Command::new(env!("CARGO_BIN_EXE_sk-tracer")).arg("check-config").arg(&path).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(text.contains("server.readinessGrace") && text.contains("at least 1s"), "{text}");
}
