//! How long a watch waits before it tries again. A dropped connection or a stream cut short is
//! the ordinary life of a watch (apiserver restarts, load balancers, timeouts) and is retried
//! promptly; only an apiserver that says it is overloaded or failing (429, 5xx), or refuses the
//! tracer (403, which takes a person to fix), is backed off exponentially.

use std::time::Duration;

/// What went wrong, as far as waiting is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No answer: the connection could not be made or broke.
    Connection,
    /// The apiserver answered with this HTTP status (or an `ERROR` event carrying it).
    Status(u16),
    /// An answer that made no sense (an undecodable body, a list without a version).
    Protocol,
}

const PROMPT_FIRST: Duration = Duration::from_millis(100);
const PROMPT_MAX: Duration = Duration::from_secs(1);
const BACKOFF_FIRST: Duration = Duration::from_millis(800);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Consecutive failures and what the next wait is.
#[derive(Debug, Default)]
pub struct Retry {
    failures: u32,
}

impl Retry {
    /// The wait before trying again after `failure`.
    pub fn after(&mut self, failure: Failure) -> Duration {
        let n = self.failures.min(16);
        self.failures = self.failures.saturating_add(1);
        let (first, max) = match failure {
            Failure::Status(410) => return Duration::ZERO,
            Failure::Status(429 | 403) | Failure::Status(500..=599) => (BACKOFF_FIRST, BACKOFF_MAX),
            Failure::Connection | Failure::Status(_) | Failure::Protocol => (PROMPT_FIRST, PROMPT_MAX),
        };
        first.saturating_mul(1 << n).min(max)
    }

    /// A request succeeded: the next failure starts the sequence over.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waits(failure: Failure, n: usize) -> Vec<u64> {
        let mut r = Retry::default();
        (0..n).map(|_| r.after(failure).as_millis() as u64).collect()
    }

    #[test]
    fn connection_errors_are_retried_promptly_and_overload_backs_off() {
        assert_eq!(waits(Failure::Connection, 6), [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(waits(Failure::Status(503), 7), [800, 1600, 3200, 6400, 12800, 25600, 30000]);
        assert_eq!(waits(Failure::Status(429), 2), [800, 1600]);
        assert_eq!(waits(Failure::Status(403), 2), [800, 1600]);
        assert_eq!(waits(Failure::Status(410), 3), [0, 0, 0], "a 410 lists again at once");
        assert_eq!(waits(Failure::Protocol, 2), [100, 200]);
        assert_eq!(waits(Failure::Status(500), 40).last(), Some(&30000), "no overflow");
    }

    #[test]
    fn success_starts_over() {
        let mut r = Retry::default();
        r.after(Failure::Status(500));
        r.after(Failure::Status(500));
        r.reset();
        assert_eq!(r.after(Failure::Status(500)), BACKOFF_FIRST);
    }
}
