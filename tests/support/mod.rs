//! Running the real `sk-tracer` binary against an in-process API emulator, and talking to it over
//! HTTP as a user would; also the workload, /proc readers, config loading and options the benches
//! share (`benches/` includes this module too).
#![allow(dead_code)]

pub mod args;
pub mod browser;
pub mod config;
pub mod moto;
pub mod process;
pub mod workload;

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube_emulator::Emulator;
use sk_core::Trace;

pub struct Tracer {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Tracer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Tracer {
    /// SIGKILL, as a crash or an evicted node would: nothing gets to run.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the tracer exited, or is exiting, because its port was taken: waits until it
    /// either says it is running or exits.
    fn lost_its_port(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return self.log().contains("Address already in use");
            }
            if self.log().contains("sk-tracer is running") {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

/// The binary this build made.
pub const BINARY: &str = env!("CARGO_BIN_EXE_sk-tracer");

/// The runtime the in-process emulator runs on.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// A one-replica Deployment `d/<name>` running `image`.
pub fn deployment(name: &str, image: &str) -> serde_json::Value {
    serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": "d", "name": name},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}, "template": {
               "metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": image}]}}}})
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `f` every 100 ms until it holds; fails the test after `secs` seconds.
pub fn wait_until(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn now() -> i64 {
    kube_emulator::controllers::now()
}

/// Starts `sk-tracer run` with `config` against the emulator, and waits for `/healthz`.
pub fn start_tracer(emu: &Emulator, config: &str) -> Tracer {
    start_tracer_with_env(emu, config, &[])
}

pub fn start_tracer_with_env(emu: &Emulator, config: &str, env: &[(&str, String)]) -> Tracer {
    start(emu, config, env, |_| {})
}

/// Starts a tracer that serves HTTPS only: it is up once it answers a plain request on its port
/// (with a 400 saying so).
pub fn start_tracer_tls(emu: &Emulator, config: &str) -> Tracer {
    launch(
        emu,
        config,
        &[],
        |_| {},
        |t| {
            exchange(t.port, &request_bytes("GET", "/healthz", &[], b""))
                .ok()
                .and_then(|raw| parse_response(&raw))
                .is_some()
        },
    )
}

/// Starts the tracer after `setup` has run on its (empty) export directory.
pub fn start_tracer_with_setup(emu: &Emulator, config: &str, setup: impl FnOnce(&std::path::Path)) -> Tracer {
    start(emu, config, &[], setup)
}

fn start(emu: &Emulator, config: &str, env: &[(&str, String)], setup: impl FnOnce(&std::path::Path)) -> Tracer {
    launch(emu, config, env, setup, |t| t.get("/healthz").0 == 200)
}

/// The tracer's command line: `run` with the config, kubeconfig and export directory in `dir`.
fn run_args(dir: &std::path::Path, port: u16) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec!["run".into(), "--config".into(), dir.join("config.yaml").into()];
    args.extend(["--kubeconfig".into(), dir.join("kubeconfig").into(), "--port".into(), port.to_string().into()]);
    args.extend(["--export-dir".into(), dir.join("exports").into()]);
    args
}

/// Starts the binary with the command line `args` makes from the tracer's directory (holding
/// `config.yaml`, `kubeconfig` and `exports/`) and port, with `KUBECONFIG` naming the emulator's.
pub fn start_tracer_with_args(
    emu: &Emulator,
    config: &str,
    args: impl Fn(&std::path::Path, u16) -> Vec<std::ffi::OsString>,
) -> Tracer {
    launch_with(emu, config, &[], |_| {}, args, |t| t.get("/healthz").0 == 200)
}

fn launch(
    emu: &Emulator,
    config: &str,
    env: &[(&str, String)],
    setup: impl FnOnce(&std::path::Path),
    up: impl Fn(&Tracer) -> bool,
) -> Tracer {
    launch_with(emu, config, env, setup, run_args, up)
}

fn launch_with(
    emu: &Emulator,
    config: &str,
    env: &[(&str, String)],
    setup: impl FnOnce(&std::path::Path),
    args: impl Fn(&std::path::Path, u16) -> Vec<OsString>,
    up: impl Fn(&Tracer) -> bool,
) -> Tracer {
    let mut tracer = spawn(BINARY.as_ref(), emu, config, env, setup, &args);
    // The port was free when picked, but another test's server may take it before the tracer
    // binds it: then the tracer is started again on another port.
    for _ in 0..5 {
        if !tracer.lost_its_port() {
            break;
        }
        tracer.port = free_port();
        tracer.child = command(BINARY.as_ref(), &tracer.dir, env, &args, tracer.port);
    }
    wait_until(20, "the tracer's server", || {
        if let Ok(Some(status)) = tracer.child.try_wait() {
            panic!("the tracer exited ({status}):\n{}", tracer.log());
        }
        up(&tracer)
    });
    tracer
}

/// Starts `binary run` with `config` against the emulator, its stderr in [`Tracer::log`], and
/// returns at once: for measuring what its start costs, or for a build other than [`BINARY`].
pub fn spawn_tracer(binary: &OsStr, emu: &Emulator, config: &str, env: &[(&str, String)]) -> Tracer {
    spawn(binary, emu, config, env, |_| {}, run_args)
}

fn spawn(
    binary: &OsStr,
    emu: &Emulator,
    config: &str,
    env: &[(&str, String)],
    setup: impl FnOnce(&std::path::Path),
    args: impl Fn(&std::path::Path, u16) -> Vec<OsString>,
) -> Tracer {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), config).unwrap();
    emu.write_kubeconfig(dir.path().join("kubeconfig")).unwrap();
    std::fs::create_dir_all(dir.path().join("exports")).unwrap();
    setup(&dir.path().join("exports"));
    let port = free_port();
    let child = command(binary, &dir, env, args, port);
    Tracer { child, port, dir }
}

fn command(
    binary: &OsStr,
    dir: &tempfile::TempDir,
    env: &[(&str, String)],
    args: impl Fn(&std::path::Path, u16) -> Vec<OsString>,
    port: u16,
) -> Child {
    let log = std::fs::File::create(dir.path().join("tracer.log")).unwrap();
    Command::new(binary)
        .args(args(dir.path(), port))
        .env("RUST_LOG", "info")
        .env("KUBECONFIG", dir.path().join("kubeconfig"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

pub struct Response {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

/// One HTTP/1.1 request over a fresh connection.
pub fn request(port: u16, method: &str, path: &str, body: &[u8]) -> Response {
    request_with_headers(port, method, path, &[], body)
}

/// One HTTP/1.1 request with extra headers (`("Authorization", "Bearer x")`).
pub fn request_with_headers(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let raw = exchange(port, &request_bytes(method, path, headers, body)).unwrap();
    parse_response(&raw).expect("an HTTP response")
}

pub fn request_bytes(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    );
    [head.as_bytes(), body].concat()
}

/// Sends `bytes` over a fresh connection and reads until the server closes it.
pub fn exchange(port: u16, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(bytes)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    Ok(raw)
}

/// `None` when `raw` is not an HTTP response.
pub fn parse_response(raw: &[u8]) -> Option<Response> {
    if !raw.starts_with(b"HTTP/") {
        return None;
    }
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let headers = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = headers.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut body = raw[split + 4..].to_vec();
    if headers.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Some(Response { status, headers, body })
}

impl Response {
    /// The value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// The `error` of a JSON error body.
    pub fn error(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 2 + size + 2..];
    }
    out
}

impl Tracer {
    /// Sends SIGTERM and waits (bounded) for the process to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the tracer did not exit after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        match TcpStream::connect(("127.0.0.1", self.port)) {
            Ok(_) => {
                let r = request(self.port, "GET", path, b"");
                (r.status, String::from_utf8_lossy(&r.body).into_owned())
            }
            Err(_) => (0, String::new()),
        }
    }

    pub fn export_raw(&self, body: &serde_json::Value) -> Response {
        request(self.port, "POST", "/export", body.to_string().as_bytes())
    }

    /// An export that asks for JSON: a destination is written by the tracer and answered with a
    /// summary of what was written.
    pub fn export_json(&self, body: &serde_json::Value) -> Response {
        request_with_headers(
            self.port,
            "POST",
            "/export",
            &[("Accept", "application/json")],
            body.to_string().as_bytes(),
        )
    }

    /// The trace of `[start, end)` as the response body, in v1, decoded.
    pub fn export(&self, start: i64, end: i64) -> Trace {
        let r = self.export_raw(&serde_json::json!({"start_ts": start, "end_ts": end, "format": "v1"}));
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        sk_core::trace::decode(&r.body).unwrap()
    }

    /// Everything recorded so far.
    pub fn export_all(&self) -> Trace {
        self.export(0, now() + 3600)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("tracer.log")).unwrap_or_default()
    }

    pub fn wait_ready(&self) {
        wait_until(30, "the tracer's /readyz", || self.get("/readyz").0 == 200);
    }
}

/// Names of the objects of `kind` applied anywhere in the trace, with how often.
pub fn applied(trace: &Trace, kind: &str) -> Vec<String> {
    trace
        .events
        .iter()
        .flat_map(|e| &e.applied_objs)
        .filter_map(|o| o.identity())
        .filter(|id| id.gvk.kind == kind)
        .map(|id| id.name)
        .collect()
}

pub fn deleted(trace: &Trace, kind: &str) -> Vec<String> {
    trace
        .events
        .iter()
        .flat_map(|e| &e.deleted_objs)
        .filter_map(|o| o.identity())
        .filter(|id| id.gvk.kind == kind)
        .map(|id| id.name)
        .collect()
}

/// All lifecycles of an owner, by pod hash.
pub fn lifecycles(trace: &Trace, owner: &str) -> std::collections::BTreeMap<u64, Vec<sk_core::PodLifecycle>> {
    trace.pod_lifecycles.iter().find(|(k, _)| k.name == owner).map(|(_, v)| v.clone()).unwrap_or_default()
}

/// The windows of the scheduled exports named `<start>-<end>.sktrace` in `dir`, in order.
pub fn windows(dir: &std::path::Path) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let (start, end) = name.strip_suffix(".sktrace")?.split_once('-')?;
                    Some((start.parse().ok()?, end.parse().ok()?))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}
