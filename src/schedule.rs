//! Scheduled exports: every `every`, the window `[tick - window, tick)` goes to `to`, with
//! `{start}` and `{end}` filled in. A failed export is retried with backoff until it succeeds, and
//! later windows wait for it, so no window is lost and windows stay contiguous. At shutdown an
//! export in flight finishes, but none starts and none is retried; optionally the window ending
//! at shutdown is exported too.
//!
//! With `ha`, only the leader runs the schedules. After each delivery it writes the window's end
//! to the Lease; a replica that takes over goes on from the window after it, so windows stay
//! contiguous across a change of leader. One window can be delivered twice: the one whose
//! delivery finished just before the leader died, before it could write that down. The second
//! delivery goes to the same destination (the same `{start}` and `{end}`), replacing the first.

use std::sync::Arc;
use std::time::Duration;

use sk_config::{ScheduleFormat, ScheduledExport};
use sk_core::export::{ExportRequest, ExportService, Performed, TraceFormat};
use sk_core::sources::unix_now;
use tokio::sync::watch;

use crate::role::Role;

/// What the schedules work with: the export service, shared with `POST /export`, where each
/// attempt's outcome (`ok` or `failed`) is counted, by schedule index, and this replica's role.
#[derive(Clone)]
pub struct Scheduler {
    pub exports: Arc<ExportService>,
    pub count: Arc<dyn Fn(usize, &'static str) + Send + Sync>,
    pub role: Role,
}

/// A schedule's name for its progress: what fixes its windows (destination, period and length),
/// so that a schedule changed in the config starts afresh instead of going on from another's.
pub fn progress_key(s: &ScheduledExport) -> String {
    let fixes = serde_json::json!({"to": s.to, "every": s.every.as_secs(), "window": s.window.as_secs()});
    format!("{:016x}", sk_core::stable_hash(&fixes))
}

const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(300);

fn request(s: &ScheduledExport, start: i64, end: i64) -> ExportRequest {
    ExportRequest {
        start_ts: start,
        end_ts: end,
        export_path: Some(s.to.replace("{start}", &start.to_string()).replace("{end}", &end.to_string())),
        filters: s.filters.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        format: Some(match s.format {
            ScheduleFormat::V1 => TraceFormat::V1,
            ScheduleFormat::SimkubeV2 => TraceFormat::SimkubeV2,
        }),
        transform: s.program.clone(),
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

/// Why a wait ended.
enum Woke {
    Elapsed,
    Stopped,
    /// This replica stopped leading.
    Lost,
}

async fn wait(d: Duration, stop: &mut watch::Receiver<bool>, role: &Role) -> Woke {
    tokio::select! {
        () = tokio::time::sleep(d) => Woke::Elapsed,
        _ = stop.wait_for(|stopped| *stopped) => Woke::Stopped,
        () = role.lost() => Woke::Lost,
    }
}

async fn run(scheduler: Scheduler, index: usize, s: ScheduledExport, mut stop: watch::Receiver<bool>) {
    let every = s.every.as_secs().max(1) as i64;
    let window = s.window.as_secs().max(1) as i64;
    let key = progress_key(&s);
    let role = scheduler.role.clone();
    'leading: loop {
        if !role.until_leading(&mut stop).await {
            return;
        }
        let mut tick = match role.progress(&key) {
            Some(done) => {
                tracing::info!(
                    schedule = index,
                    after = done,
                    "scheduled exports go on from the last window delivered"
                );
                done + every
            }
            None => unix_now() + every,
        };
        loop {
            let pause = Duration::from_secs((tick - unix_now()).max(0) as u64);
            match wait(pause, &mut stop, &role).await {
                Woke::Elapsed => {}
                Woke::Stopped => return,
                Woke::Lost => continue 'leading,
            }
            let req = request(&s, tick - window, tick);
            let mut delay = RETRY_FIRST;
            while !attempt(&scheduler, index, &req).await {
                match wait(delay, &mut stop, &role).await {
                    Woke::Elapsed => {}
                    Woke::Stopped => return,
                    Woke::Lost => continue 'leading,
                }
                delay = (delay * 2).min(RETRY_MAX);
            }
            role.record_progress(&key, tick).await;
            tick += every;
        }
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
/// quick retries so that shutdown stays within a termination grace period. Only the leader makes
/// them: the others' schedules were not running.
pub async fn on_shutdown(scheduler: &Scheduler, schedules: &[ScheduledExport]) {
    if !scheduler.role.leads() {
        return;
    }
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
