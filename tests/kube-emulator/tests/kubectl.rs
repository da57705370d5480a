//! kubectl against the `kube-emulator` binary: create, apply twice (create, then a strategic
//! merge update), scale, patch of the status subresource, get with selectors and chunking, get -w,
//! delete; and every `kubectl create <generator>`, whose bodies are protobuf. Skipped (with a note)
//! where kubectl is not installed.

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::Value;

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
        // Before the arguments: after a `--` it would be part of a container's command.
        cmd.arg("--request-timeout=10s").args(args).env("KUBECONFIG", self.kubeconfig.path());
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

/// `kubectl create` arguments, the kind and name to get, and a field of the object that only the
/// request body can have set, with its value.
const GENERATORS: &[(&[&str], &str, &str, &str, &str)] = &[
    (&["namespace", "team-a"], "namespace", "team-a", "/metadata/name", "\"team-a\""),
    (
        &["deployment", "web", "--image=nginx:1.27", "--replicas=0", "--port=8080"],
        "deployment",
        "web",
        "/spec/template/spec/containers/0",
        r#"{"name":"nginx","image":"nginx:1.27","ports":[{"containerPort":8080}],"resources":{}}"#,
    ),
    (
        &["job", "once", "--image=busybox", "--", "echo", "hi"],
        "job",
        "once",
        "/spec/template/spec/containers/0/command",
        r#"["echo","hi"]"#,
    ),
    (
        &["cronjob", "nightly", "--image=busybox", "--schedule=0 3 * * *", "--restart=OnFailure", "--", "date"],
        "cronjob",
        "nightly",
        "/spec/schedule",
        "\"0 3 * * *\"",
    ),
    (
        &["configmap", "settings", "--from-literal=mode=fast", "--from-literal=level=3"],
        "configmap",
        "settings",
        "/data",
        r#"{"level":"3","mode":"fast"}"#,
    ),
    (&["secret", "generic", "token", "--from-literal=key=s3cret"], "secret", "token", "/data/key", "\"czNjcmV0\""),
    (
        &[
            "secret",
            "docker-registry",
            "pull",
            "--docker-server=registry.test",
            "--docker-username=u",
            "--docker-password=p",
        ],
        "secret",
        "pull",
        "/type",
        "\"kubernetes.io/dockerconfigjson\"",
    ),
    (&["service", "clusterip", "api", "--tcp=80:8080"], "service", "api", "/spec/ports/0/targetPort", "8080"),
    (
        &["service", "nodeport", "edge", "--tcp=80:8080", "--node-port=30080"],
        "service",
        "edge",
        "/spec/ports/0/nodePort",
        "30080",
    ),
    (&["service", "loadbalancer", "front", "--tcp=443:8443"], "service", "front", "/spec/type", "\"LoadBalancer\""),
    (
        &["service", "externalname", "db", "--external-name=db.example.test"],
        "service",
        "db",
        "/spec/externalName",
        "\"db.example.test\"",
    ),
    (&["serviceaccount", "robot"], "serviceaccount", "robot", "/metadata/name", "\"robot\""),
    (
        &["clusterrole", "reader", "--verb=get,list", "--resource=pods"],
        "clusterrole",
        "reader",
        "/rules",
        r#"[{"apiGroups":[""],"resources":["pods"],"verbs":["get","list"]}]"#,
    ),
    (
        &["clusterrolebinding", "read-all", "--clusterrole=reader", "--user=alice"],
        "clusterrolebinding",
        "read-all",
        "/subjects",
        r#"[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"alice"}]"#,
    ),
    (
        &["role", "cm-reader", "--verb=get", "--resource=configmaps"],
        "role",
        "cm-reader",
        "/rules/0/resources",
        r#"["configmaps"]"#,
    ),
    (
        &["rolebinding", "robot-reads", "--role=cm-reader", "--serviceaccount=default:robot"],
        "rolebinding",
        "robot-reads",
        "/subjects/0",
        r#"{"kind":"ServiceAccount","name":"robot","namespace":"default"}"#,
    ),
    // A value without `omitempty`: zero is kept.
    (&["priorityclass", "low", "--value=0", "--description=batch work"], "priorityclass", "low", "/value", "0"),
    (
        &["quota", "small", "--hard=pods=10,requests.cpu=500m"],
        "resourcequota",
        "small",
        "/spec/hard",
        r#"{"pods":"10","requests.cpu":"500m"}"#,
    ),
    (
        &["poddisruptionbudget", "web", "--selector=app=web", "--min-available=50%"],
        "poddisruptionbudget",
        "web",
        "/spec/minAvailable",
        "\"50%\"",
    ),
    (
        &["ingress", "site", "--rule=site.test/app*=api:80"],
        "ingress",
        "site",
        "/spec/rules/0/http/paths/0",
        r#"{"backend":{"service":{"name":"api","port":{"number":80}}},"path":"/app","pathType":"Prefix"}"#,
    ),
];

/// What the server adds to an object: left out where objects are compared.
fn without_server_fields(mut obj: Value, keep_namespace: bool) -> Value {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in ["uid", "resourceVersion", "generation", "creationTimestamp", "managedFields"] {
            meta.remove(field);
        }
        if !keep_namespace {
            meta.remove("namespace");
        }
    }
    obj
}

#[test]
fn kubectl_create_generators_send_protobuf_and_the_objects_are_what_kubectl_meant() {
    if !kubectl_present() {
        eprintln!("skipped: kubectl is not installed");
        return;
    }
    let s = start();
    let tls = rcgen::generate_simple_self_signed(vec!["site.test".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert, tls.cert.pem()).unwrap();
    std::fs::write(&key, tls.signing_key.serialize_pem()).unwrap();
    let cert_arg = format!("--cert={}", cert.display());
    let key_arg = format!("--key={}", key.display());
    let tls_args = ["secret", "tls", "site-tls", cert_arg.as_str(), key_arg.as_str()];
    let tls_crt = Value::from(base64::engine::general_purpose::STANDARD.encode(tls.cert.pem())).to_string();
    let mut cases: Vec<(&[&str], &str, &str, &str, &str)> = GENERATORS.to_vec();
    cases.push((&tls_args, "secret", "site-tls", "/data/tls.crt", &tls_crt));

    for (args, kind, name, pointer, expected) in cases {
        // kubectl's own JSON of the object it builds, before any server sees it.
        let dry: Value =
            serde_json::from_str(&s.ok(&[&["create", "--dry-run=client", "-o", "json"], args].concat(), None)).unwrap();
        let out = s.kubectl(&[&["create", "-v=8"], args].concat(), None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "kubectl create {args:?}: {stderr}");
        assert!(
            stderr.contains("Content-Type: application/vnd.kubernetes.protobuf"),
            "kubectl create {args:?} sent protobuf: {stderr}"
        );

        let got: Value = serde_json::from_str(&s.ok(&["get", kind, name, "-o", "json"], None)).unwrap();
        let expected: Value = serde_json::from_str(expected).unwrap();
        assert_eq!(got.pointer(pointer), Some(&expected), "{kind} {name} at {pointer}: {got}");
        assert_eq!(got["metadata"]["uid"].as_str().map(str::is_empty), Some(false), "{got}");
        let keep_namespace = dry.pointer("/metadata/namespace").is_some();
        assert_eq!(without_server_fields(got, keep_namespace), without_server_fields(dry, true), "{kind} {name}");
    }
    // Zero kept where Go keeps it: a Deployment of no replicas is not one of the default one.
    assert_eq!(s.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"], None), "0");
}
