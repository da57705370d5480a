//! SKEL transforms end to end with the real binary: in `POST /export` as skctl sends them, in a
//! scheduled export, and offline with `sk-tracer transform` on v1 and simkube-v2 traces.

mod support;

use std::process::Command;

use kube_emulator::controllers::template;
use kube_emulator::Emulator;
use serde_json::{json, Value};
use sk_core::trace::{self, EncodedObject, TraceEvent, TraceFormat};
use sk_core::{stable_hash, Gvk, PodLifecycle, Trace, TraceIdentity};
use support::*;

const CONFIG: &str = "trackedObjects:\n  apps/v1.Deployment:\n    trackLifecycle: true\n";

const PROGRAM: &str = "# scrub the images, drop a namespace\n\
    modify(spec.template.spec.containers[*].image = \"scrubbed\");\n\
    delete(metadata.namespace == \"noise\");\n";

fn error_of(r: &Response) -> String {
    serde_json::from_slice::<Value>(&r.body).map(|v| v["error"].as_str().unwrap_or("").to_string()).unwrap_or_default()
}

fn images(t: &Trace) -> Vec<String> {
    t.events
        .iter()
        .flat_map(|e| &e.applied_objs)
        .flat_map(|o| {
            let v = o.to_json().unwrap();
            let containers = v["spec"]["template"]["spec"]["containers"].as_array().cloned().unwrap_or_default();
            containers.into_iter().map(|c| c["image"].as_str().unwrap_or("").to_string())
        })
        .collect()
}

#[test]
fn an_skctl_request_with_a_transform_drops_and_rewrites_objects_everywhere() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer(&emu, CONFIG);
    tracer.wait_ready();
    emu.create_deployment("d", "web", 1, template("web", "registry.example/web:1")).unwrap();
    emu.create_deployment("noise", "chatter", 1, template("chatter", "registry.example/chatter:1")).unwrap();
    for ns in ["d", "noise"] {
        for pod in emu.list("v1", "Pod", Some(ns)) {
            emu.set_pod_running(ns, pod["metadata"]["name"].as_str().unwrap(), now() - 10).unwrap();
        }
    }
    wait_until(20, "both owners' pods running", || {
        let t = tracer.export_all();
        !lifecycles(&t, "d/web").is_empty() && !lifecycles(&t, "noise/chatter").is_empty()
    });
    let start = now() - 120;
    // The body skctl sends: its filters always present, the program's text as read from its file.
    let body = json!({"start_ts": start, "end_ts": now() + 60, "export_path": "",
        "filters": {"excluded_namespaces": [], "excluded_labels": []}, "transform": PROGRAM});
    let r = tracer.export_raw(&body);
    assert_eq!(r.status, 200, "{}", error_of(&r));
    let t = trace::decode(&r.body).unwrap();
    assert_eq!(applied(&t, "Deployment").iter().filter(|n| *n == "chatter").count(), 0);
    assert!(applied(&t, "Deployment").contains(&"web".to_string()));
    assert!(images(&t).iter().all(|i| i == "scrubbed"), "{:?}", images(&t));
    assert_eq!(t.index.keys().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["d/web"]);
    assert!(t.pod_lifecycles.keys().all(|k| k.name == "d/web") && !lifecycles(&t, "d/web").is_empty());
    // The index hashes the object as exported.
    let last_web =
        t.events.iter().flat_map(|e| &e.applied_objs).rfind(|o| o.identity().unwrap().name == "web").unwrap();
    assert_eq!(t.index.values().next(), Some(&stable_hash(&last_web.to_json().unwrap())));

    // The filters judge what the transform left: a namespace it renamed into is excluded.
    let body = json!({"start_ts": start, "end_ts": now() + 60,
        "filters": {"excluded_namespaces": ["moved"], "excluded_labels": []},
        "transform": "modify(metadata.namespace == \"d\", metadata.namespace = \"moved\");"});
    let r = tracer.export_raw(&body);
    assert_eq!(r.status, 200, "{}", error_of(&r));
    let t = trace::decode(&r.body).unwrap();
    assert_eq!(t.index.keys().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["noise/chatter"]);
}

#[test]
fn a_bad_program_is_refused_with_its_position_and_nothing_is_written() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer(&emu, CONFIG);
    tracer.wait_ready();
    emu.create_deployment("d", "web", 1, template("web", "nginx")).unwrap();
    wait_until(10, "recorded", || applied(&tracer.export_all(), "Deployment").len() == 1);
    let body = json!({"start_ts": 0, "end_ts": now() + 60, "export_path": "bad.sktrace",
        "filters": {"excluded_namespaces": [], "excluded_labels": []},
        "transform": "remove(status);\nmodify(spec.replicas 3);"});
    // Asked for a summary, so that a trace would be written to the export directory.
    let summary = |body: &Value| {
        request_with_headers(
            tracer.port,
            "POST",
            "/export",
            &[("accept", "application/json")],
            body.to_string().as_bytes(),
        )
    };
    let r = summary(&body);
    assert_eq!(r.status, 400);
    let e = error_of(&r);
    assert!(e.contains("transform: line 2, column 22: expected `=`"), "{e}");
    assert!(!tracer.dir.path().join("exports/bad.sktrace").exists());
    // A type error met while applying it is refused too, naming the object.
    let body = json!({"start_ts": 0, "end_ts": now() + 60, "export_path": "bad.sktrace",
        "transform": "delete(metadata.name > 3);"});
    let r = summary(&body);
    assert_eq!(r.status, 400);
    assert!(
        error_of(&r).contains("line 1, column 8: `>` compares numbers") && error_of(&r).contains("Deployment d/web"),
        "{}",
        error_of(&r)
    );
    assert!(!tracer.dir.path().join("exports/bad.sktrace").exists());
    // The same request with a good program is written there.
    let body =
        json!({"start_ts": 0, "end_ts": now() + 60, "export_path": "bad.sktrace", "transform": "remove(status);"});
    assert_eq!(summary(&body).status, 200);
    assert!(tracer.dir.path().join("exports/bad.sktrace").exists());
}

#[test]
fn the_export_client_sends_a_checked_program() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer(&emu, CONFIG);
    tracer.wait_ready();
    emu.create_deployment("noise", "chatter", 1, template("chatter", "nginx")).unwrap();
    emu.create_deployment("d", "web", 1, template("web", "nginx")).unwrap();
    wait_until(10, "recorded", || applied(&tracer.export_all(), "Deployment").len() == 2);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.skel"), PROGRAM).unwrap();
    std::fs::write(dir.path().join("bad.skel"), "delete(*)").unwrap();
    let client = |program: &str| {
        Command::new(env!("CARGO_BIN_EXE_sk-tracer"))
            .args(["export", "--tracer", &format!("http://127.0.0.1:{}", tracer.port), "--start", "-1h"])
            .arg("--out")
            .arg(dir.path().join("out.sktrace"))
            .arg("--transform")
            .arg(dir.path().join(program))
            .output()
            .unwrap()
    };
    let out = client("p.skel");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let t = trace::decode(&std::fs::read(dir.path().join("out.sktrace")).unwrap()).unwrap();
    assert_eq!(applied(&t, "Deployment"), ["web"]);
    let out = client("bad.skel");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 1, column 10: expected `;`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_scheduled_export_applies_its_transform() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    emu.create_deployment("d", "web", 1, template("web", "registry.example/web:1")).unwrap();
    emu.create_deployment("noise", "chatter", 1, template("chatter", "registry.example/chatter:1")).unwrap();
    let programs = tempfile::tempdir().unwrap();
    let program = programs.path().join("scrub.skel");
    std::fs::write(&program, PROGRAM).unwrap();
    let config = format!(
        "{CONFIG}exports:\n- {{every: 2s, window: 2s, to: 'scheduled/{{start}}-{{end}}.sktrace', transform: '{}'}}\n",
        program.display()
    );
    let tracer = start_tracer(&emu, &config);
    let dir = tracer.dir.path().join("exports/scheduled");
    wait_until(30, "a scheduled window holding web", || {
        windows(&dir).iter().any(|(s, e)| {
            let bytes = std::fs::read(dir.join(format!("{s}-{e}.sktrace"))).unwrap_or_default();
            trace::decode(&bytes).is_ok_and(|t| applied(&t, "Deployment").contains(&"web".to_string()))
        })
    });
    for (s, e) in windows(&dir) {
        let t = trace::decode(&std::fs::read(dir.join(format!("{s}-{e}.sktrace"))).unwrap()).unwrap();
        assert!(!applied(&t, "Deployment").contains(&"chatter".to_string()), "window {s}-{e}");
        assert!(t.index.keys().all(|k| k.name != "noise/chatter"));
        assert!(images(&t).iter().all(|i| i == "scrubbed"), "{:?}", images(&t));
    }
}

#[test]
fn a_scheduled_transform_that_does_not_parse_stops_the_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.skel"), "remove(status)\n").unwrap();
    std::fs::write(
        dir.path().join("config.yaml"),
        format!(
            "{CONFIG}exports:\n- {{every: 1h, window: 1h, to: x, transform: '{}'}}\n",
            dir.path().join("bad.skel").display()
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sk-tracer"))
        .arg("check-config")
        .arg(dir.path().join("config.yaml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("exports[0].transform") && err.contains("line 2, column 1: expected `;`"), "{err}");
}

fn deploy(ns: &str, name: &str, image: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": ns, "name": name},
           "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})
}

fn sample() -> Trace {
    const T: i64 = 1_764_000_000;
    let key = |ns: &str, n: &str| TraceIdentity::new(Gvk::new("apps", "v1", "Deployment"), format!("{ns}/{n}"));
    let web = deploy("d", "web", "registry.example/web:1");
    let noisy = deploy("noise", "chatter", "registry.example/chatter:1");
    let lcs = || [(7u64, vec![PodLifecycle { start_ts: T, end_ts: None }])].into();
    let mut config = sk_core::TracerConfig::default();
    let gvk = Gvk::new("apps", "v1", "Deployment");
    let paths = sk_core::tracer_config::default_pod_template_paths(&gvk).unwrap_or_default();
    config.tracked_objects.insert(
        gvk,
        sk_core::TrackedObjectConfig { pod_spec_template_paths: paths, track_lifecycle: true, skip_owned: false },
    );
    Trace {
        config,
        events: vec![
            TraceEvent { ts: T, applied_objs: vec![EncodedObject::from_json(&web)], deleted_objs: vec![] },
            TraceEvent { ts: T + 600, applied_objs: vec![EncodedObject::from_json(&noisy)], deleted_objs: vec![] },
        ],
        index: [(key("d", "web"), stable_hash(&web)), (key("noise", "chatter"), stable_hash(&noisy))].into(),
        pod_lifecycles: [(key("d", "web"), lcs()), (key("noise", "chatter"), lcs())].into(),
        gaps: Vec::new(),
    }
}

fn transform_cli(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sk-tracer")).arg("transform").args(args).output().unwrap()
}

#[test]
fn sk_tracer_transform_rewrites_v1_and_simkube_v2_traces_in_their_own_format() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("p.skel");
    // The relative time counts from the trace's first event: chatter arrives at +10m.
    std::fs::write(&program, format!("{PROGRAM}modify(@t >= 10m, metadata.labels.late = true);\n")).unwrap();
    for format in [TraceFormat::V1, TraceFormat::SimkubeV2] {
        let input = dir.path().join(format!("in-{}.sktrace", format.name()));
        std::fs::write(&input, sk_core::export::encode(&sample(), format).trace.into_bytes()).unwrap();
        let output = dir.path().join(format!("out-{}.sktrace", format.name()));
        let out = transform_cli(&[input.as_os_str(), program.as_os_str(), "-o".as_ref(), output.as_os_str()]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("events:  2 read, 2 matched, 1 dropped as empty, 1 written"), "{stdout}");
        assert!(stdout.contains("objects: 2 read, 2 matched, 2 changed (1 deleted)"), "{stdout}");
        let (written, t) = trace::decode_any(&std::fs::read(&output).unwrap()).unwrap();
        assert_eq!(written, format);
        assert_eq!(applied(&t, "Deployment"), ["web"]);
        assert_eq!(images(&t), ["scrubbed"]);
        let web = deploy("d", "web", "scrubbed");
        assert_eq!(
            t.index.iter().map(|(k, h)| (k.name.as_str(), *h)).collect::<Vec<_>>(),
            [("d/web", stable_hash(&web))]
        );
        assert_eq!(t.pod_lifecycles.keys().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["d/web"]);
    }
    // --format overrides, and the default output sits beside the input.
    let input = dir.path().join("in-v1.sktrace");
    let out = transform_cli(&[input.as_os_str(), program.as_os_str(), "--format".as_ref(), "simkube-v2".as_ref()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (written, _) =
        trace::decode_any(&std::fs::read(dir.path().join("in-v1-transformed.sktrace")).unwrap()).unwrap();
    assert_eq!(written, TraceFormat::SimkubeV2);
}

#[test]
fn sk_tracer_transform_exits_2_on_a_bad_program() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.sktrace");
    std::fs::write(&input, sk_core::export::encode(&sample(), TraceFormat::V1).trace.into_bytes()).unwrap();
    for (text, says) in [
        ("remove(status);\nremove(spec.a.b/c);", "line 2, column 16: expected"),
        ("remove(spec.template.spec.containers[*].image < 1, status);", "line 1, column 8: `<` compares numbers"),
    ] {
        let program = dir.path().join("bad.skel");
        std::fs::write(&program, text).unwrap();
        let output = dir.path().join("out.sktrace");
        let out = transform_cli(&[input.as_os_str(), program.as_os_str(), "-o".as_ref(), output.as_os_str()]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("bad.skel") && err.contains(says), "{err}");
        assert!(!output.exists());
    }
}
