//! Scheduled exports with the real binary: contiguous windows, retries that keep the window, and
//! the export at shutdown.

mod support;

use std::time::Duration;

use kube_emulator::Emulator;
use serde_json::json;
use support::*;

fn deployment(name: &str) -> serde_json::Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": "d", "name": name},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": {
               "metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
}

#[test]
fn scheduled_windows_are_contiguous_and_hold_the_trace() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    emu.create(deployment("web")).unwrap();
    let tracer = start_tracer(
        &emu,
        "trackedObjects:\n  apps/v1.Deployment: {}\nexports:\n- {every: 2s, window: 2s, to: 'scheduled/{start}-{end}.sktrace'}\n",
    );
    let dir = tracer.dir.path().join("exports/scheduled");
    wait_until(20, "two scheduled exports", || windows(&dir).len() >= 2);
    let w = windows(&dir);
    assert!(w.windows(2).all(|p| p[0].1 == p[1].0), "contiguous: {w:?}");
    assert!(w.iter().all(|(s, e)| e - s == 2), "{w:?}");
    let (_, metrics) = tracer.get("/metrics");
    assert!(metrics.contains("sk_tracer_scheduled_exports_total{schedule=\"0\",outcome=\"ok\"}"), "{metrics}");
}

#[test]
fn a_failed_scheduled_export_is_retried_with_its_own_window() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    // Local exports go under the export dir; `blocked` is a file there, so the first tries fail.
    let tracer = start_tracer_with_setup(
        &emu,
        "trackedObjects:\n  apps/v1.Deployment: {}\nexports:\n- {every: 1s, window: 1s, to: 'blocked/{start}-{end}.sktrace'}\n",
        |exports| std::fs::write(exports.join("blocked"), b"in the way").unwrap(),
    );
    wait_until(20, "a failure to be counted", || tracer.get("/metrics").1.contains("outcome=\"failed\""));
    let blocked = tracer.dir.path().join("exports/blocked");
    std::fs::remove_file(&blocked).unwrap();
    wait_until(20, "the retried export", || !windows(&blocked).is_empty());
    std::thread::sleep(Duration::from_secs(3));
    let w = windows(&blocked);
    assert!(w.windows(2).all(|p| p[0].1 == p[1].0), "no window lost: {w:?}");
}

#[test]
fn sigterm_exports_the_last_window_before_exiting() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    emu.create(deployment("web")).unwrap();
    let mut tracer = start_tracer(
        &emu,
        "trackedObjects:\n  apps/v1.Deployment: {}\nexports:\n- {every: 1h, window: 1h, to: 'final/{start}-{end}.sktrace', exportOnShutdown: true}\n",
    );
    tracer.wait_ready();
    wait_until(10, "recorded", || applied(&tracer.export_all(), "Deployment") == ["web"]);
    let status = tracer.terminate();
    assert!(status.success(), "{status:?}\n{}", tracer.log());
    let w = windows(&tracer.dir.path().join("exports/final"));
    assert_eq!(w.len(), 1, "{}", tracer.log());
    let file = tracer.dir.path().join(format!("exports/final/{}-{}.sktrace", w[0].0, w[0].1));
    assert_eq!(applied(&sk_core::trace::decode(&std::fs::read(file).unwrap()).unwrap(), "Deployment"), ["web"]);
}
