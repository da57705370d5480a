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
    std::thread::Builder::new()
        .name(format!("sk-{}", what.replace(' ', "-")))
        .spawn(move || {
            lower_priority(what);
            work()
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

/// The calling thread's scheduling policy.
#[cfg(all(test, target_os = "linux"))]
fn current_policy() -> i32 {
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
    async fn a_panic_in_bulk_work_is_an_error_not_a_crash() {
        let err = run("test work", || -> u32 { panic!("boom") }).await.unwrap_err();
        assert!(matches!(err, BackgroundError::Panicked { what: "test work" }), "{err}");
    }
}
