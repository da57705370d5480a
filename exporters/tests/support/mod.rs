//! Local storage servers for the object-store tests: each bound to 127.0.0.1 on a free port,
//! waited for with a deadline, and killed when its guard drops.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    child: Child,
    pub port: u16,
    /// The server's data and log, removed after the child is killed (fields drop after `drop`).
    dir: Option<tempfile::TempDir>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `None` with a note when a Python tool is missing; CI sets SK_REQUIRE_PYTHON so that it fails
/// there instead.
pub fn missing(what: &str, install: &str) -> Option<Server> {
    missing_tool("SK_REQUIRE_PYTHON", what, install)
}

/// `None` with a note when a tool is missing, or a failure where `require` is set (as CI does).
pub fn missing_tool(require: &str, what: &str, install: &str) -> Option<Server> {
    assert!(std::env::var_os(require).is_none(), "{what} is required ({require} is set): {install}");
    eprintln!("skipped: {what} is not installed ({install})");
    None
}

/// The path of `program` in `PATH`, if it is there.
pub fn on_path(program: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(program)).find(|p| p.is_file())
}

/// Whether `python3` can import `module`.
pub fn python_has(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts `command` and waits until `port` accepts connections.
pub fn start(name: &str, mut command: Command, port: u16) -> Server {
    let child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut server = Server { child, port, dir: None };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            // Nothing reads stderr from here on: keep a chatty server from filling the pipe.
            drop(server.child.stderr.take());
            return server;
        }
        if let Some(status) = server.child.try_wait().unwrap() {
            let mut err = String::new();
            if let Some(mut e) = server.child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            panic!("{name} exited with {status}: {err}");
        }
        assert!(Instant::now() < deadline, "{name} did not listen on 127.0.0.1:{port} within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Starts `command` with its output in `server.log` in `dir`, and waits until `port` accepts
/// connections. A file rather than a pipe, which nobody reads once the server is up: a write to
/// it can then neither block nor fail.
pub fn start_logged(name: &str, mut command: Command, port: u16, dir: tempfile::TempDir) -> Server {
    let log = dir.path().join("server.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = command.stdout(out.try_clone().unwrap()).stderr(out).spawn().unwrap();
    let mut server = Server { child, port, dir: Some(dir) };
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = server.child.try_wait().unwrap() {
            panic!("{name} exited with {status}: {}", std::fs::read_to_string(&log).unwrap_or_default());
        }
        assert!(Instant::now() < deadline, "{name} did not listen on 127.0.0.1:{port} within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// PyPI's moto as an S3-compatible server, or `None` where it is not installed.
pub fn moto() -> Option<Server> {
    if !python_has("moto.server") {
        return missing("moto's server", "pip install 'moto[server]'");
    }
    let port = free_port();
    let mut command = Command::new("python3");
    command.args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()]);
    Some(start("moto", command, port))
}

/// Azurite's account and key: the same in every Azurite, and documented with it.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// npm's Azurite, its Blob service alone, or `None` where it is not installed.
pub fn azurite() -> Option<Server> {
    let Some(program) = on_path("azurite-blob") else {
        return missing_tool("SK_REQUIRE_NODE", "Azurite", "npm install --global azurite");
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut command = Command::new(program);
    command
        .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string(), "--location"])
        .arg(dir.path())
        // No telemetry: nothing leaves 127.0.0.1.
        .args(["--silent", "--disableTelemetry"]);
    Some(start_logged("azurite", command, port, dir))
}

/// Creates a container in Azurite (object_store has no call for it) with a request signed by
/// object_store's own Shared Key signer.
pub fn azurite_container(azurite: &Server, container: &str) {
    use object_store::azure::{AzureAccessKey, AzureAuthorizer, AzureCredential};
    let credential = AzureCredential::AccessKey(AzureAccessKey::try_new(AZURITE_KEY).unwrap());
    let path = format!("/{AZURITE_ACCOUNT}/{container}?restype=container");
    let mut request = object_store::client::HttpRequest::new(Vec::new().into());
    *request.method_mut() = "PUT".parse().unwrap();
    *request.uri_mut() = format!("{}{path}", azurite.url()).parse().unwrap();
    AzureAuthorizer::new(&credential, AZURITE_ACCOUNT).try_authorize(&mut request).unwrap();
    let headers: Vec<(&str, &str)> = request.headers().iter().map(|(k, v)| (k.as_str(), v.to_str().unwrap())).collect();
    let (status, body) = http_with(azurite.port, "PUT", &path, &headers, b"");
    assert_eq!(status, 201, "container {container} created: {body}");
}

/// Object-store options that reach `azurite` as any Azure account is reached through a custom
/// endpoint: path-style, so the account is the endpoint's first segment.
pub fn azurite_options(azurite: &Server) -> Vec<(String, String)> {
    [
        ("azure_storage_account_name", AZURITE_ACCOUNT.to_string()),
        ("azure_storage_account_key", AZURITE_KEY.to_string()),
        ("azure_storage_endpoint", format!("{}/{AZURITE_ACCOUNT}", azurite.url())),
        ("azure_allow_http", "true".to_string()),
    ]
    .map(|(k, v)| (k.to_string(), v))
    .into()
}

/// One HTTP/1.1 request; the status code and the body.
pub fn http(port: u16, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    http_with(port, method, path, &[("Content-Type", content_type)], body)
}

/// One HTTP/1.1 request with exactly these headers besides Host, Content-Length and Connection
/// (a signed request must carry no header its signature left out); the status code and the body.
pub fn http_with(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let status = reply.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = reply.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// Bytes that differ from position to position, so a misplaced part shows.
pub fn trace(len: usize) -> bytes::Bytes {
    (0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into()
}
