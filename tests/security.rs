//! The HTTP server's protections, against the real binary: bearer tokens (and their rotation),
//! open probes, body and concurrency limits, and startup errors for bad security settings.

mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kube_emulator::Emulator;
use serde_json::json;
use support::*;

const CONFIG: &str = "trackedObjects:\n  apps/v1.Deployment:\n    trackLifecycle: true\n";

fn window() -> Vec<u8> {
    json!({"start_ts": 0, "end_ts": now() + 60}).to_string().into_bytes()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

struct Secured {
    tracer: Tracer,
    token_file: PathBuf,
    _dir: tempfile::TempDir,
}

/// A tracer that requires `token`, set through the environment as a Deployment would set it.
fn start_with_token(emu: &Emulator, token: &str) -> Secured {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let env = [("SK_TRACER_SERVER__AUTH__TOKEN_FILE", token_file.display().to_string())];
    let tracer = start_tracer_with_env(emu, CONFIG, &env);
    Secured { tracer, token_file, _dir: dir }
}

fn post_export(port: u16, authorization: Option<&str>) -> Response {
    let headers: Vec<(&str, &str)> = authorization.map(|a| ("Authorization", a)).into_iter().collect();
    request_with_headers(port, "POST", "/export", &headers, &window())
}

fn get(port: u16, path: &str, authorization: Option<&str>) -> Response {
    let headers: Vec<(&str, &str)> = authorization.map(|a| ("Authorization", a)).into_iter().collect();
    request_with_headers(port, "GET", path, &headers, b"")
}

fn assert_unauthorized(r: &Response, message: &str) {
    assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.header("www-authenticate").is_some_and(|v| v.starts_with("Bearer")), "{}", r.headers);
    assert!(r.header("content-type").is_some_and(|v| v.contains("application/json")), "{}", r.headers);
    assert!(r.error().contains(message), "{:?} lacks {message:?}", r.error());
}

#[test]
fn with_a_token_exports_and_metrics_require_it_and_probes_stay_open() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let s = start_with_token(&emu, "correct-horse");
    let port = s.tracer.port;
    s.tracer.wait_ready();

    assert_unauthorized(&post_export(port, None), "requires an `Authorization: Bearer <token>` header");
    assert_unauthorized(&post_export(port, Some("Bearer wrong-horse")), "not valid");
    assert_unauthorized(&post_export(port, Some("Bearer correct-hors")), "not valid");
    assert_unauthorized(&post_export(port, Some("Basic Y29ycmVjdC1ob3JzZQ==")), "must be `Bearer <token>`");
    assert_unauthorized(&post_export(port, Some("correct-horse")), "must be `Bearer <token>`");
    let r = post_export(port, Some(&bearer("correct-horse")));
    assert_eq!(r.status, 200, "{}", r.error());
    sk_core::trace::decode(&r.body).unwrap();
    // Sent in chunks of the trace, but with its length known up front (clients show progress).
    assert_eq!(r.header("content-length"), Some(r.body.len().to_string()), "{}", r.headers);
    assert_eq!(r.header("transfer-encoding"), None);

    assert_unauthorized(&get(port, "/metrics", None), "requires");
    assert_unauthorized(&get(port, "/metrics", Some("Bearer nope")), "not valid");
    let r = get(port, "/metrics", Some(&bearer("correct-horse")));
    assert_eq!(r.status, 200);
    let metrics = String::from_utf8_lossy(&r.body);
    assert!(metrics.contains("sk_tracer_refused_requests_total{reason=\"unauthorized\"} 7"), "{metrics}");

    assert_eq!(get(port, "/healthz", None).status, 200);
    assert_eq!(get(port, "/readyz", None).status, 200);
    // Refused before the body is looked at: an unauthenticated client learns nothing of the limits.
    let huge = vec![b'x'; 100 * 1024];
    assert_eq!(request_with_headers(port, "POST", "/export", &[], &huge).status, 401);
    assert!(!s.tracer.log().contains("correct-horse"), "the token is never logged");
}

#[test]
fn a_rotated_token_takes_effect_without_a_restart_and_a_lost_one_refuses_everything() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let s = start_with_token(&emu, "first");
    let port = s.tracer.port;
    assert_eq!(post_export(port, Some(&bearer("first"))).status, 200);

    // As Kubernetes updates a mounted Secret: the new file is written aside and renamed over.
    let aside = s.token_file.with_extension("new");
    std::fs::write(&aside, "second\n").unwrap();
    std::fs::rename(&aside, &s.token_file).unwrap();
    assert_unauthorized(&post_export(port, Some(&bearer("first"))), "not valid");
    assert_eq!(post_export(port, Some(&bearer("second"))).status, 200);

    // Rewritten in place, same length.
    std::fs::write(&s.token_file, "third!").unwrap();
    assert_unauthorized(&post_export(port, Some(&bearer("second"))), "not valid");
    assert_eq!(post_export(port, Some(&bearer("third!"))).status, 200);

    // Gone: nothing passes (never open), the probes still answer, and the log says why.
    std::fs::remove_file(&s.token_file).unwrap();
    for r in [post_export(port, Some(&bearer("third!"))), get(port, "/metrics", Some(&bearer("third!")))] {
        assert_eq!(r.status, 503, "{}", r.error());
        assert!(r.error().contains("cannot read its token file"), "{}", r.error());
    }
    assert_eq!(get(port, "/healthz", None).status, 200);
    wait_until(5, "the log", || s.tracer.log().contains("refusing every authenticated request"));
    assert!(s.tracer.log().contains(&s.token_file.display().to_string()), "the log names the file");
    // Empty is no better.
    std::fs::write(&s.token_file, "\n").unwrap();
    assert_eq!(post_export(port, Some("Bearer ")).status, 503, "an empty token matches nothing");
    assert_eq!(post_export(port, Some(&bearer("third!"))).status, 503);
    std::fs::write(&s.token_file, "fourth").unwrap();
    assert_eq!(post_export(port, Some(&bearer("fourth"))).status, 200);
}

#[test]
fn the_export_client_sends_the_token_from_its_file() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let s = start_with_token(&emu, "client-token");
    s.tracer.wait_ready();
    let out = s.tracer.dir.path().join("client.sktrace");
    let client = |token_file: Option<&Path>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sk-tracer"));
        cmd.arg("export")
            .args(["--tracer", &format!("http://127.0.0.1:{}", s.tracer.port)])
            .args(["--start", "-1h", "--out", out.to_str().unwrap()])
            .env_remove("SK_TRACER_TOKEN_FILE");
        if let Some(f) = token_file {
            cmd.env("SK_TRACER_TOKEN_FILE", f);
        }
        cmd.output().unwrap()
    };
    let o = client(None);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(stderr.contains("401") && stderr.contains("--token-file"), "{stderr}");
    let o = client(Some(&s.token_file));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    sk_core::trace::decode(&std::fs::read(&out).unwrap()).unwrap();

    let empty = s.tracer.dir.path().join("empty-token");
    std::fs::write(&empty, "  \n").unwrap();
    let o = client(Some(&empty));
    assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("--token-file {} is empty", empty.display())));
    let o = client(Some(Path::new("/no/such/token")));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--token-file /no/such/token: cannot read it"));
}

#[test]
fn an_oversize_body_gets_413_naming_the_limit() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let tracer = start_tracer(&emu, CONFIG);
    let r = request(tracer.port, "POST", "/export", &vec![b' '; 64 * 1024 + 1]);
    assert_eq!(r.status, 413, "{}", r.error());
    assert!(r.error().contains("the limit is 65536 bytes"), "{}", r.error());
    // At the limit, the body is read (and, being blank, is not JSON).
    assert_eq!(request(tracer.port, "POST", "/export", &vec![b' '; 64 * 1024]).status, 400);
    let (_, metrics) = tracer.get("/metrics");
    assert!(metrics.contains("sk_tracer_refused_requests_total{reason=\"body_too_large\"} 1"), "{metrics}");
}

/// An S3 endpoint that accepts connections and answers only when told: an export delivering to it
/// holds its slot, deterministically, for as long as the test wants.
struct StalledS3 {
    listener: std::net::TcpListener,
}

impl StalledS3 {
    fn new() -> Self {
        StalledS3 { listener: std::net::TcpListener::bind("127.0.0.1:0").unwrap() }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.listener.local_addr().unwrap().port())
    }

    /// Waits for the upload to arrive; it is in progress until `answer` is called.
    fn accept(&self) -> std::net::TcpStream {
        self.listener.set_nonblocking(false).unwrap();
        let (conn, _) = self.listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        conn
    }

    /// Reads the request and refuses it, so that the export ends (with a storage error).
    fn answer(mut conn: std::net::TcpStream) {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
        let length: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("content-length:").and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        let _ = conn.read_exact(&mut body);
        let _ = conn.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
}

#[test]
fn exports_beyond_the_bound_get_429_with_retry_after() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let s3 = StalledS3::new();
    let env = [
        ("AWS_ENDPOINT_URL", s3.url()),
        ("AWS_ALLOW_HTTP", "true".to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
        ("AWS_REGION", "us-east-1".to_string()),
    ];
    let config = format!("{CONFIG}server:\n  maxConcurrentExports: 1\n");
    let tracer = start_tracer_with_env(&emu, &config, &env);
    let port = tracer.port;
    let upload = std::thread::spawn(move || {
        let body = json!({"start_ts": 0, "end_ts": now() + 60, "export_path": "s3://bucket/t.sktrace"});
        request(port, "POST", "/export", body.to_string().as_bytes())
    });
    // Once the upload has reached storage, the export holds the only slot.
    let conn = s3.accept();
    let r = request(port, "POST", "/export", &window());
    assert_eq!(r.status, 429, "{}", r.error());
    assert_eq!(r.header("retry-after").as_deref(), Some("5"));
    assert!(r.error().contains("1 exports are already in progress (server.maxConcurrentExports)"), "{}", r.error());
    // The probes and metrics are not exports.
    assert_eq!(tracer.get("/healthz").0, 200);
    let (_, metrics) = tracer.get("/metrics");
    assert!(metrics.contains("sk_tracer_refused_requests_total{reason=\"too_many_exports\"} 1"), "{metrics}");

    StalledS3::answer(conn);
    let first = upload.join().unwrap();
    assert_ne!(first.status, 429, "the first export was served: {}", first.error());
    assert_eq!(request(port, "POST", "/export", &window()).status, 200, "the slot was given back");
}

/// Runs `sk-tracer run` with `config` expecting it to fail before connecting to any cluster.
fn startup_error(config: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), config).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sk-tracer"));
    cmd.args(["run", "--config"]).arg(dir.path().join("config.yaml")).args(["--kubeconfig", "/no/such/kubeconfig"]);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SK_TRACER_") {
            cmd.env_remove(name);
        }
    }
    let out = cmd.output().unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_missing_or_empty_token_file_stops_startup_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let e = startup_error(&format!("{CONFIG}server:\n  auth:\n    tokenFile: {}\n", missing.display()));
    assert!(e.contains(&format!("server.auth.tokenFile: token file {}: cannot read it", missing.display())), "{e}");
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let e = startup_error(&format!("{CONFIG}server:\n  auth:\n    tokenFile: {}\n", empty.display()));
    assert!(e.contains(&format!("server.auth.tokenFile: token file {} is empty", empty.display())), "{e}");
}

/// A private CA and a certificate it signed for 127.0.0.1 and localhost, as PEM files in `dir`:
/// `ca.pem`, `tls.crt`, `tls.key`.
fn private_ca(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "sk-tracer test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("tls.crt"), leaf.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap();
}

fn tls_config(dir: &Path, extra: &str) -> String {
    format!(
        "{CONFIG}server:\n  tls:\n    certFile: {}\n    keyFile: {}\n{extra}",
        dir.join("tls.crt").display(),
        dir.join("tls.key").display()
    )
}

#[test]
fn over_tls_the_export_client_verifies_the_tracer_and_gets_a_trace() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let pki = tempfile::tempdir().unwrap();
    private_ca(pki.path());
    std::fs::write(pki.path().join("token"), "tls-token").unwrap();
    let auth = format!("  auth:\n    tokenFile: {}\n", pki.path().join("token").display());
    let tracer = start_tracer_tls(&emu, &tls_config(pki.path(), &auth));
    emu.create(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": "d", "name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}))
        .unwrap();

    let out = tracer.dir.path().join("tls.sktrace");
    let client = |url: &str, ca: Option<&Path>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sk-tracer"));
        cmd.arg("export")
            .args(["--tracer", url, "--start", "-1h", "--out", out.to_str().unwrap()])
            .arg("--token-file")
            .arg(pki.path().join("token"))
            .env_remove("SK_TRACER_CA_FILE");
        if let Some(ca) = ca {
            cmd.arg("--ca-file").arg(ca);
        }
        let o = cmd.output().unwrap();
        (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let https = format!("https://127.0.0.1:{}", tracer.port);
    wait_until(10, "the deployment in an export over TLS", || {
        let (ok, stderr) = client(&https, Some(&pki.path().join("ca.pem")));
        assert!(ok, "{stderr}");
        applied(&sk_core::trace::decode(&std::fs::read(&out).unwrap()).unwrap(), "Deployment") == ["web"]
    });
    let (ok, stderr) = client(&format!("https://localhost:{}", tracer.port), Some(&pki.path().join("ca.pem")));
    assert!(ok, "the certificate names localhost too: {stderr}");

    // Not trusted: the system's roots do not know the private CA, and a certificate is no CA.
    let (ok, stderr) = client(&https, None);
    assert!(!ok && stderr.contains("no answer from the tracer"), "{stderr}");
    assert!(stderr.contains("UnknownIssuer") && stderr.contains("pass it with --ca-file"), "{stderr}");
    let other = tempfile::tempdir().unwrap();
    private_ca(other.path());
    let (ok, stderr) = client(&https, Some(&other.path().join("ca.pem")));
    assert!(!ok && stderr.to_lowercase().contains("certificate"), "{stderr}");
    let (ok, stderr) = client(&https, Some(&pki.path().join("tls.key")));
    assert!(!ok && stderr.contains("no PEM certificate"), "{stderr}");

    // Plain HTTP to the HTTPS port gets nothing but a pointer to https://.
    let (ok, stderr) = client(&format!("http://127.0.0.1:{}", tracer.port), None);
    assert!(!ok && stderr.contains("400") && stderr.contains("use an https:// URL"), "{stderr}");
    let r = parse_response(&exchange(tracer.port, &request_bytes("POST", "/export", &[], &window())).unwrap()).unwrap();
    assert_eq!(r.status, 400);
    assert!(r.error().contains("HTTPS only"), "{}", r.error());
}

#[test]
fn a_renewed_certificate_is_served_without_a_restart() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let pki = tempfile::tempdir().unwrap();
    private_ca(pki.path());
    let tracer = start_tracer_tls(&emu, &tls_config(pki.path(), ""));
    let https = format!("https://127.0.0.1:{}", tracer.port);
    let out = tracer.dir.path().join("t.sktrace");
    let export = |ca: &Path| {
        let o = Command::new(env!("CARGO_BIN_EXE_sk-tracer"))
            .args(["export", "--tracer", &https, "--start", "-1h", "--out", out.to_str().unwrap()])
            .arg("--ca-file")
            .arg(ca)
            .env_remove("SK_TRACER_TOKEN_FILE")
            .output()
            .unwrap();
        o.status.success()
    };
    assert!(export(&pki.path().join("ca.pem")));
    // A new CA and certificate, moved into place as a Secret update would.
    let renewed = tempfile::tempdir().unwrap();
    private_ca(renewed.path());
    std::fs::rename(renewed.path().join("tls.key"), pki.path().join("tls.key")).unwrap();
    std::fs::rename(renewed.path().join("tls.crt"), pki.path().join("tls.crt")).unwrap();
    assert!(export(&renewed.path().join("ca.pem")), "{}", tracer.log());
    assert!(!export(&pki.path().join("ca.pem")), "the old certificate is no longer served");
    // A broken renewal keeps the last good pair.
    std::fs::write(pki.path().join("tls.crt"), "not a certificate").unwrap();
    assert!(export(&renewed.path().join("ca.pem")));
    assert!(tracer.log().contains("still serving the previous pair"), "{}", tracer.log());
}

#[test]
fn a_bad_certificate_or_key_stops_startup_naming_the_file() {
    let pki = tempfile::tempdir().unwrap();
    private_ca(pki.path());
    let other = tempfile::tempdir().unwrap();
    private_ca(other.path());
    let (crt, key) = (pki.path().join("tls.crt"), pki.path().join("tls.key"));
    let config = |cert: &Path, key: &Path| {
        format!("{CONFIG}server:\n  tls:\n    certFile: {}\n    keyFile: {}\n", cert.display(), key.display())
    };
    let missing = pki.path().join("missing.crt");
    let e = startup_error(&config(&missing, &key));
    assert!(e.contains(&format!("server.tls.certFile {}: cannot read it: No such file", missing.display())), "{e}");
    let e = startup_error(&config(&key, &key));
    assert!(e.contains(&format!("server.tls.certFile {}: no PEM certificate in it", key.display())), "{e}");
    let e = startup_error(&config(&crt, &crt));
    assert!(e.contains(&format!("server.tls.keyFile {}: no PEM private key in it", crt.display())), "{e}");
    let e = startup_error(&config(&crt, &other.path().join("tls.key")));
    assert!(e.contains("server.tls: the key in") && e.contains("cannot serve the certificate in"), "{e}");
}
