//! The bound on exports in progress. Each export holds a snapshot's cut and its encoding in memory
//! and a CPU for the encoding, so without a bound a burst of requests multiplies the tracer's
//! footprint until the memory limit kills it, and the trace with it.
//!
//! Requests over HTTP are refused at once when no slot is free (429), so that clients back off
//! instead of piling up connections. Scheduled exports share the slots but wait for one: they are
//! the tracer's own work and must not be lost to a busy client. The semaphore is fair, so a waiting
//! scheduled export gets the next free slot before any later request.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What `Retry-After` says when no slot is free: about what a large export takes.
pub const RETRY_AFTER_SECS: u64 = 5;

#[derive(Clone)]
pub struct ExportLimiter {
    slots: Arc<Semaphore>,
    max: usize,
}

/// A slot, given back when dropped. Empty only if the semaphore were closed, which it never is.
pub struct Slot(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

impl ExportLimiter {
    /// At least one slot: the config refuses 0, and with none a scheduled export would wait forever.
    pub fn new(max: u32) -> Self {
        let max = (max as usize).clamp(1, Semaphore::MAX_PERMITS);
        ExportLimiter { slots: Arc::new(Semaphore::new(max)), max }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// A slot if one is free now, for requests over HTTP.
    pub fn try_acquire(&self) -> Option<Slot> {
        self.slots.clone().try_acquire_owned().ok().map(|p| Slot(Some(p)))
    }

    /// Waits for a slot, for scheduled exports.
    pub async fn acquire(&self) -> Slot {
        // Were the semaphore closed, an unbounded export would beat a lost one.
        Slot(self.slots.clone().acquire_owned().await.ok())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn requests_beyond_the_bound_are_refused_until_a_slot_is_given_back() {
        let limiter = ExportLimiter::new(2);
        let a = limiter.try_acquire().expect("first");
        let _b = limiter.try_acquire().expect("second");
        assert!(limiter.try_acquire().is_none());
        drop(a);
        assert!(limiter.try_acquire().is_some());
    }

    #[test]
    fn zero_is_taken_as_one() {
        let limiter = ExportLimiter::new(0);
        assert_eq!(limiter.max(), 1);
        let _a = limiter.try_acquire().expect("one slot");
        assert!(limiter.try_acquire().is_none());
    }

    #[tokio::test]
    async fn a_waiting_export_gets_the_next_slot_before_later_requests() {
        let limiter = ExportLimiter::new(1);
        let held = limiter.try_acquire().expect("free");
        let waiter = tokio::spawn({
            let limiter = limiter.clone();
            async move {
                let _slot = limiter.acquire().await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        // Let the waiter queue up.
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        assert!(limiter.try_acquire().is_none(), "the queued export comes first");
        waiter.await.unwrap();
        assert!(limiter.try_acquire().is_some());
    }
}
