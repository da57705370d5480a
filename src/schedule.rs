//! Scheduled exports: every `every`, the window `[tick - window, tick)` goes to `to`, with
//! `{start}` and `{end}` filled in. A failed export is retried with backoff until it succeeds, and
//! later windows wait for it, so no window is lost and windows stay contiguous. At shutdown an
//! export in flight finishes, but none starts and none is retried; optionally the window ending
//! at shutdown is exported too.

use std::sync::Arc;
use std::time::Duration;

use sk_config::{ScheduleFormat, ScheduledExport};
use sk_core::export::{ExportRequest, ExportService, Performed, TraceFormat};
use sk_core::sources::unix_now;
use tokio::sync::watch;

/// What the schedules work with: the export service, shared with `POST /export`, and where each
/// attempt's outcome (`ok` or `failed`) is counted, by schedule index.
#[derive(Clone)]
pub struct Scheduler {
    pub exports: Arc<ExportService>,
    pub count: Arc<dyn Fn(usize, &'static str) + Send + Sync>,
}

const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(300);

fn request(s: &ScheduledExport, start: i64, end: i64) -> ExportRequest {
    ExportRequest {
        start_ts: start,
        end_ts: end,
        export_path: Some(s.to.replace("{start}", &start.to_string()).replace("{end}", &end.to_string())),
        filters: s.filters.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        format: match s.format {
            ScheduleFormat::V1 => TraceFormat::V1,
            ScheduleFormat::SimkubeV2 => TraceFormat::SimkubeV2,
        },
    }
}

/// One attempt; the outcome is logged and counted. It waits for a slot among
/// `server.maxConcurrentExports` rather than being refused.
async fn attempt(scheduler: &Scheduler, index: usize, req: &ExportRequest) -> bool {
    let destination = req.export_path.clone().unwrap_or_default();
    let _slot = scheduler.exports.slots().acquire().await;
    match scheduler.exports.perform(req).await {
        Ok(Performed::Delivered { delivered, events, objects }) => {
            tracing::info!(schedule = index, location = %delivered.location, bytes = delivered.bytes, events, objects, "scheduled export");
            (scheduler.count)(index, "ok");
            true
        }
        Ok(Performed::Trace(_)) => {
            tracing::error!(schedule = index, "a scheduled export needs a destination");
            (scheduler.count)(index, "failed");
            true
        }
        Err(e) => {
            tracing::warn!(schedule = index, %destination, error = %e, "scheduled export failed; retrying");
            (scheduler.count)(index, "failed");
            false
        }
    }
}

/// Sleeps for `d`; false if told to stop first (or if whoever could tell it is gone).
pub async fn sleep_unless_stopped(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(d) => true,
        _ = stop.wait_for(|stopped| *stopped) => false,
    }
}

async fn run(scheduler: Scheduler, index: usize, s: ScheduledExport, mut stop: watch::Receiver<bool>) {
    let every = s.every.as_secs().max(1) as i64;
    let window = s.window.as_secs().max(1) as i64;
    let mut tick = unix_now() + every;
    loop {
        let wait = (tick - unix_now()).max(0) as u64;
        if !sleep_unless_stopped(Duration::from_secs(wait), &mut stop).await {
            return;
        }
        let req = request(&s, tick - window, tick);
        let mut delay = RETRY_FIRST;
        while !attempt(&scheduler, index, &req).await {
            if !sleep_unless_stopped(delay, &mut stop).await {
                return;
            }
            delay = (delay * 2).min(RETRY_MAX);
        }
        tick += every;
    }
}

/// One task per schedule; each ends when `stop` turns true, once its export in flight is done.
pub fn spawn(
    scheduler: &Scheduler,
    schedules: &[ScheduledExport],
    stop: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    schedules
        .iter()
        .enumerate()
        .map(|(i, s)| tokio::spawn(run(scheduler.clone(), i, s.clone(), stop.clone())))
        .collect()
}

/// The shutdown exports: the window ending now, for each schedule that asks for it, with a few
/// quick retries so that shutdown stays within a termination grace period.
pub async fn on_shutdown(scheduler: &Scheduler, schedules: &[ScheduledExport]) {
    let end = unix_now() + 1;
    for (i, s) in schedules.iter().enumerate().filter(|(_, s)| s.export_on_shutdown) {
        let req = request(s, end - s.window.as_secs().max(1) as i64, end);
        for _ in 0..3 {
            if attempt(scheduler, i, &req).await {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
