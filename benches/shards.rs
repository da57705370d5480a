//! Namespace shards against one tracer on the same load: every replica is offered every change
//! of one workload (as every shard's watches receive every event), one tracer records them all
//! (the baseline, measured in the same run), and each of `--shards` replicas records its
//! namespaces and drops the rest on arrival. Reports, per replica, the rate at which it gets
//! through the whole stream and the memory its ingest state holds afterwards (store, owner cache,
//! waiting pods), as ratios to the baseline's, and that memory per object it stores.
//!
//! The changes are built before each replica's run and handed over one by one, so the time is
//! ingest's (including the shard's filter) and the memory what ingest kept.
//!
//! `cargo bench --bench shards -- [small|medium|large] [--shards N]`

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sk_core::ownership::{KnownOwner, OwnerReference};
use sk_core::pipeline::SanitiserChain;
use sk_core::shard::Shard;
use sk_core::sources::{Change, ChangeKind, Payload};
use sk_core::store::Store;
use sk_core::tracer::{Ingest, Metrics, Pipeline};
use sk_core::{Gvk, TracerConfig};
use sk_plugins as _;
use support::args::option;

#[path = "../tests/support/mod.rs"]
mod support;

/// Counts live heap bytes, allocating with the binary's allocator. The bench runs on one thread,
/// so one shared counter costs little.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const T: i64 = 1_764_000_000;

struct Scale {
    namespaces: usize,
    deployments: usize,
    pods: usize,
}

fn scale(name: &str) -> Scale {
    match name {
        "small" => Scale { namespaces: 12, deployments: 10, pods: 4 },
        "large" => Scale { namespaces: 300, deployments: 40, pods: 8 },
        _ => Scale { namespaces: 100, deployments: 25, pods: 8 },
    }
}

fn deployment(ns: &str, name: &str, version: usize) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"namespace": ns, "name": name, "uid": format!("{ns}-{name}"), "labels": {"app": name},
                     "annotations": {"deployment.kubernetes.io/revision": "1"}},
        "spec": {"replicas": 8 + version, "selector": {"matchLabels": {"app": name}}, "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "main", "image": "registry.example.com/app:1.0",
                "args": ["--listen=:8080", "--log-level=info"],
                "env": [{"name": "MODE", "value": "production"}],
                "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}}}]}}}})
}

fn pod(ns: &str, deployment: &str, i: usize, phase: &str, at: i64) -> Value {
    let started = humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_secs(at as u64)).to_string();
    let state = match phase {
        "Pending" => json!({"waiting": {"reason": "ContainerCreating"}}),
        "Running" => json!({"running": {"startedAt": started}}),
        _ => json!({"terminated": {"startedAt": started, "finishedAt": started, "exitCode": 0}}),
    };
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"namespace": ns, "name": format!("{deployment}-rs-{i}"), "uid": format!("{ns}-{deployment}-{i}"),
                     "labels": {"app": deployment, "pod-template-hash": "rs"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{deployment}-rs"),
                                          "uid": format!("{ns}-{deployment}-rs"), "controller": true}]},
        "spec": {"nodeName": "node-1", "containers": [{"name": "main", "image": "registry.example.com/app:1.0",
            "args": ["--listen=:8080", "--log-level=info"]}]},
        "status": {"phase": phase, "containerStatuses": [{"name": "main", "state": state}]}})
}

/// The workload as the watches deliver it: per Deployment its creation, its ReplicaSet (as the
/// metadata-only owner watch shows it), its pods pending then running, a rollout, and, for every
/// fourth, its pods' end and its deletion. Ten changes a second.
fn changes(s: &Scale) -> Vec<Change> {
    let deploy = Gvk::new("apps", "v1", "Deployment");
    let (rs, pod_kind) = (Gvk::new("apps", "v1", "ReplicaSet"), Gvk::new("", "v1", "Pod"));
    let mut out = Vec::new();
    let at = |n: usize| T + (n / 10) as i64;
    for d in 0..s.deployments {
        for n in 0..s.namespaces {
            let (ns, name) = (format!("team-{n}"), format!("app-{d}"));
            let t = at(out.len());
            out.push(Change {
                gvk: deploy.clone(),
                at: t,
                kind: ChangeKind::Applied(Payload::Object(deployment(&ns, &name, 0))),
            });
            let owner = OwnerReference {
                uid: format!("{ns}-{name}"),
                gvk: deploy.clone(),
                name: name.clone(),
                controller: true,
            };
            let info =
                KnownOwner { gvk: rs.clone(), namespace: ns.clone(), name: format!("{name}-rs"), owners: vec![owner] };
            out.push(Change {
                gvk: rs.clone(),
                at: t,
                kind: ChangeKind::Applied(Payload::Meta { uid: format!("{ns}-{name}-rs"), info }),
            });
            for phase in ["Pending", "Running"] {
                for i in 0..s.pods {
                    let t = at(out.len());
                    out.push(Change {
                        gvk: pod_kind.clone(),
                        at: t,
                        kind: ChangeKind::Applied(Payload::Object(pod(&ns, &name, i, phase, t))),
                    });
                }
            }
            let t = at(out.len());
            out.push(Change {
                gvk: deploy.clone(),
                at: t,
                kind: ChangeKind::Applied(Payload::Object(deployment(&ns, &name, 1))),
            });
            if d % 4 == 0 {
                for i in 0..s.pods {
                    let t = at(out.len());
                    out.push(Change {
                        gvk: pod_kind.clone(),
                        at: t,
                        kind: ChangeKind::Deleted(Payload::Object(pod(&ns, &name, i, "Succeeded", t))),
                    });
                }
                let t = at(out.len());
                out.push(Change {
                    gvk: deploy.clone(),
                    at: t,
                    kind: ChangeKind::Deleted(Payload::Object(deployment(&ns, &name, 1))),
                });
            }
        }
    }
    out
}

fn config() -> TracerConfig {
    support::config::load("trackedObjects:\n  apps/v1.Deployment:\n    trackLifecycle: true\n").tracer
}

fn pipeline() -> Pipeline {
    let none = serde_json::Map::new();
    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    Pipeline::new(
        SanitiserChain::build(&names(&["metadata", "status", "node-name", "redact"]), &none).expect("sanitisers"),
        SanitiserChain::build(&names(&["pod-hash"]), &none).expect("pod-hash"),
    )
}

struct Run {
    seconds: f64,
    bytes: isize,
    /// Object versions and pod lifecycles the replica stores.
    stored: usize,
}

/// One replica through the whole stream: the time, and what it holds after.
fn replica(s: &Scale, shard: Option<Shard>) -> Run {
    // Counted from before the changes exist: they are all dropped by the end of the run.
    let before = LIVE.load(Ordering::Relaxed);
    let offered = changes(s);
    let store = Arc::new(Store::new());
    let mut ingest = Ingest::new(Arc::new(config()), Arc::new(pipeline()), store.clone(), Arc::new(Metrics::default()));
    let t = Instant::now();
    for change in offered {
        let change = match shard {
            None => change,
            Some(s) => match s.admit(change).mine() {
                Some(c) => c,
                None => continue,
            },
        };
        ingest.handle(change);
    }
    let seconds = t.elapsed().as_secs_f64();
    let bytes = LIVE.load(Ordering::Relaxed) - before;
    let stats = store.stats();
    let lifecycles: usize = store.snapshot().lifecycles().values().flat_map(|h| h.values()).map(Vec::len).sum();
    let stored = stats.object_versions + lifecycles;
    drop(ingest);
    Run { seconds, bytes, stored }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name =
        args.iter().find(|a| ["small", "medium", "large"].contains(&a.as_str())).map_or("medium", String::as_str);
    let shards: u32 = option(&args, "--shards").unwrap_or(3);
    let s = scale(name);
    let offered = changes(&s).len();
    println!("shards bench `{name}`: {offered} changes, {} namespaces, {shards} shards", s.namespaces);
    // A first run warms the allocator and the caches; it is not reported.
    let _ = replica(&Scale { namespaces: 4, deployments: 4, pods: 2 }, None);
    let base = replica(&s, None);
    let rate = |r: &Run| offered as f64 / r.seconds;
    println!(
        "  one tracer:  {:>9.0} changes/s, {:>6.1} MiB held, {:>5} bytes per stored object ({} stored)",
        rate(&base),
        base.bytes as f64 / (1 << 20) as f64,
        base.bytes / base.stored.max(1) as isize,
        base.stored
    );
    let mut total = 0isize;
    for i in 0..shards {
        let r = replica(&s, Some(Shard::new(i, shards).expect("a valid shard")));
        total += r.bytes;
        println!(
            "  shard {i}/{shards}:   {:>9.0} changes/s ({:.2}x), {:>6.1} MiB held ({:.2}x), {:>5} bytes per stored object ({} stored)",
            rate(&r),
            rate(&r) / rate(&base),
            r.bytes as f64 / (1 << 20) as f64,
            r.bytes as f64 / base.bytes as f64,
            r.bytes / r.stored.max(1) as isize,
            r.stored
        );
    }
    println!("  all shards together hold {:.2}x the one tracer's memory", total as f64 / base.bytes as f64);
}
