//! How long a watch (or a discovery lookup) waits before it tries again, by what went wrong.
//!
//! An apiserver that cannot be reached is retried quickly, with a small bounded delay, so a
//! restarted apiserver is watched again within about a second of answering; a tracer that waited
//! longer would see the changes made meanwhile only as a re-list's final state. An apiserver that
//! answers and refuses (429, 5xx, 403, ...) is overloaded or misconfigured: asking it again at
//! once adds to its load, so those delays grow exponentially to tens of seconds.
//!
//! The classifier and the delays know nothing of a particular watch client: [`ErrorClass::of_status`]
//! takes an HTTP status (or none, for an error below HTTP), [`ErrorClass::of_kube`] reads a kube
//! client error, and [`Backoff`] is plain state a loop consults after each failure.

use std::hash::BuildHasher;
use std::time::Duration;

/// What kind of failure a retry follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// No answer from the apiserver: connection refused or reset, a stream that ended, a timeout,
    /// TLS or DNS trouble. Retried quickly.
    Connection,
    /// The watch's resource version is gone (410): a re-list follows at once.
    Gone,
    /// The apiserver answered and refused: 429, 5xx, 403 or another status. Retried with growing
    /// delays.
    Refused,
}

impl ErrorClass {
    /// The class of a failure with HTTP status `status`, or of one below HTTP (`None`).
    pub fn of_status(status: Option<u16>) -> ErrorClass {
        match status {
            None => ErrorClass::Connection,
            Some(410) => ErrorClass::Gone,
            Some(_) => ErrorClass::Refused,
        }
    }

    /// The class of an error from kube's client.
    pub fn of_kube(e: &kube::Error) -> ErrorClass {
        match e {
            kube::Error::Api(status) => ErrorClass::of_status(Some(status.code)),
            // The request never got an answer, or the answer's stream broke off.
            kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => ErrorClass::Connection,
            // An answer that could not be read, a kind discovery does not know: asking again at
            // once would get the same.
            _ => ErrorClass::Refused,
        }
    }
}

/// Delays for one class: `first`, doubling up to `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub first: Duration,
    pub max: Duration,
}

/// The delays of each class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    pub connection: Schedule,
    pub refused: Schedule,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            connection: Schedule { first: Duration::from_millis(100), max: Duration::from_secs(1) },
            refused: Schedule { first: Duration::from_millis(800), max: Duration::from_secs(30) },
        }
    }
}

/// The retry state of one watch: failures since the last success, per class.
#[derive(Debug)]
pub struct Backoff {
    policy: Policy,
    connection_failures: u32,
    refused_failures: u32,
    jitter: std::hash::RandomState,
    draws: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Policy::default())
    }
}

impl Backoff {
    pub fn new(policy: Policy) -> Self {
        Backoff { policy, connection_failures: 0, refused_failures: 0, jitter: Default::default(), draws: 0 }
    }

    /// The delay before the next try after a failure of `class`. Each delay is jittered down to
    /// as little as half of it, so that many watches failing together do not retry in step.
    pub fn next_delay(&mut self, class: ErrorClass) -> Duration {
        let (schedule, failures) = match class {
            // A 410 is the apiserver telling the watch to re-list: that is a retry at once, unless
            // re-lists keep failing, which then wait as a lost connection does.
            ErrorClass::Gone if self.connection_failures == 0 && self.refused_failures == 0 => {
                self.connection_failures += 1;
                return Duration::ZERO;
            }
            ErrorClass::Connection | ErrorClass::Gone => (self.policy.connection, &mut self.connection_failures),
            ErrorClass::Refused => (self.policy.refused, &mut self.refused_failures),
        };
        let doublings = (*failures).min(20);
        *failures = failures.saturating_add(1);
        let full = schedule.first.saturating_mul(1 << doublings).min(schedule.max);
        full.mul_f64(0.5 + 0.5 * self.draw())
    }

    /// After a success: the next failure starts the schedules over.
    pub fn reset(&mut self) {
        self.connection_failures = 0;
        self.refused_failures = 0;
    }

    /// A number in `[0, 1)`.
    fn draw(&mut self) -> f64 {
        self.draws += 1;
        (self.jitter.hash_one(self.draws) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_classed_by_whether_the_apiserver_answered() {
        assert_eq!(ErrorClass::of_status(None), ErrorClass::Connection);
        assert_eq!(ErrorClass::of_status(Some(410)), ErrorClass::Gone);
        for code in [403, 429, 500, 503, 504, 404, 401] {
            assert_eq!(ErrorClass::of_status(Some(code)), ErrorClass::Refused, "{code}");
        }
    }

    #[test]
    fn kube_errors_are_classed_by_their_cause() {
        let api = |code| kube::Error::Api(kube::core::Status::failure("no", "X").with_code(code).boxed());
        assert_eq!(ErrorClass::of_kube(&api(429)), ErrorClass::Refused);
        assert_eq!(ErrorClass::of_kube(&api(503)), ErrorClass::Refused);
        assert_eq!(ErrorClass::of_kube(&api(403)), ErrorClass::Refused);
        assert_eq!(ErrorClass::of_kube(&api(410)), ErrorClass::Gone);
        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
        assert_eq!(ErrorClass::of_kube(&kube::Error::ReadEvents(reset)), ErrorClass::Connection);
        let refused: Box<dyn std::error::Error + Send + Sync> =
            Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(ErrorClass::of_kube(&kube::Error::Service(refused)), ErrorClass::Connection);
        let garbled = serde_json::from_str::<u8>("x").unwrap_err();
        assert_eq!(ErrorClass::of_kube(&kube::Error::SerdeError(garbled)), ErrorClass::Refused);
    }

    #[test]
    fn a_lost_connection_is_retried_within_a_second_however_long_it_lasts() {
        let mut b = Backoff::default();
        let delays: Vec<Duration> = (0..100).map(|_| b.next_delay(ErrorClass::Connection)).collect();
        assert!(delays[0] >= Duration::from_millis(50) && delays[0] <= Duration::from_millis(100), "{delays:?}");
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(1)), "{delays:?}");
        assert!(delays[10..].iter().all(|d| *d >= Duration::from_millis(500)), "{delays:?}");
    }

    #[test]
    fn refusals_back_off_to_tens_of_seconds() {
        let mut b = Backoff::default();
        let delays: Vec<Duration> = (0..12).map(|_| b.next_delay(ErrorClass::Refused)).collect();
        assert!(delays[0] <= Duration::from_millis(800), "{delays:?}");
        assert!(delays[11] >= Duration::from_secs(15) && delays[11] <= Duration::from_secs(30), "{delays:?}");
        // A refusal does not slow the retries of a connection lost afterwards, nor the reverse.
        assert!(b.next_delay(ErrorClass::Connection) <= Duration::from_millis(100));
    }

    #[test]
    fn a_success_starts_over_and_a_410_relists_at_once() {
        let mut b = Backoff::default();
        for _ in 0..10 {
            b.next_delay(ErrorClass::Refused);
        }
        b.reset();
        assert!(b.next_delay(ErrorClass::Refused) <= Duration::from_millis(800));
        b.reset();
        assert_eq!(b.next_delay(ErrorClass::Gone), Duration::ZERO);
        assert!(b.next_delay(ErrorClass::Gone) > Duration::ZERO, "repeated 410s wait");
    }

    #[test]
    fn jitter_spreads_retries() {
        let mut b = Backoff::default();
        let delays: std::collections::HashSet<Duration> = (0..20)
            .map(|_| {
                b.reset();
                b.next_delay(ErrorClass::Connection)
            })
            .collect();
        assert!(delays.len() > 10, "{delays:?}");
    }
}
