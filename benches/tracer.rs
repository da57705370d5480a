//! The tracer's benchmark: ingest, memory, export, apiserver load and hashing, each against a
//! baseline measured in the same run. Prints a table and writes it as JSON.
//!
//! `cargo bench --bench tracer -- [small|medium|large] [--json FILE] [--export-runs N] [--ingest-runs N]
//! [--steady-secs N] [--deployments N]`
//!
//! The workload (Deployments with full pod templates created, scaled and rolled out, their
//! ReplicaSets, pods going Pending → Running and deleted by scale-downs and rollouts, Volcano-style
//! jobs with two templates whose pods end Succeeded or Failed) is written into an API emulator's
//! history first; the baseline (reading and JSON-decoding the watch streams) and the tracer's ingest
//! (the same streams decoded as the tracer's watches decode them, then sanitised, owner-resolved and
//! stored) then replay that history over HTTP, so the writer never limits either.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use kube_emulator::Emulator;
use serde_json::{json, Value};
use sk_core::export::Window;
use sk_core::export::{build_filters, export, AllOf, ExportRequest, TraceFormat};
use sk_core::sources::lean_watch::{self, Line, OwnerMeta, Watched};
use sk_core::sources::{Change, ChangeKind, Payload, RawObject};
use sk_core::store::Store;
use sk_core::tracer::{Ingest, Metrics, Pipeline};
use sk_core::{Gvk, TracerConfig};
use sk_tracer::runtime::Runtime;

use support::args::option;
use support::process::{process_memory, process_usage};
use support::workload::{start_new_pods, PodStart};
// Links the built-in sanitisers.
use sk_plugins as _;

#[path = "../tests/support/mod.rs"]
mod support;

/// Counts live and peak heap bytes of every thread but the emulator's: in a cluster the
/// apiserver's memory is not the tracer's. Allocates with the binary's allocator (mimalloc), so
/// that the store is laid out in memory as the tracer lays it out.
///
/// Each thread sums its own allocations and adds them to the shared count only once they reach
/// [`FLUSH_AT`] bytes either way. Added to one shared atomic at every allocation, the count was
/// itself what slowed ingest while exports ran: every allocation on one core took the counter's
/// cache line from the other, and decoding one event makes hundreds. The shared count is exact
/// to within `FLUSH_AT` per counting thread.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

/// Bytes a thread counts before adding them to [`LIVE`]: 64 KiB, against the 14 MB held at
/// medium scale.
const FLUSH_AT: isize = 64 * 1024;

thread_local! {
    static UNCOUNTED: Cell<bool> = const { Cell::new(false) };
    /// Bytes this thread allocated, less those it freed, since it last added them to [`LIVE`].
    static PENDING: Cell<isize> = const { Cell::new(0) };
}

fn counted() -> bool {
    !UNCOUNTED.try_with(Cell::get).unwrap_or(false)
}

fn add_to_live(delta: isize) {
    let now = LIVE.fetch_add(delta, Ordering::Relaxed) + delta;
    if delta > 0 {
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

fn count(delta: isize) {
    if !counted() {
        return;
    }
    let batched = PENDING.try_with(|p| {
        let pending = p.get() + delta;
        if pending.abs() >= FLUSH_AT {
            p.set(0);
            add_to_live(pending);
        } else {
            p.set(pending);
        }
    });
    // A thread whose locals are gone (it is exiting) counts straight into the shared total.
    if batched.is_err() {
        add_to_live(delta);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { mimalloc::MiMalloc.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// The shared count, with the calling thread's own allocations added to it first.
fn live() -> isize {
    let _ = PENDING.try_with(|p| add_to_live(p.replace(0)));
    LIVE.load(Ordering::Relaxed)
}

/// CPU time of the calling thread: the consumer's own work, not the emulator's.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

struct Scale {
    name: &'static str,
    deployments: usize,
    replicas: usize,
    volcano_jobs: usize,
}

fn scale(name: &str) -> Scale {
    match name {
        // About 70 changes per Deployment with its share of jobs: 100k changes, and 1M.
        "medium" => Scale { name: "medium", deployments: 1400, replicas: 5, volcano_jobs: 70 },
        "large" => Scale { name: "large", deployments: 14_000, replicas: 5, volcano_jobs: 700 },
        _ => Scale { name: "small", deployments: 14, replicas: 5, volcano_jobs: 1 },
    }
}

#[path = "workload/template.rs"]
mod pod_template;
use pod_template::template;

/// What `write_workload` wrote.
struct Workload {
    /// Watch events it made, every kind's.
    events: u64,
    /// Namespaces holding its pods.
    namespaces: Vec<String>,
    /// When it started, unix seconds.
    clock_base: i64,
}

/// Writes the workload, as a day of a busy cluster's controllers would: Deployments created, their
/// pods started; then every Deployment scaled (up by three pods or down by two) and rolled out to
/// a new image (a new ReplicaSet, the old pods deleted, new ones started), with the status its
/// controllers report as each step starts and once its pods run; Volcano jobs whose pods run and
/// end Succeeded, or Failed one in ten; at the end one Deployment in ten deleted, and its
/// ReplicaSets and pods after it one by one, as the garbage collector does. Every object carries
/// the managed fields the apiserver writes.
fn write_workload(emu: &Emulator, s: &Scale) -> Workload {
    let start_rv = emu.resource_version();
    // Spread over namespaces, as teams are: a namespace per ten Deployments, or ten jobs.
    let team = |d: usize| (format!("team{}", d / 10), format!("app{d}"));
    let mut namespaces: Vec<String> = (0..s.deployments).step_by(10).map(|d| team(d).0).collect();
    namespaces.extend((0..s.volcano_jobs).step_by(10).map(|j| format!("ml{}", j / 10)));
    let sync_all = || {
        for d in 0..s.deployments {
            let (ns, name) = team(d);
            emu.sync_deployment_status(&ns, &name).expect("writing the workload");
        }
    };
    let t0 = kube_emulator::controllers::now();
    for j in 0..s.volcano_jobs {
        let tasks = [("ps", 1, template("ps", "trainer:2")), ("worker", 3, template("worker", "trainer:2"))];
        emu.create_custom_job(&format!("ml{}", j / 10), &format!("train{j}"), &tasks).expect("writing the workload");
    }
    for d in 0..s.deployments {
        let (ns, name) = team(d);
        emu.create_deployment(&ns, &name, s.replicas, template(&name, "registry.example.com/app:1.0"))
            .expect("writing the workload");
    }
    sync_all();
    start_new_pods(emu, &namespaces, t0, PodStart::AfterWaiting);
    sync_all();
    for d in 0..s.deployments {
        let (ns, name) = team(d);
        let replicas = if d % 2 == 0 { s.replicas + 3 } else { s.replicas.saturating_sub(2).max(1) };
        emu.scale_deployment(&ns, &name, replicas).expect("writing the workload");
    }
    sync_all();
    start_new_pods(emu, &namespaces, t0 + 30, PodStart::AfterWaiting);
    sync_all();
    for d in 0..s.deployments {
        let (ns, name) = team(d);
        emu.update_deployment_template(&ns, &name, template(&name, "registry.example.com/app:1.1"))
            .expect("writing the workload");
    }
    sync_all();
    start_new_pods(emu, &namespaces, t0 + 60, PodStart::AfterWaiting);
    sync_all();
    for ns in namespaces.iter().filter(|ns| ns.starts_with("ml")) {
        for (i, pod) in emu.list("v1", "Pod", Some(ns)).iter().enumerate() {
            let name = pod["metadata"]["name"].as_str().unwrap_or_default();
            let exit_code = if i % 10 == 9 { 1 } else { 0 };
            emu.set_pod_terminated(ns, name, t0 + 600, exit_code).expect("writing the workload");
        }
    }
    for d in (0..s.deployments).step_by(10) {
        let (ns, name) = team(d);
        emu.delete_deployment(&ns, &name).expect("writing the workload");
    }
    Workload { events: emu.resource_version() - start_rv, namespaces, clock_base: t0 }
}

/// Reads a watch stream from `rv` until `n` events, handing each line to `f`.
async fn replay(url: String, n: usize, metadata_only: bool, mut f: impl FnMut(&[u8])) -> usize {
    let client = Client::builder(TokioExecutor::new()).build_http::<http_body_util::Full<bytes::Bytes>>();
    let mut req = hyper::Request::get(url).body(http_body_util::Full::default()).unwrap_or_default();
    if metadata_only {
        req.headers_mut()
            .insert("accept", "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1".parse().unwrap());
    }
    let mut body = client.request(req).await.expect("a watch").into_body();
    let (mut seen, mut buf) = (0usize, Vec::<u8>::new());
    while seen < n {
        let Some(Ok(frame)) = body.frame().await else { break };
        let Some(data) = frame.data_ref() else { continue };
        buf.extend_from_slice(data);
        let mut start = 0;
        while let Some(pos) = buf[start..].iter().position(|b| *b == b'\n') {
            f(&buf[start..start + pos]);
            seen += 1;
            start += pos + 1;
        }
        buf.drain(..start);
    }
    seen
}

fn watch_url(emu: &Emulator, path: &str) -> String {
    format!("{}{path}?watch=1&resourceVersion=1&timeoutSeconds=120", emu.url())
}

/// The streams a tracer with the benchmark config reads: (path, metadata-only, gvk). Replayed one
/// after another in this order, which keeps the tracked kinds' changes in time order: the jobs
/// were written before the Deployments (ReplicaSets and pods are not stored as objects).
fn streams() -> Vec<(&'static str, bool, Gvk)> {
    vec![
        ("/apis/apps/v1/replicasets", true, Gvk::new("apps", "v1", "ReplicaSet")),
        ("/apis/batch.volcano.sh/v1alpha1/jobs", false, Gvk::new("batch.volcano.sh", "v1alpha1", "Job")),
        ("/apis/apps/v1/deployments", false, Gvk::new("apps", "v1", "Deployment")),
        ("/api/v1/pods", false, Gvk::new("", "v1", "Pod")),
    ]
}

/// Changes a second in the replay's clock. The history is replayed in seconds, but the tracer
/// records at most one version of an object per second, so a replay timed by the wall clock
/// would keep one version of each Deployment where the cluster made three. Each change is
/// recorded at the time its resource version gives, as if the workload had been written over
/// hours (a busy cluster's rate).
const CHANGES_PER_SECOND: i64 = 10;

/// The history the replays read: how many changes each stream holds, and when the clock starts.
struct History {
    per_stream: Vec<usize>,
    clock_base: i64,
}

impl History {
    fn clock(&self, resource_version: Option<&str>) -> i64 {
        let rv: i64 = resource_version.and_then(|rv| rv.parse().ok()).unwrap_or_default();
        self.clock_base + rv / CHANGES_PER_SECOND
    }
}

struct Measured {
    events: usize,
    wall: Duration,
    cpu: Duration,
}

async fn baseline(emu: &Emulator, per_stream: &[usize]) -> Measured {
    let (t, cpu) = (Instant::now(), thread_cpu());
    let mut events = 0;
    for ((path, meta, _), n) in streams().iter().zip(per_stream) {
        events += replay(watch_url(emu, path), *n, *meta, |line| {
            let v: Value = serde_json::from_slice(line).expect("JSON");
            std::hint::black_box(v);
        })
        .await;
    }
    Measured { events, wall: t.elapsed(), cpu: thread_cpu() - cpu }
}

/// The tracer's config with every other setting at its default, as `run` would load it.
fn whole_config() -> sk_config::Config {
    support::config::load("trackedObjects:\n  apps/v1.Deployment:\n    trackLifecycle: true\n  batch.volcano.sh/v1alpha1.Job:\n    podSpecTemplatePath: /spec/tasks/*/template\n    trackLifecycle: true\n")
}

fn config() -> TracerConfig {
    whole_config().tracer
}

/// The filters every measured export applies, as a request names them: one team's namespace
/// left out, a label selector, and DaemonSets' pods; every object is checked against them.
fn export_filters(config: &TracerConfig) -> AllOf {
    let requested = json!({
        "excluded_namespaces": ["team0"],
        "excluded_labels": [{"matchExpressions": [{"key": "tier", "operator": "In", "values": ["test", "canary"]}]}],
        "exclude_daemonsets": true,
    });
    let Value::Object(requested) = requested else { unreachable!("an object literal") };
    build_filters(&serde_json::Map::new(), &requested, config).expect("export filters")
}

/// An export of everything recorded, in the default format, delivered in the response.
fn whole_window() -> ExportRequest {
    ExportRequest {
        start_ts: 0,
        end_ts: i64::MAX,
        export_path: None,
        filters: serde_json::Map::new(),
        format: Some(TraceFormat::V1),
        transform: None,
    }
}

/// The default stages, built as `run` builds them.
fn pipeline() -> Pipeline {
    Runtime::from_config(&whole_config()).expect("the default stages").pipeline
}

/// A watch line's object as its watch decodes it, and whether it was deleted; `None` for
/// bookmarks and errors.
fn applied_or_deleted<O: Watched>(line: &[u8]) -> Option<(bool, O)> {
    match lean_watch::line::<O>(line).expect("event") {
        Line::Added(l) | Line::Modified(l) => Some((false, l.object)),
        Line::Deleted(l) => Some((true, l.object)),
        Line::Bookmark { .. } | Line::Error { .. } => None,
    }
}

/// One watch event's line through the tracer: decoded as its watch decodes it (`RawObject`, or
/// `OwnerMeta` for the metadata-only ReplicaSets), then the ingest loop.
fn feed(ingest: &mut Ingest, history: &History, meta: bool, gvk: &Gvk, line: &[u8]) {
    let (at, deleted, payload) = if meta {
        let Some((deleted, o)) = applied_or_deleted::<OwnerMeta>(line) else { return };
        let at = history.clock(o.resource_version());
        (at, deleted, o.into_payload(gvk))
    } else {
        let Some((deleted, o)) = applied_or_deleted::<RawObject>(line) else { return };
        let at = history.clock(o.metadata.resource_version.as_deref());
        (at, deleted, Payload::Raw(Box::new(o)))
    };
    let kind = if deleted { ChangeKind::Deleted(payload) } else { ChangeKind::Applied(payload) };
    let wanted = ingest.handle(Change { gvk: gvk.clone(), at, kind });
    assert!(wanted.is_empty() || wanted.iter().all(|g| g.kind == "ReplicaSet"), "{wanted:?}");
}

fn new_ingest(store: Arc<Store>) -> (Ingest, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::default());
    (Ingest::new(Arc::new(config()), Arc::new(pipeline()), store, metrics.clone()), metrics)
}

async fn ingest(emu: &Emulator, history: &History, store: Arc<Store>) -> Measured {
    let (mut ingest, _) = new_ingest(store);
    let (t, cpu) = (Instant::now(), thread_cpu());
    let mut events = 0;
    for ((path, meta, gvk), n) in streams().iter().zip(&history.per_stream) {
        events += replay(watch_url(emu, path), *n, *meta, |line| feed(&mut ingest, history, *meta, gvk, line)).await;
    }
    assert_eq!(ingest.pending_pods(), 0, "every pod found its owner");
    Measured { events, wall: t.elapsed(), cpu: thread_cpu() - cpu }
}

/// A watch event's resource version, read without decoding the rest.
fn resource_version(line: &[u8]) -> u64 {
    #[derive(serde::Deserialize)]
    struct Event {
        object: Obj,
    }
    #[derive(serde::Deserialize)]
    struct Obj {
        metadata: Meta,
    }
    #[derive(serde::Deserialize)]
    struct Meta {
        #[serde(rename = "resourceVersion")]
        resource_version: String,
    }
    serde_json::from_slice::<Event>(line)
        .ok()
        .and_then(|e| e.object.metadata.resource_version.parse().ok())
        .unwrap_or(0)
}

/// What happened to one event, for the per-event table.
fn category(gvk: &Gvk, meta: bool, line: &[u8], recorded: bool, decoded_whole: bool) -> String {
    let kind = if gvk.kind == "Job" { "Volcano job" } else { gvk.kind.as_str() };
    let deleted = line.starts_with(b"{\"type\":\"DELETED\"");
    let added = line.starts_with(b"{\"type\":\"ADDED\"");
    let what = match (meta, gvk.kind.as_str()) {
        (true, _) => "owner only (metadata watch)",
        (false, "Pod") if decoded_whole => "first lifecycle: decoded whole, hash taken",
        (false, "Pod") if added => "created, no lifecycle yet: read in part",
        (false, "Pod") if deleted => "deleted: read in part",
        (false, "Pod") => "status: lifecycle only, read in part",
        _ if deleted => "deleted",
        _ if recorded => "recorded",
        _ => "unchanged for the trace (status, managedFields), dropped",
    };
    format!("{kind}: {what}")
}

/// CPU per watch event by kind and by what happened to it, against decoding the same event's
/// bytes once into a `serde_json::Value`: every stream's events captured, merged in resource
/// version order (the order a live tracer sees them in), then fed through the watch decode and
/// the ingest loop one at a time, each event timed both ways (which goes first alternates).
/// Medians of `runs` passes, each into a fresh store.
async fn per_event(emu: &Emulator, history: &History, runs: usize) -> Value {
    let mut lines: Vec<(u64, usize, Vec<u8>)> = Vec::new();
    for (i, ((path, meta, _), n)) in streams().iter().zip(&history.per_stream).enumerate() {
        replay(watch_url(emu, path), *n, *meta, |line| lines.push((resource_version(line), i, line.to_vec()))).await;
    }
    lines.sort_by_key(|(rv, _, _)| *rv);
    let streams = streams();
    let mut totals: std::collections::BTreeMap<String, Vec<(Duration, Duration)>> = Default::default();
    let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
    for run in 0..runs.max(1) {
        let (mut ingest, metrics) = new_ingest(Arc::new(Store::new()));
        let mut sums: std::collections::BTreeMap<String, (Duration, Duration)> = Default::default();
        for (i, (_, stream, line)) in lines.iter().enumerate() {
            let (_, meta, gvk) = &streams[*stream];
            let before = metrics.recorded.load(Ordering::Relaxed);
            let whole_before = metrics.decoded_whole.load(Ordering::Relaxed);
            let floor = || {
                let t = Instant::now();
                std::hint::black_box(serde_json::from_slice::<Value>(line).expect("JSON"));
                t.elapsed()
            };
            let (floor_time, tracer_time) = if (i + run) % 2 == 0 {
                let f = floor();
                let t = Instant::now();
                feed(&mut ingest, history, *meta, gvk, line);
                (f, t.elapsed())
            } else {
                let t = Instant::now();
                feed(&mut ingest, history, *meta, gvk, line);
                let d = t.elapsed();
                (floor(), d)
            };
            let recorded = metrics.recorded.load(Ordering::Relaxed) > before;
            let decoded_whole = metrics.decoded_whole.load(Ordering::Relaxed) > whole_before;
            let c = category(gvk, *meta, line, recorded, decoded_whole);
            let e = sums.entry(c.clone()).or_default();
            e.0 += tracer_time;
            e.1 += floor_time;
            if run == 0 {
                *counts.entry(c).or_default() += 1;
            }
        }
        for (c, v) in sums {
            totals.entry(c).or_default().push(v);
        }
    }
    let mut out = serde_json::Map::new();
    for (c, mut runs) in totals {
        runs.sort_by_key(|(t, f)| t.as_nanos() * 1000 / f.as_nanos().max(1));
        let (tracer, floor) = runs[runs.len() / 2];
        let n = counts.get(&c).copied().unwrap_or(1).max(1) as f64;
        // A recorded change: a new version, a deletion, a pod's first lifecycle.
        let target = if c.contains(": recorded")
            || c.contains("deleted") && !c.contains("read in part")
            || c.contains("hash taken")
        {
            Some(3.0)
        } else if c.contains("dropped") || c.contains("read in part") || c.contains("owner only") {
            Some(1.5)
        } else {
            None
        };
        out.insert(
            c,
            json!({"events": n, "tracer_us": tracer.as_secs_f64() * 1e6 / n, "floor_us": floor.as_secs_f64() * 1e6 / n,
                   "ratio": tracer.as_secs_f64() / floor.as_secs_f64().max(1e-12), "target": target}),
        );
    }
    Value::Object(out)
}

/// Ingest into a fresh store while exports of it run back to back, as the server runs them: the
/// snapshot taken at the tracer's priority (it holds the store's lock), cutting and encoding on a
/// thread of the priority the tracer gives its exports. Returns the ingest and the exports done.
async fn ingest_during_exports(emu: &Emulator, history: &History) -> (Measured, usize) {
    let busy = Arc::new(Store::new());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let exporter = {
        let (busy, stop) = (busy.clone(), stop.clone());
        // Loaded once, as the server loads it at startup.
        let cfg = Arc::new(config());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let snapshot = busy.snapshot();
                let cfg = cfg.clone();
                let work = move || {
                    // Filters are built per export, as the server builds them per request.
                    let encoded = export(&snapshot, &cfg, &whole_window(), &export_filters(&cfg)).expect("an export");
                    std::hint::black_box(encoded);
                };
                sk_core::background::spawn("export", work).expect("an export thread").join().expect("an export");
                n += 1;
            }
            n
        })
    };
    let during = ingest(emu, history, busy).await;
    stop.store(true, Ordering::Relaxed);
    (during, exporter.join().unwrap_or(0))
}

/// The real binary over TLS against the emulator, as on a control plane with no nodes: `n`
/// Deployments created (two pods each, which the scheduler cannot place and says so, twice), each
/// rolled out to a new image (a new ReplicaSet, the old pods deleted, new ones unplaced), then all
/// deleted, the garbage collector deleting ReplicaSets and pods one by one; the controllers write
/// status after each step. The tracer's CPU seconds and resident memory over the run, then one
/// export of the whole window.
fn end_to_end(emu: &Emulator, n: usize) -> Value {
    let mut tracer = spawn_tracer(emu, "trackedObjects:\n  apps/v1.Deployment:\n    trackLifecycle: true\n");
    let pid = tracer.pid();
    let t = Instant::now();
    while tracer.get("/readyz").0 != 200 && t.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    let (cpu_ready, rss_ready, _, split_ready) = process_memory(pid);
    let settle = || {
        // Caught up once its CPU time stops moving.
        let mut last = process_usage(pid).0;
        loop {
            std::thread::sleep(Duration::from_secs(2));
            let now = process_usage(pid).0;
            if now - last < 0.02 {
                return;
            }
            last = now;
        }
    };
    let start_rv = emu.resource_version();
    let t = Instant::now();
    let ns = |d: usize| format!("team{}", d / 10);
    let unplaced = |ns: &str| {
        for pod in emu.list("v1", "Pod", Some(ns)) {
            if pod.pointer("/status/conditions").is_none() {
                let name = pod["metadata"]["name"].as_str().unwrap_or_default();
                emu.set_pod_unschedulable(ns, name, 0).expect("writing the workload");
                emu.set_pod_unschedulable(ns, name, 1).expect("writing the workload");
            }
        }
    };
    for d in 0..n {
        let (ns, name) = (ns(d), format!("app{d}"));
        emu.create_deployment(&ns, &name, 2, template(&name, "registry.example.com/app:1.0")).expect("workload");
        emu.sync_deployment_status(&ns, &name).expect("workload");
        if d % 10 == 9 {
            unplaced(&ns);
        }
    }
    for d in 0..n {
        let (ns, name) = (ns(d), format!("app{d}"));
        emu.update_deployment_template(&ns, &name, template(&name, "registry.example.com/app:1.1")).expect("workload");
        emu.sync_deployment_status(&ns, &name).expect("workload");
        if d % 10 == 9 {
            unplaced(&ns);
        }
    }
    for d in 0..n {
        emu.delete_deployment(&ns(d), &format!("app{d}")).expect("workload");
    }
    let written = t.elapsed();
    let events = emu.resource_version() - start_rv;
    settle();
    let (cpu_done, rss_done, peak, split_done) = process_memory(pid);
    let metrics = tracer.get("/metrics").1;
    let t = Instant::now();
    let export = support::request(tracer.port, "POST", "/export", br#"{"start_ts": 0, "end_ts": 9999999999}"#);
    let export_secs = t.elapsed().as_secs_f64();
    let (status, body) = (export.headers.lines().next().unwrap_or_default().to_string(), export.body);
    let (_, rss_after_export, _) = process_usage(pid);
    // SIGTERM: a clean exit, after which mimalloc prints its statistics.
    tracer.terminate();
    let stats = tracer.log();
    let store_bytes = metrics
        .lines()
        .find(|l| l.starts_with("sk_tracer_store_bytes "))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    json!({"deployments": n, "events": events, "write_seconds": written.as_secs_f64(),
           "cpu_seconds_ready": cpu_ready, "cpu_seconds_ingest": cpu_done - cpu_ready,
           "rss_ready": rss_ready, "rss_ready_split": split_ready, "rss_after_run": rss_done, "rss_after_run_split": split_done, "peak_rss": peak, "rss_after_export": rss_after_export,
           "store_bytes": store_bytes, "export_status": status, "export_bytes": body.len(), "export_seconds": export_secs,
           "mimalloc_stats": stats.lines().filter(|l| !l.contains("WARN")).map(str::to_string).collect::<Vec<_>>()})
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.first().map(String::as_str) == Some("e2e") {
        let n = option::<usize>(&args, "--deployments").unwrap_or(1000);
        let emu_runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a runtime");
        let emu = emu_runtime.spawn(Emulator::start_tls()).await.expect("the emulator task").expect("an emulator");
        let result = tokio::task::spawn_blocking(move || {
            let r = end_to_end(&emu, n);
            drop(emu);
            r
        })
        .await
        .expect("the run");
        println!("{}", serde_json::to_string_pretty(&result).unwrap_or_default());
        emu_runtime.shutdown_background();
        return;
    }
    let mut s = scale(args.first().map(String::as_str).unwrap_or("small"));
    // A size between the named scales: Volcano jobs stay one per twenty Deployments.
    if let Some(d) = option::<usize>(&args, "--deployments") {
        (s.deployments, s.volcano_jobs) = (d, d / 20);
    }
    let json_out: Option<String> = option(&args, "--json");
    // More runs give a steadier median, and a profiler something to see.
    let export_repeats: usize = option(&args, "--export-runs").unwrap_or(15);
    // The emulator on a runtime of its own, whose threads the allocator does not count.
    let emu_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .on_thread_start(|| UNCOUNTED.with(|c| c.set(true)))
        .enable_all()
        .build()
        .expect("a runtime");
    let emu = emu_runtime.spawn(Emulator::start()).await.expect("the emulator task").expect("an emulator");
    emu.register_kind(kube_emulator::kinds::volcano_job());
    let t = Instant::now();
    let workload = write_workload(&emu, &s);
    println!(
        "scale {}: {} deployments x {} pods, {} volcano jobs: {} changes written in {:.1}s",
        s.name,
        s.deployments,
        s.replicas,
        s.volcano_jobs,
        workload.events,
        t.elapsed().as_secs_f64()
    );
    let history = History { per_stream: change_counts(&emu).await, clock_base: workload.clock_base };
    let events: usize = history.per_stream.iter().sum();
    // Every change is of a watched kind; fewer means the emulator's history lost some (410 Gone).
    assert_eq!(events as u64, workload.events, "the watch streams replay the whole workload");

    let base = baseline(&emu, &history.per_stream).await;
    let before = live();
    PEAK.store(before, Ordering::Relaxed);
    let store = Arc::new(Store::new());
    let run = ingest(&emu, &history, store.clone()).await;
    let peak = PEAK.load(Ordering::Relaxed) - before;
    let held = live() - before;
    let stats = store.stats();
    // Every event kept in memory at once: the large scale's would take gigabytes.
    let per_event = if s.name == "large" {
        Value::Null
    } else {
        per_event(&emu, &history, option(&args, "--event-runs").unwrap_or(3)).await
    };

    // Export the whole window through the filters, against copying as many bytes: the median of
    // several runs of each.
    let snapshot = store.snapshot();
    let cfg = config();
    let median = |mut times: Vec<Duration>| {
        times.sort();
        times[times.len() / 2].max(Duration::from_nanos(1))
    };
    let filters = export_filters(&cfg);
    let request = whole_window();
    let export_once = || export(&snapshot, &cfg, &request, &filters).expect("an export");
    let encoded = export_once();
    let runs = export_repeats.max(1);
    let timed = |f: &dyn Fn()| {
        median(
            (0..runs)
                .map(|_| {
                    let t = Instant::now();
                    f();
                    t.elapsed()
                })
                .collect(),
        )
    };
    // The export as the server makes it for storage or a response: chunks that share the stored
    // objects.
    let export_time = timed(&|| {
        std::hint::black_box(export_once());
    });
    // The part of an export that holds the store's lock, and so makes ingest wait.
    let snapshot_time = timed(&|| {
        std::hint::black_box(store.snapshot());
    });
    // Where its time goes: cutting the window through the filters, the rest being encoding.
    let window_time = timed(&|| {
        std::hint::black_box(snapshot.cut(&cfg, Window::new(0, i64::MAX).unwrap(), &filters));
    });
    let flat = encoded.trace.clone().into_bytes();
    let copy_time = timed(&|| {
        std::hint::black_box(flat.to_vec());
    });

    // Ingest again into a fresh store while another thread exports from it in a loop, against
    // ingest alone; alternated, several times each, and the medians compared: one replay lasts a
    // few seconds, and these machines are shared.
    let ingest_runs: usize = option(&args, "--ingest-runs").unwrap_or(5);
    let events_per_s = |m: &Measured| m.events as f64 / m.wall.as_secs_f64();
    let mut alone = vec![events_per_s(&run)];
    let mut during = Vec::new();
    let mut exports_during = 0;
    for i in 0..ingest_runs.max(1) {
        if i > 0 {
            alone.push(events_per_s(&ingest(&emu, &history, Arc::new(Store::new())).await));
        }
        let (m, n) = ingest_during_exports(&emu, &history).await;
        during.push(events_per_s(&m));
        exports_during += n;
    }
    let median_of = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (alone, during) = (median_of(alone), median_of(during));

    // Pod hashes per second.
    // Namespace by namespace, timing only the hashing: a copy of every pod at once would take
    // gigabytes at the large scale.
    let hasher = pipeline();
    let (mut hashed, mut hashing) = (0usize, Duration::ZERO);
    for ns in &workload.namespaces {
        let pods = emu.list("v1", "Pod", Some(ns));
        let t = Instant::now();
        for p in &pods {
            std::hint::black_box(hasher.pod_hasher.hash(p));
        }
        hashing += t.elapsed();
        hashed += pods.len();
    }
    let hash_rate = hashed as f64 / hashing.as_secs_f64();

    let steady = option(&args, "--steady-secs").map(Duration::from_secs).unwrap_or(if s.name == "small" {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(60)
    });
    let load = apiserver_load(&emu, steady);

    let rate = |m: &Measured| m.events as f64 / m.wall.as_secs_f64();
    let cpu_per_100k = |m: &Measured| m.cpu.as_secs_f64() * 100_000.0 / m.events.max(1) as f64;
    let mbps = |bytes: usize, d: Duration| bytes as f64 / 1e6 / d.as_secs_f64();
    let results = json!({
        "scale": s.name, "events": events, "object_versions": stats.object_versions,
        "ingest": {"events_per_s": rate(&run), "cpu_s_per_100k": cpu_per_100k(&run),
                   "baseline_events_per_s": rate(&base), "baseline_cpu_s_per_100k": cpu_per_100k(&base),
                   "ratio": rate(&run) / rate(&base), "target": 0.5},
        "memory": {"heap_bytes_held": held, "msgpack_bytes": stats.bytes,
                   "bytes_per_version": held as f64 / stats.object_versions.max(1) as f64,
                   "msgpack_bytes_per_version": stats.bytes as f64 / stats.object_versions.max(1) as f64,
                   "ratio": held as f64 / stats.bytes.max(1) as f64, "target": 1.5,
                   "peak_during_ingest": peak, "peak_ratio": peak as f64 / held.max(1) as f64, "peak_target": 2.0},
        "export": {"bytes": encoded.trace.len(), "chunks": encoded.trace.chunks().len(),
                   "seconds": export_time.as_secs_f64(), "window_seconds": window_time.as_secs_f64(), "snapshot_seconds": snapshot_time.as_secs_f64(), "mb_per_s": mbps(encoded.trace.len(), export_time),
                   "copy_mb_per_s": mbps(encoded.trace.len(), copy_time), "ratio": copy_time.as_secs_f64() / export_time.as_secs_f64(), "target": 0.25,

                   "ingest_events_per_s_during_exports": during, "ingest_events_per_s_alone": alone,
                   "ingest_runs": ingest_runs, "exports_during": exports_during,
                   "ingest_ratio_during_export": during / alone, "ingest_target": 0.8},
        "hash": {"pod_hashes_per_s": hash_rate},
        "per_event": per_event,
        "apiserver": load,
    });
    print_table(&results);
    if let Some(path) = json_out {
        std::fs::write(&path, serde_json::to_vec_pretty(&results).unwrap_or_default()).expect("write the JSON");
        println!("\nwritten to {path}");
    }
    drop(emu);
    // A runtime may not be dropped from inside another's async context.
    emu_runtime.shutdown_background();
}

/// The release binary started against the emulator with `config`, its stderr (where mimalloc
/// writes its statistics at exit) in its log. Another build of the binary (an earlier commit's,
/// to compare) when `BENCH_TRACER_BINARY` names one (not `SK_TRACER_*`: the binary reads those as
/// config).
fn spawn_tracer(emu: &Emulator, config: &str) -> support::Tracer {
    let binary = std::env::var_os("BENCH_TRACER_BINARY").unwrap_or_else(|| support::BINARY.into());
    let env = [("RUST_LOG", "warn".to_string()), ("MIMALLOC_SHOW_STATS", "1".to_string())];
    support::spawn_tracer(&binary, emu, config, &env)
}

/// The real binary against the emulator holding the workload: requests until it is ready, then
/// per minute of steady state (scaled from `steady`).
fn apiserver_load(emu: &Emulator, steady: Duration) -> Value {
    let before = emu.requests_by_verb();
    let mut tracer = spawn_tracer(emu, "trackedObjects:\n  apps/v1.Deployment:\n    trackLifecycle: true\n  batch.volcano.sh/v1alpha1.Job:\n    podSpecTemplatePath: /spec/tasks/*/template\n    trackLifecycle: true\n");
    let t = Instant::now();
    let ready = || tracer.get("/readyz").0 == 200;
    let mut was_ready = ready();
    while !was_ready && t.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(100));
        was_ready = ready();
    }
    let startup_secs = t.elapsed().as_secs_f64();
    // Owner resolution starts its metadata watch once the first pods arrive; give it a moment.
    std::thread::sleep(Duration::from_secs(2));
    let at_ready = emu.requests_by_verb();
    std::thread::sleep(steady);
    let after = emu.requests_by_verb();
    tracer.kill();
    let diff = |a: &std::collections::BTreeMap<String, u64>, b: &std::collections::BTreeMap<String, u64>| {
        let mut m = serde_json::Map::new();
        for (verb, n) in a {
            let d = n - b.get(verb).copied().unwrap_or(0);
            if d > 0 {
                m.insert(verb.clone(), json!(d));
            }
        }
        m
    };
    let startup = diff(&at_ready, &before);
    let steady_counts = diff(&after, &at_ready);
    let total = |m: &serde_json::Map<String, Value>| m.values().filter_map(Value::as_u64).sum::<u64>();
    json!({"pods": emu.count("v1", "Pod"), "deployments": emu.count("apps/v1", "Deployment"),
           "ready": was_ready, "startup_seconds": startup_secs, "startup_requests": total(&startup), "startup_by_verb": startup,
           "steady_requests_per_minute": total(&steady_counts) as f64 * 60.0 / steady.as_secs_f64(),
           "steady_by_verb": steady_counts})
}

/// How many changes each stream replays: read once, counting lines.
async fn change_counts(emu: &Emulator) -> Vec<usize> {
    let mut out = Vec::new();
    for (path, meta, _) in streams() {
        let url = format!("{}{path}?watch=1&resourceVersion=1&timeoutSeconds=2", emu.url());
        out.push(replay(url, usize::MAX, meta, |_| {}).await);
    }
    out
}

fn print_table(r: &Value) {
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let ok = |ratio: f64, target: f64, higher: bool| {
        if (higher && ratio >= target) || (!higher && ratio <= target) {
            "met"
        } else {
            "MISSED"
        }
    };
    println!("\n| measure | sk-tracer | baseline | ratio | target |");
    println!("| --- | --- | --- | --- | --- |");
    let i = &r["ingest"];
    println!(
        "| ingest (events/s) | {:.0} | {:.0} (read + JSON decode) | {:.2} | >= 0.50 {} |",
        f(&i["events_per_s"]),
        f(&i["baseline_events_per_s"]),
        f(&i["ratio"]),
        ok(f(&i["ratio"]), 0.5, true)
    );
    println!(
        "| consumer CPU s per 100k events | {:.2} | {:.2} | | |",
        f(&i["cpu_s_per_100k"]),
        f(&i["baseline_cpu_s_per_100k"])
    );
    let m = &r["memory"];
    println!(
        "| heap per object version (bytes) | {:.0} | {:.0} (its msgpack) | {:.2} | <= 1.50 {} |",
        f(&m["bytes_per_version"]),
        f(&m["msgpack_bytes_per_version"]),
        f(&m["ratio"]),
        ok(f(&m["ratio"]), 1.5, false)
    );
    println!(
        "| peak heap during ingest vs after | {} | {} | {:.2} | <= 2.00 {} |",
        m["peak_during_ingest"],
        m["heap_bytes_held"],
        f(&m["peak_ratio"]),
        ok(f(&m["peak_ratio"]), 2.0, false)
    );
    let e = &r["export"];
    println!(
        "| export (MB/s) | {:.0} | {:.0} (memcpy) | {:.2} | >= 0.25 {} |",
        f(&e["mb_per_s"]),
        f(&e["copy_mb_per_s"]),
        f(&e["ratio"]),
        ok(f(&e["ratio"]), 0.25, true)
    );
    println!(
        "| export: snapshot (the store's lock held) / cutting the window / whole export (ms) | {:.3} / {:.3} / {:.3} | | | |",
        f(&e["snapshot_seconds"]) * 1e3,
        f(&e["window_seconds"]) * 1e3,
        f(&e["seconds"]) * 1e3
    );
    println!(
        "| ingest during exports (events/s, median of {} runs; {} exports done meanwhile) | {:.0} | {:.0} (without) | {:.2} | >= 0.80 {} |",
        e["ingest_runs"],
        e["exports_during"],
        f(&e["ingest_events_per_s_during_exports"]),
        f(&e["ingest_events_per_s_alone"]),
        f(&e["ingest_ratio_during_export"]),
        ok(f(&e["ingest_ratio_during_export"]), 0.8, true)
    );
    println!("| pod hashes/s | {:.0} | | | |", f(&r["hash"]["pod_hashes_per_s"]));
    if let Some(per_event) = r["per_event"].as_object() {
        println!("\n| watch event: kind and what happened | events | tracer µs/event | serde_json::Value decode µs/event | ratio | target |");
        println!("| --- | --- | --- | --- | --- | --- |");
        for (c, v) in per_event {
            let target = match v["target"].as_f64() {
                Some(t) => format!("<= {t:.1} {}", ok(f(&v["ratio"]), t, false)),
                None => String::new(),
            };
            println!(
                "| {c} | {} | {:.2} | {:.2} | {:.2} | {target} |",
                v["events"],
                f(&v["tracer_us"]),
                f(&v["floor_us"]),
                f(&v["ratio"])
            );
        }
    }
    let a = &r["apiserver"];
    println!(
        "| apiserver requests until {} ({} pods, {} Deployments) | {} {} | | | O(kinds) |",
        if a["ready"] == true {
            format!("ready in {:.1} s", f(&a["startup_seconds"]))
        } else {
            "NOT READY after 300 s".into()
        },
        a["pods"],
        a["deployments"],
        a["startup_requests"],
        a["startup_by_verb"]
    );
    println!(
        "| apiserver requests per minute, steady | {:.1} {} | | | |",
        f(&a["steady_requests_per_minute"]),
        a["steady_by_verb"]
    );
    println!(
        "\n{} events, {} object versions stored, export of {} bytes in {} chunks",
        r["events"], r["object_versions"], r["export"]["bytes"], r["export"]["chunks"]
    );
}
