//! What both floor programs share: running until the harness stops them, and the one JSON line
//! they print then.

use tokio::signal::unix::{signal, SignalKind};

/// Returns at SIGTERM or SIGINT.
pub async fn until_stopped() -> std::io::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

/// User and system CPU seconds of this process so far.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct it is given and nothing else.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Prints `{"cpu_seconds": ..., "events": {kind: count}}` on one line of stdout.
pub fn print(events: impl Iterator<Item = (String, u64)>) {
    let events: serde_json::Map<String, serde_json::Value> = events.map(|(k, n)| (k, n.into())).collect();
    println!("{}", serde_json::json!({"cpu_seconds": cpu_seconds(), "events": events}));
}
