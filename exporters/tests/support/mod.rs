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
    assert!(std::env::var_os("SK_REQUIRE_PYTHON").is_none(), "{what} is required: {install}");
    eprintln!("skipped: {what} is not installed ({install})");
    None
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
    let mut server = Server { child, port };
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

/// One HTTP/1.1 request; the status code and the body.
pub fn http(port: u16, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
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
