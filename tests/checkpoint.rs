//! Restarts: a tracer killed in the middle of a workload and started again from its checkpoints
//! goes on with the trace it had, records what changed while it was down at the re-list, and
//! duplicates nothing.

mod support;

use std::path::Path;
use std::time::Duration;

use kube_emulator::controllers::template;
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
    let newest = std::fs::read_dir(checkpoints.path()).unwrap().flatten().map(|e| e.metadata().unwrap().len()).max();
    assert!(metric(&tracer, "sk_tracer_last_checkpoint_bytes") > 0);
    assert!(newest.is_some_and(|n| n > 28), "a header and a state: {newest:?}");
    assert!(metric(&tracer, "sk_tracer_last_checkpoint_timestamp_seconds") as i64 >= now() - 3);
    assert_eq!(metric(&tracer, "sk_tracer_checkpoints_failed_total"), 0);
    let before_kill = tracer.export_all();
    let killed = now();
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
    // And the trace says so: from the checkpoint it went on from to the re-list.
    assert!(before_kill.gaps.is_empty(), "{:?}", before_kill.gaps);
    assert_eq!(t.gaps.len(), 1, "{:?}", t.gaps);
    let said = &t.gaps[0];
    assert_eq!(said.kind.to_string(), "apps/v1.Deployment");
    assert!(said.from <= killed && said.from >= killed - 5, "from the last checkpoint: {said:?}, killed at {killed}");
    assert_eq!(said.to, gap.ts, "to the re-list: {said:?}");
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

fn pod_names(emu: &Emulator) -> Vec<String> {
    let mut names: Vec<String> = emu
        .list("v1", "Pod", Some("d"))
        .into_iter()
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// The lifecycles of `d/web`'s pods (one template, so one pod hash), by start time.
fn web_lifecycles(tracer: &Tracer) -> std::collections::BTreeMap<i64, Vec<Option<i64>>> {
    let mut by_start = std::collections::BTreeMap::<i64, Vec<Option<i64>>>::new();
    for lc in lifecycles(&tracer.export_all(), "d/web").into_values().flatten() {
        by_start.entry(lc.start_ts).or_default().push(lc.end_ts);
    }
    by_start
}

#[test]
fn pods_that_ended_while_the_tracer_was_down_end_once_at_the_re_list() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let checkpoints = tempfile::tempdir().unwrap();
    let config = format!(
        "trackedObjects:\n  apps/v1.Deployment:\n    trackLifecycle: true\ncheckpoint:\n  to: {}\n  every: 1s\n",
        checkpoints.path().display()
    );
    // Each pod its own start time, so that its lifecycle can be told apart.
    let base = now() - 100;
    emu.create_deployment("d", "web", 3, template("web", "nginx:1")).unwrap();
    let first_three = pod_names(&emu);
    for (i, p) in first_three.iter().enumerate() {
        emu.set_pod_running("d", p, base + i as i64).unwrap();
    }
    let new_pod = |known: &[String]| pod_names(&emu).into_iter().find(|p| !known.contains(p)).unwrap();
    let mut tracer = start_tracer(&emu, &config);
    tracer.wait_ready();
    wait_until(10, "three running pods", || web_lifecycles(&tracer).len() == 3);
    std::thread::sleep(Duration::from_millis(1100));
    emu.scale_deployment("d", "web", 4).unwrap();
    let fourth = new_pod(&first_three);
    emu.set_pod_running("d", &fourth, base + 3).unwrap();
    wait_until(10, "the fourth pod", || web_lifecycles(&tracer).len() == 4);
    wait_for_a_new_checkpoint(&tracer);
    tracer.kill();

    // While it is down: the first pod is deleted while running, the second finishes, the
    // Deployment is scaled up and a fifth pod starts.
    let four = pod_names(&emu);
    emu.delete_pod("d", &first_three[0]).unwrap();
    let finished = now() - 1;
    emu.set_pod_terminated("d", &first_three[1], finished, 0).unwrap();
    emu.scale_deployment("d", "web", 5).unwrap();
    emu.set_pod_running("d", &new_pod(&four), base + 4).unwrap();

    let restart = now();
    let tracer = start_tracer(&emu, &config);
    tracer.wait_ready();
    wait_until(15, "the gap reconciled", || {
        let lcs = web_lifecycles(&tracer);
        lcs.len() == 5 && lcs[&base].iter().all(Option::is_some) && lcs[&(base + 1)].iter().all(Option::is_some)
    });

    let lcs = web_lifecycles(&tracer);
    assert!(lcs.values().all(|v| v.len() == 1), "each pod's lifecycle once: {lcs:?}");
    let end = |start: i64| lcs[&start][0];
    assert!(end(base).is_some_and(|e| e >= restart), "deleted while down: ends at the re-list: {lcs:?}");
    assert_eq!(end(base + 1), Some(finished), "finished while down: ends when it finished");
    assert_eq!([end(base + 2), end(base + 3), end(base + 4)], [None, None, None], "still running: {lcs:?}");
    let t = tracer.export_all();
    assert_eq!(count(&applied(&t, "Deployment"), "web"), 3, "created, scaled before the kill, scaled while down");
}

#[test]
fn sigterm_does_not_wait_for_a_stuck_export_beyond_the_bound() {
    use std::io::Write;
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let checkpoints = tempfile::tempdir().unwrap();
    let config = format!(
        "trackedObjects:\n  apps/v1.Deployment: {{}}\ncheckpoint:\n  to: {}\n  every: 1h\nserver:\n  shutdownTimeout: 4s\n",
        checkpoints.path().display()
    );
    let mut tracer = start_tracer(&emu, &config);
    tracer.wait_ready();
    // An export whose body never arrives.
    let mut stuck = std::net::TcpStream::connect(("127.0.0.1", tracer.port)).unwrap();
    stuck.write_all(b"POST /export HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n{").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let status = tracer.terminate();
    let took = started.elapsed();
    assert!(status.success(), "{status:?}");
    assert!(took < Duration::from_secs(7), "took {took:?} with a 4 s bound");
    let log = tracer.log();
    assert!(log.contains("cut off"), "{log}");
    assert!(log.contains("final checkpoint written"), "{log}");
    drop(stuck);
}
