//! `/metrics` in the Prometheus (OpenMetrics) text format: the tracer's own counters, read at
//! scrape time, and the export server's.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use sk_core::sources::SourceHealth;
use sk_core::store::Store;
use sk_core::tracer::{Metrics, Tracer};

/// The export server's own metrics.
pub struct ServerMetrics {
    registry: Registry,
    /// Exports by outcome: `ok`, `bad_request`, `forbidden`, `storage_error`, `internal_error`.
    pub exports: Family<Vec<(String, String)>, Counter>,
    pub export_seconds: Histogram,
    /// Scheduled export attempts by schedule (its position in `exports`) and outcome.
    pub scheduled: Family<Vec<(String, String)>, Counter>,
    /// Requests refused before any work, by reason: `unauthorized`, `token_unavailable`,
    /// `too_many_exports`, `body_too_large`.
    pub refused: Family<Vec<(String, String)>, Counter>,
}

impl ServerMetrics {
    pub fn new(tracer: &Tracer) -> Self {
        let mut registry = Registry::with_prefix("sk_tracer");
        let exports = Family::<Vec<(String, String)>, Counter>::default();
        registry.register("exports", "Exports served, by outcome", exports.clone());
        let export_seconds = Histogram::new(exponential_buckets(0.005, 2.0, 14));
        registry.register("export_duration_seconds", "Time to serve an export", export_seconds.clone());
        let scheduled = Family::<Vec<(String, String)>, Counter>::default();
        registry.register("scheduled_exports", "Scheduled export attempts, by schedule and outcome", scheduled.clone());
        let refused = Family::<Vec<(String, String)>, Counter>::default();
        registry.register("refused_requests", "Requests refused before any work, by reason", refused.clone());
        registry.register_collector(Box::new(TracerCollector {
            metrics: tracer.metrics.clone(),
            store: tracer.store.clone(),
            health: tracer.health.clone(),
        }));
        ServerMetrics { registry, exports, export_seconds, scheduled, refused }
    }

    pub fn count_export(&self, outcome: &str, seconds: f64) {
        self.exports.get_or_create(&vec![("outcome".to_string(), outcome.to_string())]).inc();
        self.export_seconds.observe(seconds);
    }

    pub fn count_scheduled(&self, schedule: usize, outcome: &str) {
        let labels = vec![("schedule".to_string(), schedule.to_string()), ("outcome".to_string(), outcome.to_string())];
        self.scheduled.get_or_create(&labels).inc();
    }

    pub fn count_refused(&self, reason: &str) {
        self.refused.get_or_create(&vec![("reason".to_string(), reason.to_string())]).inc();
    }

    /// Adds the checkpoint counters, when checkpoints are configured.
    pub fn with_checkpoints(mut self, m: Arc<crate::checkpoint::CheckpointMetrics>) -> Self {
        self.registry.register_collector(Box::new(CheckpointCollector(m)));
        self
    }

    /// Adds the replica's role: `leader` (1 while this replica leads; always 1 without `ha`) and
    /// `leader_transitions` (times it started or stopped leading).
    pub fn with_role(mut self, role: crate::role::Role) -> Self {
        self.registry.register_collector(Box::new(RoleCollector(role)));
        self
    }

    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

struct TracerCollector {
    metrics: Arc<Metrics>,
    store: Arc<Store>,
    health: Arc<SourceHealth>,
}

impl std::fmt::Debug for TracerCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TracerCollector")
    }
}

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(v);
    c.encode(e.encode_descriptor(name, help, None, c.metric_type())?)
}

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, v: i64) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(v);
    g.encode(e.encode_descriptor(name, help, None, g.metric_type())?)
}

#[derive(Debug)]
struct CheckpointCollector(Arc<crate::checkpoint::CheckpointMetrics>);

impl Collector for CheckpointCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use std::sync::atomic::Ordering::Relaxed;
        let m = &self.0;
        counter(&mut e, "checkpoints_written", "Checkpoints written and read back whole", m.written.load(Relaxed))?;
        counter(
            &mut e,
            "checkpoints_failed",
            "Checkpoints that could not be written or read back",
            m.failed.load(Relaxed),
        )?;
        gauge(
            &mut e,
            "last_checkpoint_timestamp_seconds",
            "When the last checkpoint was written (unix seconds; 0: none yet)",
            m.last_unix.load(Relaxed) as i64,
        )?;
        gauge(&mut e, "last_checkpoint_bytes", "Size of the last checkpoint", m.last_bytes.load(Relaxed) as i64)
    }
}

impl Collector for TracerCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let m = &self.metrics;
        {
            let mut fam =
                e.encode_descriptor("watch_events", "Watch events received, by kind", None, MetricType::Counter)?;
            for (kind, n) in m.events() {
                let labels = vec![("kind".to_string(), kind.to_string())];
                ConstCounter::new(n).encode(fam.encode_family(&labels)?)?;
            }
        }
        {
            let mut fam = e.encode_descriptor(
                "watch_gaps",
                "Gaps recorded in the trace, by kind: re-lists that replaced a watch, whose changes in between are known only by their outcome",
                None,
                MetricType::Counter,
            )?;
            for (kind, n) in m.gaps() {
                let labels = vec![("kind".to_string(), kind.to_string())];
                ConstCounter::new(n).encode(fam.encode_family(&labels)?)?;
            }
        }
        {
            let mut fam = e.encode_descriptor(
                "kind_ready",
                "1 when a watched kind has completed its initial list",
                None,
                MetricType::Gauge,
            )?;
            for (kind, state) in self.health.all() {
                let labels = vec![("kind".to_string(), kind.to_string()), ("state".to_string(), state.describe())];
                ConstGauge::new(i64::from(state.is_ready())).encode(fam.encode_family(&labels)?)?;
            }
        }
        let stats = self.store.stats();
        counter(
            &mut e,
            "object_versions_recorded",
            "Object versions recorded (unchanged objects are not)",
            Metrics::get(&m.recorded),
        )?;
        counter(
            &mut e,
            "relists",
            "Lists started, one per kind at startup and one per watch restart",
            Metrics::get(&m.relists),
        )?;
        counter(
            &mut e,
            "evicted_events",
            "Events folded into the base state by retention",
            Metrics::get(&m.evictions),
        )?;
        counter(
            &mut e,
            "pods_without_owner",
            "Pods not recorded because the owner they name never appeared within the grace period",
            Metrics::get(&m.unresolved_pods),
        )?;
        counter(
            &mut e,
            "objects_decoded_whole",
            "Watched objects decoded whole: lists, tracked objects whose recorded form may have changed, pods' first lifecycles; other changes are read in part",
            Metrics::get(&m.decoded_whole),
        )?;
        gauge(
            &mut e,
            "owner_resolution_watches",
            "Metadata-only watches on intermediate owner kinds (the only requests owner resolution makes)",
            Metrics::get(&m.owner_watches) as i64,
        )?;
        gauge(&mut e, "store_bytes", "Encoded bytes of objects held by the trace", stats.bytes as i64)?;
        gauge(&mut e, "store_events", "Events held by the trace", stats.events as i64)?;
        gauge(&mut e, "store_object_versions", "Object versions held by the trace", stats.object_versions as i64)?;
        gauge(&mut e, "tracked_objects", "Live objects of tracked kinds", stats.live_objects as i64)?;
        Ok(())
    }
}

struct RoleCollector(crate::role::Role);

impl std::fmt::Debug for RoleCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoleCollector")
    }
}

impl Collector for RoleCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        gauge(
            &mut e,
            "leader",
            "1 while this replica leads (runs scheduled exports, writes checkpoints)",
            i64::from(self.0.leads()),
        )?;
        counter(&mut e, "leader_transitions", "Times this replica started or stopped leading", self.0.transitions())
    }
}
