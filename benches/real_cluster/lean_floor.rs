//! Floor (b) of the real-cluster comparison: what the data itself costs to receive. The tracer's
//! three watches (Deployments and Pods whole, ReplicaSets as metadata) as the same requests over
//! the same kind of TLS connection (rustls, the kubeconfig's client certificate), on one thread:
//! each chunked watch stream is read and every event scanned once for its type and
//! resourceVersion, without building an object.
//!
//! `lean_floor` finds the cluster through the kubeconfig as kube does, watches until SIGTERM or
//! SIGINT, then prints one JSON line: its CPU seconds and the watch events it saw per kind (the
//! load's events, which the harness reports for every process).

mod floor_report;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use kube::client::ConfigExt;
use memchr::memmem;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// As kube asks for metadata only: a list of them, then each watch event's.
const METADATA_LIST: &str = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
const METADATA: &str = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";
const WHOLE: &str = "application/json";
/// Reads as large as a TLS record can fill, so that a burst of events is one wake-up.
const READ_SIZE: usize = 256 * 1024;

struct Watch {
    kind: &'static str,
    path: &'static str,
    list_accept: &'static str,
    watch_accept: &'static str,
}

const WATCHES: [Watch; 3] = [
    Watch { kind: "Deployment", path: "/apis/apps/v1/deployments", list_accept: WHOLE, watch_accept: WHOLE },
    Watch { kind: "Pod", path: "/api/v1/pods", list_accept: WHOLE, watch_accept: WHOLE },
    Watch { kind: "ReplicaSet", path: "/apis/apps/v1/replicasets", list_accept: METADATA_LIST, watch_accept: METADATA },
];

/// One HTTP/1.1 connection, read into a buffer that requests consume from the front.
struct Conn {
    tls: TlsStream<TcpStream>,
    host: String,
    /// Allocated and zeroed once; `start..end` is what has been read and not consumed.
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Conn {
    async fn open(target: &Target) -> anyhow::Result<Conn> {
        let tcp = TcpStream::connect((target.host.as_str(), target.port)).await?;
        tcp.set_nodelay(true)?;
        let tls = target.connector.connect(target.server_name.clone(), tcp).await?;
        Ok(Conn { tls, host: target.host.clone(), buf: vec![0; 2 * READ_SIZE], start: 0, end: 0 })
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Reads more bytes; an error at the end of the stream.
    async fn fill(&mut self) -> anyhow::Result<()> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.start > 0 && self.buf.len() - self.end < READ_SIZE {
            self.buf.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
        }
        if self.buf.len() - self.end < READ_SIZE {
            self.buf.resize(self.end + READ_SIZE, 0);
        }
        let n = self.tls.read(&mut self.buf[self.end..]).await?;
        self.end += n;

        if n == 0 {
            bail!("connection closed");
        }
        Ok(())
    }

    async fn line(&mut self) -> anyhow::Result<Vec<u8>> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', self.pending()) {
                let line = self.pending()[..i].strip_suffix(b"\r").unwrap_or(&self.pending()[..i]).to_vec();
                self.start += i + 1;
                return Ok(line);
            }
            self.fill().await?;
        }
    }

    /// Sends a GET and reads the status line and headers; whether the body is chunked, else its length.
    async fn get(&mut self, path: &str, accept: &str) -> anyhow::Result<Body> {
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: {accept}\r\nUser-Agent: lean-floor\r\n\r\n", self.host);
        self.tls.write_all(request.as_bytes()).await?;
        let status = self.line().await?;
        let status = String::from_utf8_lossy(&status).to_string();
        if !status.contains(" 200 ") {
            bail!("GET {path}: {status}");
        }
        let mut body = Body::Length(0);
        loop {
            let header = self.line().await?;
            if header.is_empty() {
                return Ok(body);
            }
            let header = String::from_utf8_lossy(&header).to_ascii_lowercase();
            if header.starts_with("transfer-encoding:") && header.contains("chunked") {
                body = Body::Chunked;
            } else if let Some(n) = header.strip_prefix("content-length:") {
                body = Body::Length(n.trim().parse()?);
            }
        }
    }

    /// Hands each piece of the body to `each` as it arrives, until the body ends.
    async fn body(&mut self, body: Body, mut each: impl FnMut(&[u8])) -> anyhow::Result<()> {
        match body {
            Body::Length(mut left) => {
                while left > 0 {
                    if self.pending().is_empty() {
                        self.fill().await?;
                    }
                    let n = left.min(self.pending().len());
                    each(&self.pending()[..n]);
                    self.start += n;
                    left -= n;
                }
            }
            Body::Chunked => loop {
                let size_line = self.line().await?;
                let size = std::str::from_utf8(&size_line)?.split(';').next().unwrap_or_default().trim();
                let mut left = usize::from_str_radix(size, 16).with_context(|| format!("chunk size {size:?}"))?;
                if left == 0 {
                    self.line().await?;
                    return Ok(());
                }
                while left > 0 {
                    if self.pending().is_empty() {
                        self.fill().await?;
                    }
                    let n = left.min(self.pending().len());
                    each(&self.pending()[..n]);
                    self.start += n;
                    left -= n;
                }
                self.line().await?;
            },
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Body {
    Chunked,
    Length(usize),
}

struct Target {
    host: String,
    port: u16,
    server_name: rustls::pki_types::ServerName<'static>,
    connector: TlsConnector,
}

/// The value of the first `"key":"value"` in `bytes`.
fn string_field<'a>(bytes: &'a [u8], key: &memmem::Finder) -> Option<&'a [u8]> {
    let at = key.find(bytes)? + key.needle().len();
    let len = memchr::memchr(b'"', &bytes[at..])?;
    Some(&bytes[at..at + len])
}

/// Lists a kind (page by page, as kube's watcher does) and returns the list's resourceVersion.
async fn list(conn: &mut Conn, watch: &Watch) -> anyhow::Result<String> {
    let rv_key = memmem::Finder::new(b"\"resourceVersion\":\"");
    let continue_key = memmem::Finder::new(b"\"continue\":\"");
    let mut token = String::new();
    loop {
        // The first page from the apiserver's cache, as kube's watcher asks by default.
        let path = if token.is_empty() {
            format!("{}?limit=500&resourceVersion=0", watch.path)
        } else {
            format!("{}?limit=500&continue={token}", watch.path)
        };
        let body = conn.get(&path, watch.list_accept).await?;
        // The list's own metadata comes first; its items are only scanned past.
        let mut head = Vec::new();
        conn.body(body, |piece| {
            if head.len() < 4096 {
                head.extend_from_slice(&piece[..piece.len().min(4096)]);
            }
        })
        .await?;
        let meta_end = memmem::find(&head, b"\"items\"").unwrap_or(head.len());
        let meta = &head[..meta_end];
        let rv =
            string_field(meta, &rv_key).ok_or_else(|| anyhow!("{}: a list without resourceVersion", watch.kind))?;
        match string_field(meta, &continue_key) {
            Some(next) if !next.is_empty() => token = String::from_utf8_lossy(next).to_string(),
            _ => return Ok(String::from_utf8_lossy(rv).to_string()),
        }
    }
}

/// Splits a watch body into its newline-separated events and scans each once.
struct EventScanner {
    partial: Vec<u8>,
    rv_key: memmem::Finder<'static>,
    type_key: memmem::Finder<'static>,
    last_rv: String,
    gone: bool,
}

impl EventScanner {
    fn feed(&mut self, piece: &[u8], seen: &Cell<u64>) {
        let mut rest = piece;
        while let Some(i) = memchr::memchr(b'\n', rest) {
            if self.partial.is_empty() {
                self.event(&rest[..i], seen);
            } else {
                self.partial.extend_from_slice(&rest[..i]);
                let line = std::mem::take(&mut self.partial);
                self.event(&line, seen);
            }
            rest = &rest[i + 1..];
        }
        self.partial.extend_from_slice(rest);
    }

    fn event(&mut self, line: &[u8], seen: &Cell<u64>) {
        match string_field(line, &self.type_key) {
            Some(b"ADDED" | b"MODIFIED" | b"DELETED") => seen.set(seen.get() + 1),
            Some(b"ERROR") => self.gone = true,
            _ => {}
        }
        if let Some(rv) = string_field(line, &self.rv_key) {
            self.last_rv.clear();
            self.last_rv.push_str(std::str::from_utf8(rv).unwrap_or_default());
        }
    }
}

/// Lists, then watches from the list's resourceVersion, resuming where the stream ended and
/// listing again after an error event (410 Gone), until the process stops.
async fn watch(target: Rc<Target>, watch: &'static Watch, seen: Rc<Cell<u64>>) {
    let mut scanner = EventScanner {
        partial: Vec::new(),
        rv_key: memmem::Finder::new(b"\"resourceVersion\":\"").into_owned(),
        type_key: memmem::Finder::new(b"\"type\":\"").into_owned(),
        last_rv: String::new(),
        gone: true,
    };
    loop {
        let started = std::time::Instant::now();
        let result: anyhow::Result<()> = async {
            let mut conn = Conn::open(&target).await?;
            if scanner.gone {
                scanner.last_rv = list(&mut conn, watch).await?;
                scanner.gone = false;
            }
            let path = format!(
                "{}?watch=true&timeoutSeconds=290&allowWatchBookmarks=true&resourceVersion={}",
                watch.path, scanner.last_rv
            );
            let body = conn.get(&path, watch.watch_accept).await?;
            scanner.partial.clear();
            conn.body(body, |piece| scanner.feed(piece, &seen)).await
        }
        .await;
        if let Err(e) = &result {
            eprintln!("lean_floor: {} watch: {e:#}", watch.kind);
        }
        // A watch that ends at once (refused, or an answer that is not a stream) is retried
        // after a pause rather than in a loop of handshakes.
        if result.is_err() || started.elapsed() < std::time::Duration::from_secs(1) {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
}

async fn target() -> anyhow::Result<Target> {
    let config = kube::Config::infer().await?;
    let mut tls = config.rustls_client_config()?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let host = config.cluster_url.host().ok_or_else(|| anyhow!("the cluster URL has no host"))?.to_string();
    let port = config.cluster_url.port_u16().unwrap_or(443);
    let server_name = rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']))
        .map_err(|e| anyhow!("{host}: {e}"))?
        .to_owned();
    Ok(Target { host, port, server_name, connector: TlsConnector::from(Arc::new(tls)) })
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let target = Rc::new(target().await?);
        let counters: Vec<Rc<Cell<u64>>> = WATCHES.iter().map(|_| Rc::new(Cell::new(0))).collect();
        for (w, seen) in WATCHES.iter().zip(&counters) {
            tokio::task::spawn_local(watch(target.clone(), w, seen.clone()));
        }
        floor_report::until_stopped().await?;
        floor_report::print(WATCHES.iter().zip(&counters).map(|(w, c)| (w.kind.to_string(), c.get())));
        Ok(())
    })
}
