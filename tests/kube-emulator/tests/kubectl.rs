//! kubectl against the `kube-emulator` binary: create, apply twice (create, then a strategic
//! merge update), scale, patch of the status subresource, get with selectors and chunking, get -w,
//! delete. Skipped (with a note) where kubectl is not installed.

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    kubeconfig: tempfile::NamedTempFile,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kubectl_present() -> bool {
    Command::new("kubectl").arg("version").arg("--client").output().is_ok_and(|o| o.status.success())
}

fn start() -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let kubeconfig = tempfile::NamedTempFile::new().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_kube-emulator"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--write-kubeconfig"])
        .arg(kubeconfig.path())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        || std::fs::metadata(kubeconfig.path()).map(|m| m.len()).unwrap_or(0) == 0
    {
        assert!(Instant::now() < deadline, "the emulator did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, kubeconfig }
}

impl Server {
    fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new("kubectl");
        cmd.args(args).arg("--request-timeout=10s").env("KUBECONFIG", self.kubeconfig.path());
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = stdin {
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl(args, stdin);
        assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: 'nginx:1.27'}
      - {name: sidecar, image: busybox}
";

#[test]
fn kubectl_works_against_the_binary() {
    if !kubectl_present() {
        eprintln!("skipped: kubectl is not installed");
        return;
    }
    let s = start();
    assert!(s.ok(&["apply", "-f", "-"], Some(DEPLOYMENT)).contains("deployment.apps/web created"));
    // The second apply is a strategic merge patch: the sidecar goes, the image changes.
    let updated =
        DEPLOYMENT.replace("nginx:1.27", "nginx:1.28").replace("      - {name: sidecar, image: busybox}\n", "");
    assert!(s.ok(&["apply", "-f", "-"], Some(&updated)).contains("configured"));
    let containers = s.ok(
        &["get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[*].image} {.metadata.generation}"],
        None,
    );
    assert_eq!(containers, "nginx:1.28 2");

    assert!(s.ok(&["scale", "deploy", "web", "--replicas=3"], None).contains("scaled"));
    assert_eq!(s.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"], None), "3");
    s.ok(
        &["patch", "deploy", "web", "--subresource=status", "--type=merge", "-p", r#"{"status":{"readyReplicas":2}}"#],
        None,
    );
    assert_eq!(s.ok(&["get", "deploy", "web", "-o", "jsonpath={.status.readyReplicas}"], None), "2");

    for i in 1..=5 {
        let tier = if i % 2 == 0 { "gold" } else { "silver" };
        let cm = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm{i}\n  namespace: default\n  labels: {{tier: {tier}}}\ndata: {{k: v}}\n");
        assert!(s.ok(&["create", "-f", "-"], Some(&cm)).contains("created"));
    }
    let gold = s.ok(&["get", "cm", "-l", "tier=gold", "-o", "name"], None);
    assert_eq!(gold.lines().collect::<Vec<_>>(), ["configmap/cm2", "configmap/cm4"]);
    let not_gold = s.ok(&["get", "cm", "-l", "tier notin (gold)", "-o", "name"], None);
    assert_eq!(not_gold.lines().count(), 3);
    assert_eq!(
        s.ok(&["get", "cm", "--field-selector", "metadata.name=cm3", "-o", "name"], None).trim(),
        "configmap/cm3"
    );
    assert_eq!(s.ok(&["get", "cm", "--chunk-size=2", "-o", "name"], None).lines().count(), 5);

    // get -w sees a change and a deletion, then stops at its request timeout.
    let mut watch = Command::new("kubectl")
        .args(["get", "cm", "-w", "-o", "name", "--request-timeout=3s"])
        .env("KUBECONFIG", s.kubeconfig.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    s.ok(&["label", "cm", "cm1", "touched=yes"], None);
    assert!(s.ok(&["delete", "cm", "cm5"], None).contains("deleted"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while watch.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = watch.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = watch.wait_with_output().unwrap();
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(seen.matches("configmap/cm1").count() >= 2, "the label change shows: {seen}");
    assert!(seen.matches("configmap/cm5").count() >= 2, "the deletion shows: {seen}");
    assert!(s.kubectl(&["get", "cm", "cm5"], None).status.code() != Some(0));
}
