//! `POST /export` and the export client end to end, against the real binary.

mod support;

use std::process::Command;
use std::time::Duration;

use kube_emulator::Emulator;
use serde_json::{json, Value};
use support::*;

fn deployment(ns: &str, name: &str, image: &str, labels: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": ns, "name": name, "labels": labels},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": {
               "metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": image}]}}}})
}

const CONFIG: &str = "trackedObjects:\n  apps/v1.Deployment:\n    trackLifecycle: true\n";

fn next_second() {
    std::thread::sleep(Duration::from_millis(1100));
}

fn error_of(r: &Response) -> String {
    serde_json::from_slice::<Value>(&r.body).map(|v| v["error"].as_str().unwrap_or("").to_string()).unwrap_or_default()
}

#[test]
fn a_window_flattens_what_was_alive_and_keeps_what_happened_inside() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer(&emu, CONFIG);
    tracer.wait_ready();
    emu.create(deployment("d", "a", "v1", json!({}))).unwrap();
    emu.create(deployment("d", "b", "v1", json!({}))).unwrap();
    emu.create(deployment("d", "gone", "v1", json!({}))).unwrap();
    next_second();
    emu.delete("apps/v1", "Deployment", "d", "gone").unwrap();
    next_second();
    let start = now();
    emu.update(deployment("d", "a", "v2", json!({}))).unwrap();
    next_second();
    emu.delete("apps/v1", "Deployment", "d", "b").unwrap();
    next_second();
    let end = now();
    emu.create(deployment("d", "late", "v1", json!({}))).unwrap();
    wait_until(10, "everything recorded", || applied(&tracer.export_all(), "Deployment").contains(&"late".to_string()));

    let t = tracer.export(start, end);
    assert_eq!(t.events[0].ts, start);
    let first: Vec<String> = t.events[0].applied_objs.iter().map(|o| o.identity().unwrap().name).collect();
    assert!(first == ["a", "b"] || first == ["a"], "alive at start (a's update may share start's second): {first:?}");
    assert_eq!(deleted(&t, "Deployment"), ["b"]);
    assert!(!applied(&t, "Deployment").contains(&"late".to_string()), "the end is exclusive");
    assert!(!applied(&t, "Deployment").contains(&"gone".to_string()), "deleted before the window");
    let last_a = t.events.iter().flat_map(|e| &e.applied_objs).rfind(|o| o.identity().unwrap().name == "a").unwrap();
    assert_eq!(last_a.to_json().unwrap()["spec"]["template"]["spec"]["containers"][0]["image"], "v2");
    assert_eq!(t.index.keys().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["d/a", "d/b"]);
}

#[test]
fn filters_leave_out_namespaces_and_labels() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer(&emu, CONFIG);
    tracer.wait_ready();
    emu.create(deployment("kube-system", "dns", "v1", json!({}))).unwrap();
    emu.create(deployment("d", "noise", "v1", json!({"app": "noise"}))).unwrap();
    emu.create(deployment("d", "batch", "v1", json!({"tier": "batch"}))).unwrap();
    emu.create(deployment("d", "web", "v1", json!({"tier": "front"}))).unwrap();
    wait_until(10, "recorded", || applied(&tracer.export_all(), "Deployment").len() == 4);
    let r = tracer.export_raw(&json!({"start_ts": 0, "end_ts": now() + 60, "filters": {
        "excluded_namespaces": ["kube-system"],
        "excluded_labels": [{"matchLabels": {"app": "noise"}}, {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["batch"]}]}]}}));
    assert_eq!(r.status, 200, "{}", error_of(&r));
    let t = sk_core::trace::decode(&r.body).unwrap();
    assert_eq!(applied(&t, "Deployment"), ["web"]);
}

#[test]
fn every_bad_request_gets_its_status_and_a_json_error() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    // An S3 endpoint nothing listens on: the storage provider fails.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let env = [
        ("AWS_ENDPOINT_URL", closed),
        ("AWS_ALLOW_HTTP", "true".to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
    ];
    let tracer = start_tracer_with_env(&emu, CONFIG, &env);
    tracer.wait_ready();
    let ok = |extra: Value| {
        let mut body = json!({"start_ts": 1, "end_ts": now() + 60});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases: Vec<(Response, u16, &str)> = vec![
        (request(tracer.port, "POST", "/export", b"{not json"), 400, "malformed"),
        (tracer.export_raw(&json!({"start_ts": 1, "end_ts": 2, "colour": "red"})), 400, "unknown field `colour`"),
        (tracer.export_raw(&json!({"start_ts": 5, "end_ts": 5})), 400, "end_ts (5) must be after start_ts (5)"),
        (tracer.export_raw(&ok(json!({"filters": {"excluded_labels": [{"matchExpressions": [{"key": "a", "operator": "In"}]}]}}))), 400, "needs at least one value"),
        (tracer.export_raw(&ok(json!({"filters": {"excluded_labels": [{"matchExpressions": [{"key": "a", "operator": "Near", "values": ["x"]}]}]}}))), 400, "unknown operator"),
        (tracer.export_raw(&ok(json!({"filters": {"colour_filter": true}}))), 400, "unknown filter `colour_filter`"),
        (tracer.export_json(&ok(json!({"export_path": "ftp://host/t"}))), 400, "unknown scheme `ftp`"),
        (tracer.export_json(&ok(json!({"export_path": "/etc/t.sktrace"}))), 403, "outside the export directory"),
        (tracer.export_json(&ok(json!({"export_path": "../t.sktrace"}))), 403, "`..` is not allowed"),
        (tracer.export_json(&ok(json!({"export_path": "s3://bucket/t.sktrace"}))), 502, "s3 failed"),
        (request(tracer.port, "GET", "/export", b""), 405, "method not allowed"),
        (request(tracer.port, "GET", "/nowhere", b""), 404, "no such endpoint"),
    ];
    for (i, (r, status, message)) in cases.iter().enumerate() {
        assert_eq!(r.status, *status, "case {i}: {}", String::from_utf8_lossy(&r.body));
        assert!(r.headers.to_ascii_lowercase().contains("application/json"), "case {i}");
        assert!(error_of(r).contains(message), "case {i}: {:?} lacks {message:?}", error_of(r));
    }
    // Nothing was lost: the trace still exports.
    assert_eq!(tracer.export_raw(&ok(json!({}))).status, 200);
    let (_, metrics) = tracer.get("/metrics");
    assert!(metrics.contains("sk_tracer_exports_total{outcome=\"storage_error\"} 1"), "{metrics}");
}

#[test]
fn disk_exports_write_atomically_inside_the_export_dir_and_both_formats_read_back() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer(&emu, CONFIG);
    tracer.wait_ready();
    emu.create_deployment("d", "web", 2, kube_emulator::controllers::template("web", "nginx")).unwrap();
    wait_until(10, "recorded", || applied(&tracer.export_all(), "Deployment").len() == 1);
    let r = tracer.export_json(&json!({"start_ts": 0, "end_ts": now() + 60, "export_path": "today/trace.sktrace"}));
    assert_eq!(r.status, 200, "{}", error_of(&r));
    let reply: Value = serde_json::from_slice(&r.body).unwrap();
    let path = tracer.dir.path().join("exports/today/trace.sktrace");
    assert_eq!(reply["bytes"], std::fs::metadata(&path).unwrap().len());
    assert_eq!(reply["events"], 2);
    assert!(reply["location"].as_str().unwrap().starts_with("file://"));
    sk_core::trace::decode(&std::fs::read(&path).unwrap()).unwrap();

    let r = tracer.export_raw(&json!({"start_ts": 0, "end_ts": now() + 60, "format": "simkube-v2"}));
    assert_eq!(r.status, 200);
    assert!(r.headers.contains("application/msgpack"));
    let (format, trace) = sk_core::trace::decode_any(&r.body).unwrap();
    assert_eq!(format, sk_core::trace::TraceFormat::SimkubeV2);
    assert_eq!(applied(&trace, "Deployment"), ["web"]);
}

#[test]
fn concurrent_exports_while_events_stream_in() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    // As many slots as exporting threads: the bound itself is tested in tests/security.rs.
    let tracer = start_tracer(&emu, &format!("{CONFIG}server:\n  maxConcurrentExports: 4\n"));
    tracer.wait_ready();
    let port = tracer.port;
    let exporters: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                (0..10)
                    .map(|_| {
                        let r = request(
                            port,
                            "POST",
                            "/export",
                            json!({"start_ts": 0, "end_ts": now() + 60}).to_string().as_bytes(),
                        );
                        assert_eq!(r.status, 200);
                        sk_core::trace::decode(&r.body).unwrap().events.len()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for i in 0..200 {
        emu.create(deployment("d", &format!("w{i}"), "v1", json!({}))).unwrap();
    }
    for e in exporters {
        assert_eq!(e.join().unwrap().len(), 10);
    }
    wait_until(10, "every object", || applied(&tracer.export_all(), "Deployment").len() == 200);
}

#[test]
fn an_s3_export_round_trips_through_a_local_s3_server() {
    let Some(moto) = moto::moto() else { return };
    assert_eq!(request(moto.port, "PUT", "/traces", b"").status, 200, "bucket created");
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer_with_env(&emu, CONFIG, &moto.env());
    tracer.wait_ready();
    emu.create(deployment("d", "web", "v1", json!({}))).unwrap();
    wait_until(10, "recorded", || applied(&tracer.export_all(), "Deployment").len() == 1);
    let r =
        tracer.export_json(&json!({"start_ts": 0, "end_ts": now() + 60, "export_path": "s3://traces/2025/t.sktrace"}));
    assert_eq!(r.status, 200, "{}", error_of(&r));
    let reply: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(reply["location"], "s3://traces/2025/t.sktrace");
    use object_store::ObjectStoreExt;
    let store = moto.bucket("traces");
    let stored = rt.block_on(async { store.get(&"2025/t.sktrace".into()).await.unwrap().bytes().await.unwrap() });
    assert_eq!(stored.len() as u64, reply["bytes"].as_u64().unwrap());
    assert_eq!(applied(&sk_core::trace::decode(&stored).unwrap(), "Deployment"), ["web"]);
}

#[test]
fn the_export_client_saves_a_window_and_summarises_it() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer(&emu, CONFIG);
    tracer.wait_ready();
    emu.create(deployment("d", "web", "v1", json!({}))).unwrap();
    emu.create(deployment("kube-system", "dns", "v1", json!({}))).unwrap();
    wait_until(10, "recorded", || applied(&tracer.export_all(), "Deployment").len() == 2);
    let out = tracer.dir.path().join("client.sktrace");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sk-tracer"))
            .arg("export")
            .args(["--tracer", &format!("http://127.0.0.1:{}", tracer.port)])
            .args(args)
            .output()
            .unwrap()
    };
    let o =
        run(&["--start", "-1h", "--end", "now", "--out", out.to_str().unwrap(), "--exclude-namespace", "kube-system"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("saved") && stdout.contains("apps/v1.Deployment  1 objects"), "{stdout}");
    assert_eq!(applied(&sk_core::trace::decode(&std::fs::read(&out).unwrap()).unwrap(), "Deployment"), ["web"]);

    let o = run(&["--start", "-1h", "--to", "remote/t.sktrace", "--exclude-label", "app in (nothing)"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("exported to file://"));
    let o = run(&["--start", "-1h", "--to", "/etc/t.sktrace"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("403"), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&["--start", "yesterday", "--out", "x"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a time"));
}

#[test]
fn redacted_values_never_reach_an_export() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer(&emu, CONFIG);
    tracer.wait_ready();
    let template = |password: &str| {
        json!({"metadata": {"labels": {"app": "db"}, "annotations": {"example.com/api-token": "tok-Zq81", "team": "data"}},
               "spec": {"containers": [{"name": "c", "image": "postgres:16", "env": [
                   {"name": "POSTGRES_PASSWORD", "value": password},
                   {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]}]}})
    };
    emu.create_deployment("d", "db", 1, template("hunter2-Xy7")).unwrap();
    for p in emu.list("v1", "Pod", Some("d")) {
        emu.set_pod_running("d", p["metadata"]["name"].as_str().unwrap(), now()).unwrap();
    }
    next_second();
    // A rollout that changes only the secret value is still a change.
    emu.update_deployment_template("d", "db", template("correct-horse-Q2")).unwrap();
    wait_until(10, "both versions recorded", || applied(&tracer.export_all(), "Deployment") == ["db", "db"]);

    let r = tracer.export_raw(&json!({"start_ts": 0, "end_ts": now() + 60}));
    assert_eq!(r.status, 200);
    let body = String::from_utf8_lossy(&r.body);
    for secret in ["hunter2-Xy7", "correct-horse-Q2", "tok-Zq81", "api-token"] {
        assert!(!body.contains(secret), "{secret} leaked");
    }
    let t = sk_core::trace::decode(&r.body).unwrap();
    let versions: Vec<Value> = t.events.iter().flat_map(|e| &e.applied_objs).map(|o| o.to_json().unwrap()).collect();
    let env = &versions[1]["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(env[0]["name"], "POSTGRES_PASSWORD");
    assert!(env[0]["value"].as_str().unwrap().starts_with("<redacted>:"), "{env}");
    assert_ne!(env[0]["value"], versions[0]["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"]);
    assert_eq!(env[1]["valueFrom"]["secretKeyRef"]["name"], "db", "references are kept");
    assert_eq!(versions[1]["spec"]["template"]["metadata"]["annotations"], json!({"team": "data"}));
    // The running pods' hash is their template's, redacted the same way.
    let lifecycles = lifecycles(&t, "d/db");
    assert_eq!(lifecycles.len(), 1, "{lifecycles:?}");
}

#[test]
fn a_trace_of_many_frames_reaches_the_client_byte_for_byte_as_written_to_disk() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer(&emu, CONFIG);
    tracer.wait_ready();
    // Enough objects that the response is gathered into several frames of 256 KiB.
    for i in 0..700 {
        let mut d = deployment("d", &format!("app-{i}"), "registry.example.com/app:1.0", json!({}));
        d["metadata"]["annotations"] = json!({"note": format!("{i} {}", "x".repeat(1500))});
        emu.create(d).unwrap();
    }
    wait_until(30, "all recorded", || applied(&tracer.export_all(), "Deployment").len() == 700);
    let window = json!({"start_ts": 0, "end_ts": now() + 60, "format": "v1"});
    let r = tracer.export_raw(&window);
    assert_eq!(r.status, 200, "{}", error_of(&r));
    assert!(r.body.len() > 3 * 256 * 1024, "{} bytes: not several frames", r.body.len());
    assert_eq!(r.header("content-length").unwrap(), r.body.len().to_string());

    let mut to_disk = window.clone();
    to_disk["export_path"] = json!("big.sktrace");
    let w = tracer.export_json(&to_disk);
    assert_eq!(w.status, 200, "{}", error_of(&w));
    let written = std::fs::read(tracer.dir.path().join("exports/big.sktrace")).unwrap();
    assert!(written == r.body, "the response ({} bytes) differs from the file ({} bytes)", r.body.len(), written.len());
    assert_eq!(applied(&sk_core::trace::decode(&r.body).unwrap(), "Deployment").len(), 700);
}

#[cfg(target_os = "linux")]
#[test]
fn once_listed_the_tracer_lets_go_of_startup_code_and_goes_on_recording() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer_with_env(&emu, CONFIG, &[("RUST_LOG", "info,sk_tracer::startup_code=debug".to_string())]);
    tracer.wait_ready();
    let listed = |l: &&str| l.contains("startup code") && l.contains("listed");
    wait_until(30, "startup code released", || tracer.log().lines().any(|l| listed(&l)));
    let log = tracer.log();
    let line = log.lines().find(listed).unwrap();
    let field = |name: &str| -> u64 {
        let at = line.find(&format!("{name}=")).unwrap_or_else(|| panic!("{name} in {line}"));
        line[at + name.len() + 1..].split_whitespace().next().unwrap().parse().unwrap()
    };
    assert!(field("advised_bytes") > 0, "{line}");
    assert!(field("resident_after") < field("resident_before"), "{line}");
    emu.create(deployment("d", "after", "v1", json!({}))).unwrap();
    wait_until(10, "recorded after the release", || applied(&tracer.export_all(), "Deployment") == ["after"]);
}
