//! Changes are recorded at the second the cluster says they happened, not the second the tracer
//! read them: a backlog released at once keeps every version, each at its own second.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kube_emulator::Emulator;
use serde_json::Value;
use support::*;

const CONFIG: &str = "trackedObjects:\n  apps/v1.Deployment: {}\n";

/// The newest `managedFields[].time` of an object as the emulator wrote it: when it was written.
fn written_at(obj: &Value) -> i64 {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["time"].as_str().and_then(sk_core::sources::unix_seconds))
        .max()
        .expect("the emulator writes managedFields times")
}

fn image(obj: &Value) -> String {
    obj["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap_or_default().to_string()
}

/// Every recorded version of every Deployment as (name, image) → second, and every deletion as
/// name → second.
type Versions = BTreeMap<(String, String), Vec<i64>>;

fn recorded(trace: &sk_core::Trace) -> (Versions, BTreeMap<String, Vec<i64>>) {
    let mut versions = Versions::new();
    let mut deletions: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for e in &trace.events {
        for o in &e.applied_objs {
            let obj = o.to_json().unwrap();
            let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
            versions.entry((name, image(&obj))).or_default().push(e.ts);
        }
        for o in &e.deleted_objs {
            deletions.entry(o.identity().unwrap().name).or_default().push(e.ts);
        }
    }
    (versions, deletions)
}

#[test]
fn a_backlog_released_at_once_keeps_every_version_at_its_own_second() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer(&emu, CONFIG);
    tracer.wait_ready();
    let names: Vec<String> = (0..24).map(|i| format!("web-{i:02}")).collect();
    for n in &names {
        emu.create(deployment(n, "v1")).unwrap();
    }
    emu.create(deployment("ticker", "t0")).unwrap();
    wait_until(20, "the creations recorded", || applied(&tracer.export_all(), "Deployment").len() == names.len() + 1);

    // The watch streams stop sending, as to a tracer paused or starved of CPU, while the cluster
    // goes on: every Deployment gets a new image, then half of them are deleted, and another
    // one changes throughout.
    let held_at = Instant::now();
    emu.hold_watches(true);
    let mut written: Vec<(String, String, i64)> = Vec::new();
    let mut ticks = 0;
    let mut tick = |written: &mut Vec<(String, String, i64)>| {
        ticks += 1;
        let obj = emu.update(deployment("ticker", &format!("t{ticks}"))).unwrap();
        written.push(("ticker".into(), image(&obj), written_at(&obj)));
    };
    for (i, n) in names.iter().enumerate() {
        let obj = emu.update(deployment(n, "v2")).unwrap();
        written.push((n.clone(), "v2".into(), written_at(&obj)));
        if i % 2 == 0 {
            tick(&mut written);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let mut deleted_at: BTreeMap<String, i64> = BTreeMap::new();
    for n in names.iter().step_by(2) {
        emu.delete("apps/v1", "Deployment", "d", n).unwrap();
        deleted_at.insert(n.clone(), now());
        tick(&mut written);
        std::thread::sleep(Duration::from_millis(250));
    }
    let written_by = now();
    std::thread::sleep(Duration::from_secs(30).saturating_sub(held_at.elapsed()));
    let released = now();
    assert!(released - written_by >= 15, "the backlog is read well after it was written");
    emu.hold_watches(false);
    wait_until(30, "the backlog recorded", || deleted(&tracer.export_all(), "Deployment").len() == deleted_at.len());

    let (versions, deletions) = recorded(&tracer.export_all());
    // Versions of one object written within one second are that second's net change: the last.
    let last_of_second = |i: usize| {
        let (name, _, at) = &written[i];
        !written[i + 1..].iter().any(|(n, _, a)| n == name && a == at)
    };
    let kept: Vec<_> = (0..written.len()).filter(|i| last_of_second(*i)).map(|i| &written[i]).collect();
    assert!(kept.len() >= names.len() + 5, "the ticker changed in several seconds");
    for (name, image, at) in kept {
        let seconds =
            versions.get(&(name.clone(), image.clone())).unwrap_or_else(|| panic!("{name}@{image} is missing"));
        assert_eq!(seconds.len(), 1, "{name}@{image} recorded once");
        assert!((seconds[0] - at).abs() <= 1, "{name}@{image} written at {at}, recorded at {}", seconds[0]);
    }
    for (name, at) in &deleted_at {
        let seconds = &deletions[name];
        assert_eq!(seconds.len(), 1, "{name} deleted once");
        assert!((seconds[0] - at).abs() <= 1, "{name} deleted at {at}, recorded at {}", seconds[0]);
        let updated = versions[&(name.clone(), "v2".to_string())][0];
        assert!(seconds[0] >= updated, "{name}'s deletion is not before its update");
    }
    // Nothing was placed at the second the backlog was read.
    assert!(versions.values().flatten().chain(deletions.values().flatten()).all(|ts| *ts < released));
}

#[test]
fn the_emulator_holds_and_releases_watch_streams_over_its_admin_api() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer(&emu, CONFIG);
    tracer.wait_ready();
    let admin = |what: &str| {
        let addr = emu.addr();
        let raw = exchange(
            addr.port(),
            format!("POST /admin/{what} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(parse_response(&raw).unwrap().status, 200, "{what}");
    };
    admin("hold-watches");
    emu.create(deployment("held", "v1")).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(applied(&tracer.export_all(), "Deployment").is_empty(), "nothing is sent while held");
    admin("release-watches");
    wait_until(20, "the held change recorded", || applied(&tracer.export_all(), "Deployment") == ["held"]);
}
