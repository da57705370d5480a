//! What a process costs, from /proc.

use serde_json::{json, Value};

/// A process's CPU seconds (user and system) and resident memory (now and peak, bytes).
pub fn process_usage(pid: u32) -> (f64, u64, u64) {
    let (cpu, rss, peak, _) = process_memory(pid);
    (cpu, rss, peak)
}

/// [`process_usage`], and the resident memory split as /proc splits it: anonymous (the heap,
/// stacks) and file-backed (the binary's pages).
pub fn process_memory(pid: u32) -> (f64, u64, u64, Value) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let cpu = (ticks(11) + ticks(12)) / hz;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    let split = json!({"anonymous": kb("RssAnon:"), "file": kb("RssFile:"), "shmem": kb("RssShmem:")});
    (cpu, kb("VmRSS:"), kb("VmHWM:"), split)
}
