//! The custom binary lists its plugins beside the built-ins, and uses them when the config names
//! them: a tracer run against the API emulator records objects without the dropped annotations,
//! and delivers an export to `stdout://` through the custom exporter with the options its config
//! section gives.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kube_emulator::Emulator;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_custom-sk-tracer");

#[test]
fn plugins_lists_the_custom_sanitiser_next_to_the_built_ins() {
    let out = Command::new(BIN).arg("plugins").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("drop-annotations") && text.contains("pod-hash") && text.contains("excluded-labels"),
        "{text}"
    );
    assert!(text.contains("stdout (stdout://)") && text.contains("object-store (s3://"), "{text}");
}

#[test]
fn check_config_names_the_exporters_bad_options() {
    let dir = tempfile::tempdir().unwrap();
    for (section, expected) in [
        (
            "stdout: {lengthPrefix: yes-please}",
            "export.stdout: exporter `stdout`: bad options: lengthPrefix: invalid type",
        ),
        ("stdout: {colour: red}", "export.stdout: exporter `stdout`: bad options: unknown field `colour`"),
        ("stdoot: {}", "export.stdoot: unknown setting or exporter `stdoot`"),
    ] {
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, format!("trackedObjects:\n  apps/v1.Deployment: {{}}\nexport:\n  {section}\n")).unwrap();
        let out = Command::new(BIN).arg("check-config").arg(&path).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{section} was accepted");
        assert!(err.contains(&format!("config file {}: {expected}", path.display())), "{section}: {err}");
    }
}

fn get(port: u16, method: &str, path: &str, body: &str) -> (u16, Vec<u8>) {
    use std::io::Write;
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else { return (0, Vec::new()) };
    // Accepting JSON, a delivered export is answered with a summary of what was delivered.
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(raw.len());
    let status =
        String::from_utf8_lossy(&raw[..split]).split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, raw.get(split + 4..).unwrap_or_default().to_vec())
}

#[test]
fn a_run_with_the_plugin_configured_drops_the_annotations() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    emu.write_kubeconfig(dir.path().join("kubeconfig")).unwrap();
    let config = "trackedObjects:
  apps/v1.Deployment: {}
pipeline:
  sanitisers: [metadata, status, node-name, drop-annotations]
  options:
    drop-annotations: {keys: ['ci.example.com/*']}
export:
  stdout: {lengthPrefix: true}
";
    std::fs::write(dir.path().join("config.yaml"), config).unwrap();
    let check = Command::new(BIN).arg("check-config").arg(dir.path().join("config.yaml")).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(BIN)
        .args(["run", "--config"])
        .arg(dir.path().join("config.yaml"))
        .arg("--kubeconfig")
        .arg(dir.path().join("kubeconfig"))
        .args(["--port", &port.to_string()])
        .stderr(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    emu.create(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"namespace": "d", "name": "web", "annotations": {"ci.example.com/build": "42", "team": "payments"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}, "annotations": {"ci.example.com/commit": "abc"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let recorded = loop {
        let (status, body) = get(port, "POST", "/export", r#"{"start_ts": 0, "end_ts": 9999999999}"#);
        if status == 200 {
            let trace = sk_core::trace::decode(&body).unwrap();
            if let Some(obj) = trace.events.iter().flat_map(|e| &e.applied_objs).next() {
                break obj.to_json().unwrap();
            }
        }
        assert!(Instant::now() < deadline, "the deployment was not recorded");
        std::thread::sleep(Duration::from_millis(100));
    };

    // The same window through the custom exporter and in a response; changes recorded from now on
    // fall after the window, so both hold the same trace.
    let end = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    std::thread::sleep(Duration::from_millis(1100));
    let window = format!(r#""start_ts": 0, "end_ts": {end}"#);
    let (status, body) = get(port, "POST", "/export", &format!(r#"{{{window}, "export_path": "stdout://"}}"#));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let delivered: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(delivered["location"], "stdout://");
    let (status, in_response) = get(port, "POST", "/export", &format!("{{{window}}}"));
    assert_eq!(status, 200);

    let _ = child.kill();
    let _ = child.wait();
    let mut written = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut written).unwrap();
    assert!(written.len() >= 8, "nothing was written to standard output");
    let (length, trace) = written.split_at(8);
    let length = u64::from_be_bytes(length.try_into().unwrap());
    assert_eq!(length, delivered["bytes"].as_u64().unwrap());
    assert_eq!(trace.len() as u64, length, "one trace, preceded by its length");
    assert_eq!(trace, in_response.as_slice(), "the exporter got the trace the response carries");

    assert_eq!(recorded["metadata"]["annotations"], json!({"team": "payments"}));
    assert!(recorded["spec"]["template"]["metadata"].get("annotations").is_none(), "templates too: {recorded}");
}
