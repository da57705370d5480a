//! The tracer when the apiserver misbehaves: a kind installed late, an outage with changes during
//! the gap, a 410 Gone re-list, a kind the tracer may not read.

mod support;

use std::time::Duration;

use kube_emulator::controllers::template;
use kube_emulator::Emulator;
use serde_json::json;
use support::*;

const DEPLOYMENTS: &str = "trackedObjects:\n  apps/v1.Deployment: {}\n";

fn count(names: &[String], name: &str) -> usize {
    names.iter().filter(|n| *n == name).count()
}

#[test]
fn a_custom_kind_installed_after_startup_is_picked_up() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer(
        &emu,
        "trackedObjects:\n  apps/v1.Deployment: {}\n  batch.volcano.sh/v1alpha1.Job:\n    podSpecTemplatePath: /spec/tasks/*/template\n    trackLifecycle: true\n",
    );
    wait_until(15, "readiness to name the missing kind", || {
        let (status, body) = tracer.get("/readyz");
        status == 503 && body.contains("batch.volcano.sh/v1alpha1.Job") && body.contains("not installed")
    });
    emu.create(deployment("web", "nginx")).unwrap();
    wait_until(10, "the other kinds to work meanwhile", || applied(&tracer.export_all(), "Deployment") == ["web"]);

    let (_, pods) = emu
        .create_custom_job("ml", "train", &[("ps", 1, template("ps", "t:1")), ("worker", 1, template("w", "t:1"))])
        .unwrap();
    for p in &pods {
        emu.set_pod_running("ml", p["metadata"]["name"].as_str().unwrap(), now()).unwrap();
    }
    // Rediscovery backs off up to a minute; the first retries come within seconds.
    wait_until(40, "the late kind's job and lifecycles", || {
        let t = tracer.export_all();
        applied(&t, "Job") == ["train"] && lifecycles(&t, "ml/train").len() == 2
    });
    tracer.wait_ready();
}

#[test]
fn changes_during_an_outage_are_recorded_once() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    for n in ["a", "b", "c"] {
        emu.create(deployment(n, "v1")).unwrap();
    }
    let tracer = start_tracer(&emu, DEPLOYMENTS);
    tracer.wait_ready();
    wait_until(10, "the initial list", || applied(&tracer.export_all(), "Deployment").len() == 3);
    // Changes within one second are one event holding their net change: the update must fall in a
    // later second than the initial list to be an event of its own.
    std::thread::sleep(Duration::from_millis(1100));

    emu.stop();
    emu.update(deployment("a", "v2")).unwrap();
    emu.delete("apps/v1", "Deployment", "d", "b").unwrap();
    emu.create(deployment("e", "v1")).unwrap();
    rt.block_on(emu.restart_after(Duration::from_secs(2))).unwrap();

    wait_until(30, "the gap's changes", || {
        let t = tracer.export_all();
        deleted(&t, "Deployment") == ["b"] && applied(&t, "Deployment").contains(&"e".to_string())
    });
    std::thread::sleep(Duration::from_secs(2));
    let t = tracer.export_all();
    let names = applied(&t, "Deployment");
    assert_eq!(
        (count(&names, "a"), count(&names, "b"), count(&names, "c"), count(&names, "e")),
        (2, 1, 1, 1),
        "{names:?}"
    );
    assert_eq!(deleted(&t, "Deployment"), ["b"]);
}

#[test]
fn a_410_relist_reconciles_instead_of_recreating() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    for n in ["a", "b", "c"] {
        emu.create(deployment(n, "v1")).unwrap();
    }
    let tracer = start_tracer(&emu, DEPLOYMENTS);
    tracer.wait_ready();
    wait_until(10, "the initial list", || applied(&tracer.export_all(), "Deployment").len() == 3);
    // Changes within one second are one event holding their net change: the update must fall in a
    // later second than the initial list to be an event of its own.
    std::thread::sleep(Duration::from_millis(1100));

    emu.stop();
    emu.update(deployment("a", "v2")).unwrap();
    emu.delete("apps/v1", "Deployment", "d", "b").unwrap();
    emu.compact();
    rt.block_on(emu.restart_after(Duration::from_secs(2))).unwrap();

    wait_until(30, "the re-list's deletion", || deleted(&tracer.export_all(), "Deployment") == ["b"]);
    std::thread::sleep(Duration::from_secs(2));
    let t = tracer.export_all();
    let names = applied(&t, "Deployment");
    // Not a mass re-create: c is unchanged and not recorded again; a changed once.
    assert_eq!((count(&names, "a"), count(&names, "b"), count(&names, "c")), (2, 1, 1), "{names:?}");
    let (_, metrics) = tracer.get("/metrics");
    assert!(metrics.contains("sk_tracer_relists_total"), "{metrics}");
}

#[test]
fn a_forbidden_kind_is_reported_and_the_rest_keeps_working() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    emu.forbid_kind("apps", "v1", "deployments");
    let tracer = start_tracer(&emu, "trackedObjects:\n  apps/v1.Deployment: {}\n  apps/v1.StatefulSet: {}\n");
    wait_until(15, "readiness to report the forbidden kind", || {
        let (status, body) = tracer.get("/readyz");
        status == 503 && body.contains("apps/v1.Deployment") && body.contains("forbidden")
    });
    emu.create(json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"namespace": "d", "name": "db"},
                      "spec": {"replicas": 1, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                               "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "pg"}]}}}}))
        .unwrap();
    wait_until(10, "the readable kind to be recorded", || applied(&tracer.export_all(), "StatefulSet") == ["db"]);
    let (_, body) = tracer.get("/readyz");
    assert!(!body.contains("apps/v1.StatefulSet"), "{body}");
    assert!(tracer.log().contains("forbidden"), "the log says so too");
}
