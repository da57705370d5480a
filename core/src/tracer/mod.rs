//! The tracer: sources feeding the ingest loop, which records into the store.
//!
//! ```text
//! watches (one task per kind) ──Changes──► ingest loop ──► store ◄── snapshot (export)
//!        ▲                                    │
//!        └──── metadata watches on owner kinds ┘
//! ```

mod event_clock;
mod ingest;
mod metrics;

use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use crate::pipeline::Pipeline;
pub use event_clock::{Arrival, EventClock};
pub use ingest::Ingest;
pub use metrics::Metrics;

use crate::gvk::Gvk;
use crate::shard::{Admission, Shard};
use crate::sources::{spawn_kind_watch, unix_now, Change, GapTracker, NotReady, SourceHealth, WatchMode};
use crate::store::{Retention, Store};
use crate::tracer_config::TracerConfig;

pub struct TracerSettings {
    pub config: TracerConfig,
    pub pipeline: Pipeline,
    pub retention: Retention,
    /// A store restored from a checkpoint: the watches' initial lists reconcile against it, so
    /// what changed while the tracer was down is recorded at the list's time.
    pub restored: Option<Store>,
    /// When the restored checkpoint was written (unix seconds): the trace is complete up to then,
    /// so each kind's first list closes a gap that starts there.
    pub restored_at: Option<i64>,
    /// The namespaces this replica records when several share the cluster; `None` records all.
    pub shard: Option<Shard>,
}

/// A running tracer. Dropping it stops every task.
pub struct Tracer {
    pub config: Arc<TracerConfig>,
    pub store: Arc<Store>,
    pub health: Arc<SourceHealth>,
    pub metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Batches of changes queued between the watches and the ingest loop; a full queue makes the
/// watches wait, which leaves the backlog in the apiserver's watch stream rather than in our
/// memory.
const QUEUE: usize = 16;
const RETENTION_EVERY: Duration = Duration::from_secs(10);

impl Tracer {
    /// Starts the watches and the ingest loop on a thread of their own, with a single-threaded
    /// runtime: they hand every event from one to the next, and on one thread that costs no
    /// wake-up of another (on the multi-threaded runtime it was most of the CPU the watches
    /// took). The caller's runtime is left to serving and exporting.
    ///
    /// The watches' client is made from `cluster` on that thread, not handed in: a kube
    /// `Client` runs its request queue, and hyper the connections behind it, as tasks on the
    /// runtime it was made on, so a client of the caller's runtime would read every watch
    /// stream on the caller's threads and wake this one for each chunk.
    pub fn start(cluster: kube::Config, settings: TracerSettings) -> Tracer {
        let config = Arc::new(settings.config);
        let store_restored = settings.restored.is_some();
        let store = Arc::new(settings.restored.unwrap_or_default());
        let health = Arc::new(SourceHealth::default());
        let metrics = Arc::new(Metrics::default());
        let (stop, stopped) = oneshot::channel();
        let sources = Sources {
            config: config.clone(),
            pipeline: Arc::new(settings.pipeline),
            store: store.clone(),
            health: health.clone(),
            metrics: metrics.clone(),
            shard: settings.shard,
            retention: settings.retention,
            first_gaps: match (settings.restored_at, store_restored) {
                (Some(ts), true) => GapTracker::resuming_from(ts),
                _ => GapTracker::new(),
            },
        };
        let thread = std::thread::Builder::new()
            .name("sk-tracer-watch".into())
            .spawn(move || match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime.block_on(async move {
                    let cluster_url = cluster.cluster_url.to_string();
                    let client = match Client::try_from(cluster) {
                        Ok(client) => client,
                        Err(e) => {
                            tracing::error!(cluster = %cluster_url, error = %e, "no client for the watches: nothing is recorded");
                            return;
                        }
                    };
                    tokio::select! {
                        _ = sources.run(client) => {}
                        _ = stopped => {}
                    }
                }),
                Err(e) => tracing::error!(error = %e, "no runtime for the watches: nothing is recorded"),
            })
            .expect("a thread for the watches");
        Tracer { config, store, health, metrics, stop: Some(stop), thread: Some(thread) }
    }

    /// The kinds that have not completed their initial list, or whose watch has been down for
    /// longer than `grace`, and why; empty when ready.
    pub fn not_ready(&self, grace: Duration) -> Vec<(Gvk, NotReady)> {
        let mut kinds: Vec<Gvk> = self.config.tracked_objects.keys().cloned().collect();
        let pod = Gvk::new("", "v1", "Pod");
        if !kinds.contains(&pod) {
            kinds.push(pod);
        }
        self.health.not_ready(kinds, grace, std::time::Instant::now())
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the watch thread runs: the watches, the ingest loop and retention.
struct Sources {
    config: Arc<TracerConfig>,
    pipeline: Arc<Pipeline>,
    store: Arc<Store>,
    health: Arc<SourceHealth>,
    metrics: Arc<Metrics>,
    shard: Option<Shard>,
    retention: Retention,
    /// How each tracked kind's first list counts: a gap from the restored checkpoint, or none.
    first_gaps: GapTracker,
}

impl Sources {
    async fn run(self, client: Client) {
        let Sources { config, pipeline, store, health, metrics, shard, retention, first_gaps } = self;
        let (tx, mut rx) = mpsc::channel::<Vec<Change>>(QUEUE);
        let mut tasks = Vec::new();
        let pod = Gvk::new("", "v1", "Pod");
        let mut full_kinds: Vec<Gvk> = config.tracked_objects.keys().cloned().collect();
        if !full_kinds.contains(&pod) {
            full_kinds.push(pod);
        }
        for gvk in full_kinds {
            tasks.push(spawn_kind_watch(
                client.clone(),
                gvk,
                WatchMode::Full,
                tx.clone(),
                health.clone(),
                first_gaps.clone(),
            ));
        }

        let (evict_store, evict_metrics) = (store.clone(), metrics.clone());
        tasks.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(RETENTION_EVERY);
            loop {
                every.tick().await;
                let evicted = evict_store.evict(unix_now(), retention);
                if evicted > 0 {
                    evict_metrics.evictions.fetch_add(evicted as u64, std::sync::atomic::Ordering::Relaxed);
                    tracing::debug!(evicted, "retention evicted old events");
                }
            }
        }));

        let mut ingest = Ingest::new(config, pipeline, store, metrics.clone());
        if let Some(s) = shard {
            tracing::info!(index = s.index(), count = s.count(), "recording one namespace shard");
        }
        while let Some(batch) = rx.recv().await {
            for change in batch {
                // Other shards' changes are dropped here, before they cost the ingest loop
                // anything; they still count among the events the watches received.
                let change = match shard {
                    None => change,
                    Some(s) => match s.admit(change) {
                        Admission::Mine(change) => change,
                        Admission::Other(gvk) => {
                            metrics.count_event(&gvk);
                            continue;
                        }
                    },
                };
                for kind in ingest.handle(change) {
                    tracing::info!(owner_kind = %kind, "watching an intermediate owner kind (metadata only)");
                    tasks.push(spawn_kind_watch(
                        client.clone(),
                        kind,
                        WatchMode::MetadataOnly,
                        tx.clone(),
                        health.clone(),
                        GapTracker::new(),
                    ));
                }
            }
        }
        tasks.iter().for_each(JoinHandle::abort);
    }
}
