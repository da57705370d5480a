//! SimKube's own export client against this tracer: the request `skctl export -o OUTPUT` sends,
//! and what it does with the answer (writes a non-empty body to OUTPUT itself), for each form of
//! OUTPUT; and the tracer started with SimKube's flags and config, as SimKube's manifests start it.

mod support;

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use kube_emulator::Emulator;
use serde_json::{json, Value};
use sk_core::trace::TraceFormat;
use support::*;

const CONFIG: &str = "trackedObjects:\n  apps/v1.Deployment:\n    trackLifecycle: true\n";

/// SimKube's config, as its manifests mount it.
const SIMKUBE_CONFIG: &str = include_str!("data/simkube-2.7/tracer-config.yml");

/// The body of `skctl export -o <output>` with its default `--excluded-namespaces`.
fn skctl_request(start: i64, end: i64, output: &str) -> Value {
    let excluded = "cert-manager,default,kube-public,kube-node-lease,kube-system,local-path-storage,monitoring,simkube";
    json!({"start_ts": start, "end_ts": end, "export_path": output,
           "filters": {"excluded_namespaces": excluded.split(',').collect::<Vec<_>>(), "excluded_labels": []}})
}

/// The request as skctl's HTTP client sends it: JSON, accepting anything.
fn skctl_post(port: u16, body: &Value) -> Response {
    request_with_headers(port, "POST", "/export", &[("Accept", "*/*")], body.to_string().as_bytes())
}

/// What skctl does with a successful answer: a non-empty body is the trace, which it writes to
/// its output path; an empty one means the tracer stored the trace, and it writes nothing.
fn skctl_writes(answer: &Response, output: &Path) {
    if !answer.body.is_empty() {
        std::fs::write(output, &answer.body).unwrap();
    }
}

/// The Deployments of the trace in `bytes`, by name.
fn deployments_in(bytes: &[u8]) -> Vec<String> {
    applied(&sk_core::trace::decode(bytes).expect("a trace"), "Deployment")
}

/// The format of the trace in `bytes`.
fn format_of(bytes: &[u8]) -> TraceFormat {
    sk_core::trace::decode_any(bytes).expect("a trace").0
}

fn record_web_and_dns(emu: &Emulator, tracer: &Tracer) {
    tracer.wait_ready();
    emu.create(deployment("web", "nginx")).unwrap();
    let mut dns = deployment("dns", "coredns");
    dns["metadata"]["namespace"] = "kube-system".into();
    emu.create(dns).unwrap();
    wait_until(10, "both recorded", || applied(&tracer.export_all(), "Deployment").len() == 2);
}

#[test]
fn skctl_gets_the_trace_for_a_path_a_file_url_and_memory_and_the_tracer_writes_nothing() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    // The tracer may write under its export directory; what it had there stays as it was.
    let tracer = start_tracer_with_setup(&emu, CONFIG, |exports| {
        std::fs::write(exports.join("output.sktrace"), b"an earlier trace").unwrap();
    });
    record_web_and_dns(&emu, &tracer);
    let (start, end) = (now() - 1800, now() + 1);
    let client = tempfile::tempdir().unwrap();
    let file_output = client.path().join("by-url.sktrace");
    std::fs::write(&file_output, b"the client's earlier file").unwrap();

    let outputs = [
        ("output.sktrace".to_string(), Some(client.path().join("output.sktrace"))),
        (format!("file://{}", file_output.display()), Some(file_output.clone())),
        ("memory:///traces/output.sktrace".to_string(), None),
    ];
    for (output, written_to) in &outputs {
        let answer = skctl_post(tracer.port, &skctl_request(start, end, output));
        assert_eq!(answer.status, 200, "{output}: {}", answer.error());
        assert_eq!(answer.header("content-type").as_deref(), Some("application/msgpack"), "{output}");
        assert_eq!(deployments_in(&answer.body), ["web"], "{output}: skctl's excluded namespaces apply");
        assert_eq!(format_of(&answer.body), TraceFormat::SimkubeV2, "{output}: the format SimKube's tools read");
        if let Some(path) = written_to {
            if path.exists() {
                assert_ne!(std::fs::read(path).unwrap(), answer.body, "{output}: the tracer wrote the client's file");
            }
            skctl_writes(&answer, path);
            assert_eq!(deployments_in(&std::fs::read(path).unwrap()), ["web"], "{output}: the file is the trace");
        }
    }
    let exports: Vec<_> =
        std::fs::read_dir(tracer.dir.path().join("exports")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(exports, ["output.sktrace"], "nothing written on the tracer's disk");
    assert_eq!(std::fs::read(tracer.dir.path().join("exports/output.sktrace")).unwrap(), b"an earlier trace");

    // Errors are JSON under either contract, with the status that says why.
    let backwards = skctl_post(tracer.port, &skctl_request(end, start, "output.sktrace"));
    assert_eq!(backwards.status, 400);
    assert!(backwards.error().contains("must be after start_ts"), "{}", backwards.error());
    let unknown = skctl_post(tracer.port, &skctl_request(start, end, "ftp://host/t.sktrace"));
    assert_eq!(unknown.status, 400);
    assert!(unknown.error().contains("unknown scheme `ftp`"), "{}", unknown.error());

    // Asking for JSON, a path is the tracer's to write, under its export directory.
    let summary = tracer.export_json(&skctl_request(start, end, "asked/output.sktrace"));
    assert_eq!(summary.status, 200, "{}", summary.error());
    let summary: Value = serde_json::from_slice(&summary.body).unwrap();
    let written = std::fs::read(tracer.dir.path().join("exports/asked/output.sktrace")).unwrap();
    assert_eq!(summary["bytes"], written.len());
    assert!(summary["location"].as_str().unwrap().ends_with("/exports/asked/output.sktrace"), "{summary}");
    assert_eq!(deployments_in(&written), ["web"]);
}

#[test]
fn skctl_to_s3_is_stored_by_the_tracer_and_answered_with_an_empty_body() {
    let Some(moto) = moto::moto() else { return };
    assert_eq!(request(moto.port, "PUT", "/traces", b"").status, 200, "bucket created");
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer_with_env(&emu, CONFIG, &moto.env());
    record_web_and_dns(&emu, &tracer);
    let (start, end) = (now() - 1800, now() + 1);
    let bucket = moto.bucket("traces");
    let stored = |key: &str| {
        use object_store::ObjectStoreExt;
        rt.block_on(async { bucket.get(&key.into()).await.unwrap().bytes().await.unwrap() })
    };

    let answer = skctl_post(tracer.port, &skctl_request(start, end, "s3://traces/sim/output.sktrace"));
    assert_eq!(answer.status, 200, "{}", answer.error());
    assert!(answer.body.is_empty(), "skctl would write this body over the stored trace");
    assert_eq!(answer.header("content-length").as_deref(), Some("0"));
    let trace = stored("sim/output.sktrace");
    assert_eq!(deployments_in(&trace), ["web"]);
    assert_eq!(format_of(&trace), TraceFormat::SimkubeV2);

    // Asking for JSON, in the same format: the same trace, and a summary of it.
    let mut asked = skctl_request(start, end, "s3://traces/sim/asked.sktrace");
    asked["format"] = "simkube-v2".into();
    let summary = tracer.export_json(&asked);
    assert_eq!(summary.status, 200, "{}", summary.error());
    let summary: Value = serde_json::from_slice(&summary.body).unwrap();
    assert_eq!(summary["location"], "s3://traces/sim/asked.sktrace");
    assert_eq!(summary["bytes"], trace.len());
    assert_eq!(stored("sim/asked.sktrace"), trace);

    let missing = skctl_post(tracer.port, &skctl_request(start, end, "s3://no-such-bucket/t.sktrace"));
    assert_eq!(missing.status, 502);
    assert!(missing.error().contains("s3 failed"), "{}", missing.error());
}

#[test]
fn started_with_simkubes_flags_and_config_it_traces_and_exports() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer_with_args(&emu, SIMKUBE_CONFIG, |dir, port| {
        let config: OsString = dir.join("config.yaml").into();
        vec![
            "--config-file".into(),
            config,
            "--server-port".into(),
            port.to_string().into(),
            "-v".into(),
            "info".into(),
        ]
    });
    record_web_and_dns(&emu, &tracer);
    let client = tempfile::tempdir().unwrap();
    let output = client.path().join("output.sktrace");
    let answer = skctl_post(tracer.port, &skctl_request(now() - 1800, now() + 1, "output.sktrace"));
    assert_eq!(answer.status, 200, "{}", answer.error());
    skctl_writes(&answer, &output);
    assert_eq!(deployments_in(&std::fs::read(&output).unwrap()), ["web"]);
    assert!(tracer.log().contains("sk-tracer is running"), "logs at info: {}", tracer.log());

    // SimKube's config is one `check-config` accepts as it is.
    let checked = Command::new(env!("CARGO_BIN_EXE_sk-tracer"))
        .args(["check-config", "--no-env", "tests/data/simkube-2.7/tracer-config.yml"])
        .output()
        .unwrap();
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
    assert!(String::from_utf8_lossy(&checked.stdout).contains("batch/v1.CronJob"));
}
