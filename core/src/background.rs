//! Bulk work (cutting and encoding exports, encoding checkpoints) on threads that yield the CPU
//! to ingest. A tracer whose watches fall behind loses history to relists; an export that takes
//! longer while the cluster is busy loses nothing.
//!
//! Each piece of work gets a thread of its own under Linux's `SCHED_IDLE` policy: it runs on any
//! CPU time ingest leaves, and a waking ingest thread takes the CPU from it at once, where a
//! thread with a raised nice value may keep its core until its slice ends. Where the policy is
//! refused, the thread's nice value is raised by [`NICENESS`] instead. Whatever holds the store's
//! lock must not run here: a preempted thread would keep ingest waiting on the lock. A thread from a shared pool would keep the lowered priority for later work, since an
//! unprivileged process cannot raise it back.

use std::thread::JoinHandle;

/// The fallback where `SCHED_IDLE` is refused: nice 0 against nice 10 is a weight of 1024
/// against 110.
pub const NICENESS: i32 = 10;

#[derive(Debug, thiserror::Error)]
pub enum BackgroundError {
    #[error("starting a thread for {what}: {source}")]
    Spawn { what: &'static str, source: std::io::Error },
    #[error("{what} stopped unexpectedly (a bug; the recorded trace is unaffected)")]
    Panicked { what: &'static str },
}

/// Runs `work` on a new thread of lower priority.
pub fn spawn<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, BackgroundError> {
    let asked = std::time::Instant::now();
    std::thread::Builder::new()
        .name(format!("sk-{}", what.replace(' ', "-")))
        .spawn(move || {
            lower_priority(what);
            timed(what, asked, work)
        })
        .map_err(|source| BackgroundError::Spawn { what, source })
}

/// Runs `work` on a new thread of lower priority and waits for it without blocking the runtime.
pub async fn run<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, BackgroundError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    spawn(what, move || {
        // The receiver is gone only if the caller was cancelled; the result is then not wanted.
        let _ = tx.send(work());
    })?;
    rx.await.map_err(|_| BackgroundError::Panicked { what })
}

/// Runs `work`, which the caller knows to be small, off the runtime's workers at the tracer's own
/// priority, on a thread the runtime keeps for such work: a few milliseconds of CPU delay ingest
/// no more than its socket's buffers absorb, and a thread below every runnable one on the machine
/// can wait as long again for a CPU before it starts (on the real control plane, the first
/// export of 3,000 objects waited 2 ms of its 4).
pub async fn run_small<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, BackgroundError> {
    let asked = std::time::Instant::now();
    tokio::task::spawn_blocking(move || timed(what, asked, work)).await.map_err(|_| BackgroundError::Panicked { what })
}

/// Runs `work`; at debug level, logs what it cost and what it waited for.
fn timed<T>(what: &'static str, asked: std::time::Instant, work: impl FnOnce() -> T) -> T {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return work();
    }
    let started = std::time::Instant::now();
    let before = ThreadUsage::now();
    let result = work();
    let (after, took) = (ThreadUsage::now(), started.elapsed());
    // The wait before the work started is time the CPU went to others: under `SCHED_IDLE`,
    // everything runnable on the machine (or, in a pod, within the tracer's cgroup).
    tracing::debug!(
        what,
        waited_us = started.saturating_duration_since(asked).as_micros() as u64,
        took_us = took.as_micros() as u64,
        cpu_us = after.cpu_us.saturating_sub(before.cpu_us),
        minor_faults = after.minor_faults.saturating_sub(before.minor_faults),
        major_faults = after.major_faults.saturating_sub(before.major_faults),
        preempted = after.preempted.saturating_sub(before.preempted),
        "bulk work done"
    );
    result
}

/// Moves the calling thread to `SCHED_IDLE`, or raises its nice value by [`NICENESS`] (up to 19)
/// where that is refused. Where both are refused the work still runs, at the tracer's own priority.
pub fn lower_priority(what: &str) {
    #[cfg(target_os = "linux")]
    {
        // On Linux, a thread id given where a process id is expected applies to that thread alone.
        // SAFETY: gettid takes no arguments and cannot fail.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::pid_t;
        let param = libc::sched_param { sched_priority: 0 };
        // The system call itself: musl's wrapper refuses every call (ENOSYS), since Linux applies
        // the policy to one thread where POSIX means the whole process.
        // SAFETY: changes the policy of this thread only; `param` outlives the call; errors come
        // back through the return value, which is checked.
        let rc = unsafe {
            libc::syscall(libc::SYS_sched_setscheduler, tid, libc::SCHED_IDLE, &param as *const libc::sched_param)
        };
        if rc == 0 {
            return;
        }
        let refused = std::io::Error::last_os_error();
        // SAFETY: reads and sets the nice value of this thread only, as above.
        let current = unsafe { libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t) };
        // SAFETY: as above.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, (current + NICENESS).min(19)) } != 0 {
            tracing::debug!(what, error = %std::io::Error::last_os_error(), %refused, "could not lower the priority of a bulk-work thread");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = what;
}

/// What the calling thread has used so far, for the debug log of each piece of bulk work.
#[derive(Default)]
struct ThreadUsage {
    cpu_us: u64,
    minor_faults: u64,
    major_faults: u64,
    /// Involuntary context switches: times the thread was taken off its CPU.
    preempted: u64,
}

impl ThreadUsage {
    fn now() -> ThreadUsage {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: an all-zero `rusage` is a valid value; getrusage fills it for this thread
            // only and reports failure through its return value, checked.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) } == 0 {
                let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
                return ThreadUsage {
                    cpu_us: us(usage.ru_utime) + us(usage.ru_stime),
                    minor_faults: usage.ru_minflt as u64,
                    major_faults: usage.ru_majflt as u64,
                    preempted: usage.ru_nivcsw as u64,
                };
            }
        }
        ThreadUsage::default()
    }
}

/// The calling thread's scheduling policy.
#[cfg(all(test, target_os = "linux"))]
pub(crate) fn current_policy() -> i32 {
    // SAFETY: as in `lower_priority`; reads this thread's policy only.
    unsafe { libc::syscall(libc::SYS_sched_getscheduler, libc::syscall(libc::SYS_gettid)) as i32 }
}

/// The calling thread's nice value.
#[cfg(all(test, target_os = "linux"))]
fn current_niceness() -> i32 {
    // SAFETY: as in `lower_priority`.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
    // SAFETY: reads this thread's priority only.
    unsafe { libc::getpriority(libc::PRIO_PROCESS, tid) }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bulk_work_runs_below_the_tracers_priority_and_returns_its_result() {
        let own = current_niceness();
        let own_policy = current_policy();
        let (result, policy, nice) = run("test work", || (6 * 7, current_policy(), current_niceness())).await.unwrap();
        assert_eq!(result, 42);
        // Linux lets any thread lower its own policy; the nice fallback is for systems that refuse.
        assert_eq!(policy, libc::SCHED_IDLE, "nice {nice}");
        // The caller's thread is untouched.
        assert_eq!((current_policy(), current_niceness()), (own_policy, own));
    }

    #[tokio::test]
    async fn small_work_runs_at_the_tracers_priority_and_returns_its_result() {
        let own = (current_policy(), current_niceness());
        let (result, policy, nice) =
            run_small("test work", || (6 * 7, current_policy(), current_niceness())).await.unwrap();
        assert_eq!((result, (policy, nice)), (42, own));
        let err = run_small("test work", || -> u32 { panic!("boom") }).await.unwrap_err();
        assert!(matches!(err, BackgroundError::Panicked { what: "test work" }), "{err}");
    }

    #[test]
    fn a_threads_usage_counts_its_own_cpu_time() {
        let before = ThreadUsage::now();
        let spin = std::time::Instant::now();
        let mut x = 0u64;
        while spin.elapsed() < std::time::Duration::from_millis(30) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
        }
        let after = ThreadUsage::now();
        // Some of the 30 ms may go to other processes on a busy machine, never all of it.
        assert!(after.cpu_us > before.cpu_us, "{} then {}", before.cpu_us, after.cpu_us);
    }

    #[tokio::test]
    async fn a_panic_in_bulk_work_is_an_error_not_a_crash() {
        let err = run("test work", || -> u32 { panic!("boom") }).await.unwrap_err();
        assert!(matches!(err, BackgroundError::Panicked { what: "test work" }), "{err}");
    }
}
