//! Restarts: a tracer killed in the middle of a workload and started again from its checkpoints
//! goes on with the trace it had, records what changed while it was down at the re-list, and
//! duplicates nothing.

mod support;

use std::path::Path;
use std::time::Duration;

use kube_emulator::Emulator;
use support::*;

fn config(dir: &Path) -> String {
    format!(
        "trackedObjects:\n  apps/v1.Deployment: {{}}\ncheckpoint:\n  to: {}\n  every: 1s\n  keep: 2\n",
        dir.display()
    )
}

fn metric(tracer: &Tracer, name: &str) -> u64 {
    let (_, body) = tracer.get("/metrics");
    body.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Waits for a checkpoint begun after this call, so that it holds everything recorded so far.
fn wait_for_a_new_checkpoint(tracer: &Tracer) {
    let before = metric(tracer, "sk_tracer_checkpoints_written_total");
    wait_until(15, "two more checkpoints", || metric(tracer, "sk_tracer_checkpoints_written_total") >= before + 2);
}

fn count(names: &[String], n: &str) -> usize {
    names.iter().filter(|x| *x == n).count()
}

#[test]
fn a_killed_tracer_restarts_from_its_checkpoint_and_reconciles_the_gap() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let checkpoints = tempfile::tempdir().unwrap();
    for n in ["a", "b", "c"] {
        emu.create(deployment(n, "v1")).unwrap();
    }
    let mut tracer = start_tracer(&emu, &config(checkpoints.path()));
    tracer.wait_ready();
    wait_until(10, "the initial list", || applied(&tracer.export_all(), "Deployment").len() == 3);
    std::thread::sleep(Duration::from_millis(1100));
    emu.create(deployment("d", "v1")).unwrap();
    wait_until(10, "d", || applied(&tracer.export_all(), "Deployment").contains(&"d".to_string()));
    wait_for_a_new_checkpoint(&tracer);
    let before_kill = tracer.export_all();
    tracer.kill();

    // While it is down: a changes, b goes, e comes, c stays.
    emu.update(deployment("a", "v2")).unwrap();
    emu.delete("apps/v1", "Deployment", "d", "b").unwrap();
    emu.create(deployment("e", "v1")).unwrap();
    // A damaged checkpoint newer than the good ones is skipped.
    std::fs::write(checkpoints.path().join("checkpoint-999999999999-000000.skckpt"), b"SKTRCKPT\x01\x00\x00\x00")
        .unwrap();

    let restart = now();
    let tracer = start_tracer(&emu, &config(checkpoints.path()));
    tracer.wait_ready();
    wait_until(15, "the gap reconciled", || {
        let t = tracer.export_all();
        deleted(&t, "Deployment") == ["b"] && applied(&t, "Deployment").contains(&"e".to_string())
    });
    std::thread::sleep(Duration::from_millis(1100));
    emu.update(deployment("c", "v2")).unwrap();
    wait_until(10, "a change after the restart", || count(&applied(&tracer.export_all(), "Deployment"), "c") == 2);

    let t = tracer.export_all();
    let names = applied(&t, "Deployment");
    assert_eq!(
        ["a", "b", "c", "d", "e"].map(|n| count(&names, n)),
        [2, 1, 2, 1, 1],
        "each version once, nothing re-created by the restart: {names:?}"
    );
    assert_eq!(deleted(&t, "Deployment"), ["b"]);
    // What was recorded before the kill is still there, at its own times.
    for (ev, old) in t.events.iter().zip(&before_kill.events).skip(1) {
        assert_eq!(ev, old);
    }
    // The gap's changes are at the re-list, after the restart.
    let gap = t.events.iter().find(|e| e.deleted_objs.len() == 1).unwrap();
    assert!(gap.ts >= restart, "{} < {restart}", gap.ts);
    let log = tracer.log();
    assert!(log.contains("is not sound and is skipped"), "{log}");
    assert!(log.contains("restored the trace from a checkpoint"), "{log}");
}

#[test]
fn sigterm_writes_a_final_checkpoint() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let checkpoints = tempfile::tempdir().unwrap();
    let slow = format!(
        "trackedObjects:\n  apps/v1.Deployment: {{}}\ncheckpoint:\n  to: {}\n  every: 1h\n",
        checkpoints.path().display()
    );
    let mut tracer = start_tracer(&emu, &slow);
    tracer.wait_ready();
    emu.create(deployment("a", "v1")).unwrap();
    wait_until(10, "a", || applied(&tracer.export_all(), "Deployment") == ["a"]);
    assert_eq!(std::fs::read_dir(checkpoints.path()).unwrap().count(), 0, "none before the hour");
    let status = tracer.terminate();
    assert!(status.success(), "{status:?}");
    assert!(tracer.log().contains("final checkpoint written"), "{}", tracer.log());

    let restarted = start_tracer(&emu, &slow);
    restarted.wait_ready();
    assert_eq!(applied(&restarted.export_all(), "Deployment"), ["a"], "restored, and a not recorded again");
}
