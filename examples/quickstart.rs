//! The quickstart: a whole sk-tracer session without a cluster.
//!
//! Starts a Kubernetes API emulator in this process with a scripted workload (Deployments created,
//! scaled and rolled out; a Job and a CronJob running pods to completion; a Volcano-style job with
//! two task templates), runs the real tracer pipeline and HTTP server against it, exports the trace
//! through `POST /export` to `./quickstart.sktrace`, and prints what `sk-tracer inspect` would.
//!
//! Run it with `cargo run --release --example quickstart`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use kube_emulator::controllers::{now, template};
use kube_emulator::Emulator;
use sk_core::trace::summary::TraceSummary;
use sk_tracer::runtime::{Runtime, Started};
use sk_tracer::server::{self, ServerMetrics, ServerState};

const CONFIG: &str = "trackedObjects:
  apps/v1.Deployment:
    trackLifecycle: true
  batch/v1.Job:
    trackLifecycle: true
  batch/v1.CronJob:
    trackLifecycle: true
  batch.volcano.sh/v1alpha1.Job:
    podSpecTemplatePath: /spec/tasks/*/template
    trackLifecycle: true
retention:
  maxAge: 1h
  maxBytes: 1GiB
";

/// How long the scripted workload pauses between steps; changes in one second merge into one event.
struct Pace(Duration);

impl Pace {
    async fn step(&self, what: &str) {
        println!("  {what}");
        tokio::time::sleep(self.0).await;
    }
}

fn names(pods: &[serde_json::Value]) -> Vec<(String, String)> {
    pods.iter()
        .map(|p| {
            (
                p["metadata"]["namespace"].as_str().unwrap_or("").to_string(),
                p["metadata"]["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn running_pods(emu: &Emulator, ns: &str, prefix: &str) -> Vec<(String, String)> {
    let pods = emu.list("v1", "Pod", Some(ns));
    names(&pods).into_iter().filter(|(_, n)| n.starts_with(prefix)).collect()
}

async fn workload(emu: &Emulator, pace: &Pace) -> anyhow::Result<()> {
    let err = |e: kube_emulator::ApiError| anyhow::anyhow!("{e}");
    emu.create_deployment("shop", "web", 2, template("web", "nginx:1.27")).map_err(err)?;
    emu.create_deployment("shop", "cache", 1, template("cache", "redis:7")).map_err(err)?;
    for (ns, p) in running_pods(emu, "shop", "") {
        emu.set_pod_running(&ns, &p, now()).map_err(err)?;
    }
    pace.step("created Deployments shop/web (2 pods) and shop/cache (1 pod)").await;

    emu.scale_deployment("shop", "web", 4).map_err(err)?;
    for (ns, p) in running_pods(emu, "shop", "web-") {
        emu.set_pod_running(&ns, &p, now()).map_err(err)?;
    }
    pace.step("scaled shop/web to 4").await;

    let (_, batch) = emu.create_job("batch", "report", 2, template("report", "busybox")).map_err(err)?;
    emu.create_cronjob("batch", "nightly", "0 3 * * *", 1, template("nightly", "busybox")).map_err(err)?;
    let (_, cron) = emu.run_cronjob_once("batch", "nightly").map_err(err)?;
    let (_, training) = emu
        .create_custom_job(
            "ml",
            "train",
            &[("ps", 1, template("ps", "trainer:2")), ("worker", 2, template("worker", "trainer:2"))],
        )
        .map_err(err)?;
    for (ns, p) in names(&batch).iter().chain(&names(&cron)).chain(&names(&training)) {
        emu.set_pod_running(ns, p, now()).map_err(err)?;
    }
    pace.step("started Job batch/report, CronJob batch/nightly's run, Volcano job ml/train (ps + 2 workers)").await;

    emu.update_deployment_template("shop", "web", template("web", "nginx:1.28")).map_err(err)?;
    for (ns, p) in running_pods(emu, "shop", "web-") {
        emu.set_pod_running(&ns, &p, now()).map_err(err)?;
    }
    pace.step("rolled shop/web out to nginx:1.28 (a new ReplicaSet, a new pod hash)").await;

    for (ns, p) in names(&batch).iter().chain(&names(&cron)).chain(&names(&training)) {
        emu.set_pod_terminated(ns, p, now(), 0).map_err(err)?;
    }
    pace.step("the batch pods and the training job completed").await;

    emu.delete_deployment("shop", "cache").map_err(err)?;
    pace.step("deleted shop/cache").await;
    Ok(())
}

async fn export(port: u16, start: i64, end: i64) -> anyhow::Result<Vec<u8>> {
    let body = serde_json::json!({"start_ts": start, "end_ts": end, "format": "v1", "filters": {"excluded_namespaces": ["kube-system"]}});
    let request = hyper::Request::post(format!("http://127.0.0.1:{port}/export"))
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from(body.to_string())))?;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let response = client.request(request).await.context("POST /export")?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes().to_vec();
    anyhow::ensure!(status.is_success(), "export failed ({status}): {}", String::from_utf8_lossy(&bytes));
    Ok(bytes)
}

/// Runs the quickstart and returns the exported trace's bytes.
pub async fn run(pace: Duration, out: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let emu = Emulator::start().await?;
    emu.register_kind(kube_emulator::kinds::volcano_job());
    println!("API emulator serving {}", emu.url());

    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("config.yaml"), CONFIG)?;
    let config = sk_config::Loader::new().file(dir.path().join("config.yaml")).load()?;
    let runtime = Runtime::from_config(&config)?;
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&emu.kubeconfig_yaml())?;
    let cluster = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
    let Started { tracer, exports } = runtime.start(cluster, None);
    let state = Arc::new(ServerState {
        metrics: ServerMetrics::new(&tracer),
        tracer,
        exports,
        auth: None,
        role: sk_tracer::role::Role::alone(),
        readiness_grace: config.server.readiness_grace,
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(server::serve(listener, None, state.clone(), std::future::pending(), Duration::from_secs(1)));
    for _ in 0..100 {
        if state.tracer.not_ready(config.server.readiness_grace).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("sk-tracer watching {} kinds and every pod; the workload:", config.tracer.tracked_objects.len());

    let start = now();
    workload(&emu, &Pace(pace)).await?;
    // Let the last watch events arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let trace = export(port, start, now() + 1).await?;
    std::fs::write(out, &trace).with_context(|| format!("writing {}", out.display()))?;
    println!("\nexported {} bytes to {}\n", trace.len(), out.display());
    print!("{}", TraceSummary::of(&sk_core::trace::decode(&trace)?));
    Ok(trace)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    run(Duration::from_millis(1500), std::path::Path::new("quickstart.sktrace")).await?;
    println!("\nnext: sk-tracer inspect --json quickstart.sktrace | less");
    Ok(())
}

#[cfg(test)]
mod tests {
    use sk_core::trace::summary::TraceSummary;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_shortened_quickstart_exports_the_expected_trace() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("quickstart.sktrace");
        super::run(std::time::Duration::from_millis(1050), &out).await.unwrap();
        let trace = sk_core::trace::decode(&std::fs::read(&out).unwrap()).unwrap();
        let s = TraceSummary::of(&trace);
        assert_eq!(s.kinds["apps/v1.Deployment"].objects, 2, "{s}");
        assert_eq!(s.kinds["apps/v1.Deployment"].deletions, 1, "{s}");
        assert!(s.kinds["batch/v1.Job"].objects == 1, "the report Job; the CronJob's Job is left out: {s}");
        assert_eq!(s.kinds["batch/v1.CronJob"].objects, 1, "{s}");
        assert_eq!(s.kinds["batch.volcano.sh/v1alpha1.Job"].objects, 1, "{s}");
        assert_eq!(s.owners["shop/web"].pod_hashes, 2, "two templates of web: {s}");
        assert_eq!(s.owners["ml/train"].pod_hashes, 2, "two task templates: {s}");
        assert_eq!(s.owners["ml/train"].running, 0, "{s}");
        assert_eq!(s.owners["batch/nightly"].pods, 1, "{s}");
    }
}
