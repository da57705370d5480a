//! The trace page at scale, in headless Chromium: a generated trace of 10,000 objects and
//! 100,000 changes (one event per second, about 28 hours) written by `inspect --html`, opened
//! from disk, then filtered; and the live tracer's `GET /api/window` work on the same history.
//!
//! `cargo bench --bench page -- [--objects N] [--changes N] [--runs N] [--screenshot FILE.png]`
//!
//! Needs chromedriver and Chromium (`apt-get install chromium chromium-driver`). Reports:
//! - first render: from the navigation's start to the second animation frame after the rows are
//!   drawn (`skPage.paintedAt`: they are then on screen), which includes reading the page file up
//!   to its rows; and the page script's own part of it;
//! - a filter: from setting a filter field to the second animation frame after it (the filtered
//!   rows and band painted), per filter kind, median of the runs;
//! - `inspect --html`: the command's wall time and the page's size;
//! - `/api/window`: the rows of the whole history from a snapshot of a store holding it, and a
//!   following page's poll (`since` the last 10 s), serialised as the endpoint answers.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::{json, Value};
use sk_core::store::Store;
use sk_core::trace::{v1, EncodedObject, ObjectIdentity, TraceEvent};
use sk_core::{stable_hash, PodLifecycle, Trace, TraceIdentity};
use sk_tracer::page::document::WindowDocument;
use sk_tracer::page::of_snapshot::window_rows;
use support::args::option;
use support::browser::Browser;

const T0: i64 = 1_764_000_000;

/// A small deterministic generator: the same trace on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % below as u64) as usize
    }
}

fn object(kind: &str, ns: &str, name: &str, image: &str, replicas: usize, tier: &str) -> Value {
    let (api, spec) = match kind {
        "Job" => (
            "batch/v1",
            json!({"completions": replicas, "template": {"spec": {"restartPolicy": "Never",
                 "containers": [{"name": "main", "image": image, "resources": {"requests": {"cpu": "500m"}}}]}}}),
        ),
        kind => (
            "apps/v1",
            json!({"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                   "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "main",
                     "image": image, "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}},
                   "serviceName": if kind == "StatefulSet" { Some(name) } else { None }}),
        ),
    };
    json!({"apiVersion": api, "kind": kind, "metadata": {"namespace": ns, "name": name,
           "labels": {"app": name, "team": ns, "tier": tier}}, "spec": spec})
}

/// `objects` objects in 40 namespaces (Deployments, StatefulSets, Jobs), created over the first
/// tenth of the trace, then updated (a new image, or a new replica count) and some deleted, one
/// change per second, `changes` in all; each owner's pods as lifecycles, a new pod hash per image.
fn generate(objects: usize, changes: usize) -> Trace {
    let mut rng = Lcg(7);
    let kinds = ["Deployment", "Deployment", "Deployment", "StatefulSet", "Job"];
    let tiers = ["web", "api", "worker", "db"];
    let mut specs: Vec<(String, String, String, String, usize, usize, bool)> = (0..objects)
        .map(|i| {
            let kind = kinds[i % kinds.len()].to_string();
            (kind, format!("team-{:02}", i % 40), format!("svc-{i:05}"), tiers[rng.next(4)].to_string(), 1, 2, false)
        })
        .collect();
    let mut events = Vec::with_capacity(changes);
    let mut lifecycles: BTreeMap<TraceIdentity, BTreeMap<u64, Vec<PodLifecycle>>> = BTreeMap::new();
    let creates_every = (changes / 10 / objects.max(1)).max(1);
    let mut created = 0;
    for c in 0..changes {
        let ts = T0 + c as i64;
        let (applied, deleted) = if created < objects && (c % creates_every == 0 || changes - c <= objects - created) {
            created += 1;
            (Some(created - 1), None)
        } else {
            let i = rng.next(created.max(1));
            let s = &mut specs[i];
            if s.6 {
                // Deleted: created again.
                s.6 = false;
                (Some(i), None)
            } else if rng.next(60) == 0 {
                s.6 = true;
                (None, Some(i))
            } else {
                if rng.next(3) == 0 {
                    s.4 += 1;
                } else {
                    s.5 = (s.5 % 9) + 1;
                }
                (Some(i), None)
            }
        };
        let mut event = TraceEvent { ts, ..Default::default() };
        if let Some(i) = applied {
            let (kind, ns, name, tier, version, replicas, _) = &specs[i];
            let image = format!("registry.example/{name}:1.{version}");
            let v = object(kind, ns, name, &image, *replicas, tier);
            event.applied_objs.push(EncodedObject::from_json(&v));
            let gvk = sk_core::Gvk::of_object(&v).unwrap();
            let owner = lifecycles.entry(TraceIdentity::new(gvk, format!("{ns}/{name}"))).or_default();
            let hash = stable_hash(&json!(image));
            if !owner.contains_key(&hash) {
                // A new template rolls out: the pods of the one before finish.
                for lc in owner.values_mut().flatten().filter(|lc| lc.end_ts.is_none()) {
                    lc.end_ts = Some(ts + 5 + rng.next(20) as i64);
                }
                let pods = owner.entry(hash).or_default();
                for _ in 0..replicas.min(&3).to_owned() {
                    let end = (kind == "Job").then_some(ts + 300 + rng.next(3000) as i64);
                    pods.push(PodLifecycle { start_ts: ts + 2 + rng.next(5) as i64, end_ts: end });
                }
            }
        }
        if let Some(i) = deleted {
            let (kind, ns, name, tier, version, replicas, _) = &specs[i];
            let v = object(kind, ns, name, &format!("x:{version}"), *replicas, tier);
            let id = ObjectIdentity::of(&v).unwrap();
            event.deleted_objs.push(sk_core::trace::object::deletion_record(&id));
        }
        events.push(event);
    }
    Trace { events, pod_lifecycles: lifecycles, ..Default::default() }
}

/// The first change in `ns` inside `[from, to)` that gave an object a new image: its row's key
/// and its time.
fn image_update(trace: &Trace, ns: &str, from: i64, to: i64) -> Option<(String, i64)> {
    let mut images: BTreeMap<String, Value> = BTreeMap::new();
    for ev in &trace.events {
        for obj in &ev.applied_objs {
            let v = obj.to_json().ok()?;
            let id = ObjectIdentity::of(&v)?;
            let key = format!("{} {}/{}", id.gvk, id.namespace, id.name);
            let image = v.pointer("/spec/template/spec/containers/0/image").cloned().unwrap_or_default();
            let before = images.insert(key.clone(), image.clone());
            if id.namespace == ns && (from..to).contains(&ev.ts) && before.is_some_and(|b| b != image) {
                return Some((key, ev.ts));
            }
        }
    }
    None
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Sets a filter field and waits two animation frames: the filtered rows are then painted.
const FILTER: &str = "const [id, value, done] = arguments; const input = document.getElementById(id);
const t = performance.now(); input.value = value; input.dispatchEvent(new Event('input'));
requestAnimationFrame(() => requestAnimationFrame(() => done([performance.now() - t, skPage.filterMs, skPage.visibleKeys().length])));";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let objects = option(&args, "--objects").unwrap_or(10_000);
    let changes = option(&args, "--changes").unwrap_or(100_000);
    let runs = option(&args, "--runs").unwrap_or(5);
    let screenshot: Option<String> = option(&args, "--screenshot");

    let dir = tempfile::tempdir().unwrap();
    let trace = generate(objects, changes);
    let marks: usize = trace.events.iter().map(|e| e.applied_objs.len() + e.deleted_objs.len()).sum();
    let pods: usize = trace.pod_lifecycles.values().flat_map(|h| h.values()).map(Vec::len).sum();
    let file = dir.path().join("big.sktrace");
    std::fs::write(&file, v1::encode_to_vec(&trace)).unwrap();
    println!("trace: {objects} objects, {marks} changes in {} events, {pods} pod lifecycles", trace.events.len());

    let html = dir.path().join("big.html");
    let started = Instant::now();
    let out = std::process::Command::new(support::BINARY)
        .arg("inspect")
        .arg(&file)
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let inspect_secs = started.elapsed().as_secs_f64();
    let html_mb = std::fs::metadata(&html).unwrap().len() as f64 / 1e6;
    println!("inspect --html: {inspect_secs:.2} s, page {html_mb:.1} MB");

    let rt = support::runtime();
    rt.block_on(async {
        let Some(browser) = Browser::start().await else { return };
        let url = format!("file://{}", html.display());
        let (mut first, mut script) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            browser.client.goto("about:blank").await.unwrap();
            browser.open(&url).await;
            browser.wait_for("the first frame", "return skPage.paintedAt !== null").await;
            let t = browser.eval("return [skPage.paintedAt, skPage.renderMs]").await;
            first.push(t[0].as_f64().unwrap());
            script.push(t[1].as_f64().unwrap());
        }
        let rows = browser.rows().await.len();
        println!(
            "first render: median {:.0} ms (page script {:.0} ms), {rows} rows, {runs} runs",
            median(first),
            median(script)
        );

        let filters = [
            ("f-ns", "team-07", "namespace"),
            ("f-kind", "Job", "kind"),
            ("f-name", "svc-012", "name"),
            ("f-label", "tier=db", "label"),
            ("f-label", "", "cleared"),
        ];
        println!("| filter | rows shown | to painted (median) | filter and draw (median) |");
        println!("| --- | --- | --- | --- |");
        for (id, value, what) in filters {
            let (mut painted, mut work, mut shown) = (Vec::new(), Vec::new(), 0);
            for _ in 0..runs {
                // From no filter each time.
                for clear in ["f-ns", "f-kind", "f-name", "f-label"] {
                    browser.client.execute_async(FILTER, vec![json!(clear), json!("")]).await.unwrap();
                }
                let r = browser.client.execute_async(FILTER, vec![json!(id), json!(value)]).await.unwrap();
                painted.push(r[0].as_f64().unwrap());
                work.push(r[1].as_f64().unwrap());
                shown = r[2].as_u64().unwrap();
            }
            println!("| {what} `{value}` | {shown} | {:.0} ms | {:.0} ms |", median(painted), median(work));
        }
        assert_eq!(browser.console_errors().await, Vec::<String>::new());

        if let Some(path) = screenshot {
            // One team's objects over three hours, an image update opened.
            let from = T0 + 30_000;
            let (key, ts) = image_update(&trace, "team-03", from + 3600, from + 7200).expect("an image update");
            browser.open(&format!("{url}#ns=team-03&from={from}&to={}", from + 3 * 3600)).await;
            browser.eval(&format!("return skPage.reveal({key:?})")).await;
            let at = browser.eval(&format!("return skPage.markPoint({key:?}, {ts})")).await;
            browser.click_at(at["x"].as_f64().unwrap(), at["y"].as_f64().unwrap()).await;
            browser.wait_for("the detail", "return !!document.getElementById('changes')").await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            browser.screenshot(std::path::Path::new(&path)).await;
            println!("screenshot: {path}");
        }
        browser.client.find(Locator::Id("timeline")).await.unwrap();
        browser.close().await;
    });

    // The live endpoint's work on the same history.
    let store = Store::new();
    for ev in &trace.events {
        for obj in &ev.applied_objs {
            let v = obj.to_json().unwrap();
            store.apply(ev.ts, ObjectIdentity::of(&v).unwrap(), obj.clone(), stable_hash(&v));
        }
        for obj in &ev.deleted_objs {
            store.delete(ev.ts, &obj.identity().unwrap());
        }
    }
    let end = trace.events.last().map_or(T0, |e| e.ts) + 1;
    let (mut whole, mut poll, mut bytes) = (Vec::new(), Vec::new(), 0);
    for _ in 0..runs {
        let snapshot = store.snapshot();
        let t = Instant::now();
        let rows = window_rows(&snapshot, T0, end, None);
        let doc = WindowDocument::page("live", "sk-tracer".into(), (T0, end), Some(end), &rows, 0, usize::MAX);
        bytes = serde_json::to_vec(&doc).unwrap().len();
        whole.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let rows = window_rows(&snapshot, T0, end, Some(end - 10));
        serde_json::to_vec(&WindowDocument::page("live", "sk-tracer".into(), (T0, end), Some(end), &rows, 0, 5000))
            .unwrap();
        poll.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "/api/window over the whole history: median {:.0} ms ({:.1} MB of JSON, all pages); a poll since the last 10 s: {:.0} ms",
        median(whole),
        bytes as f64 / 1e6,
        median(poll)
    );
}
