//! When each change happened, by the cluster's clock where the object says so, so that a trace
//! does not depend on how promptly the tracer read its watches (docs/event-times.md).
//!
//! - A change of an object that exists (created, updated, listed) happened at the newest of the
//!   times it carries: its managers' latest write (`managedFields[].time`), its creation, a
//!   graceful deletion's request (`deletionTimestamp` less its grace).
//! - A deletion with a `deletionTimestamp` happened then, or at its last write if that is later.
//! - Any change happened after every change with a lower resource version, when resource versions
//!   are integers (etcd revisions, ordered across kinds): the latest time of those is a floor.
//! - A deletion without a time of its own (an immediate one, as of a Deployment) happened after
//!   that floor and no later than its receipt: it is placed as long after the floor's change as it
//!   was received after that change, so that a backlog received at once keeps the floor's second
//!   while a live watch keeps the receipt's.
//!
//! No change is placed after its receipt; without any of these, it is placed at its receipt. The
//! store then places no change before the same object's previous recorded one.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::sources::ObjectTimes;

/// How a change came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// A watch event: the object as created or changed.
    Applied,
    /// A watch event: the object as deleted.
    Deleted,
    /// An item of a (re-)list: the object as it is, however long ago it changed.
    Listed,
}

/// A floor for every change with a higher resource version: one with this revision happened at
/// `time` or later, and was received at `received` (its time, for a listed object: a list says
/// nothing of how late a watch delivers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Floor {
    time: i64,
    received: i64,
}

/// Floors kept: one per second at most, so about an hour of a busy cluster.
const MAX_FLOORS: usize = 4096;

#[derive(Default)]
pub struct EventClock {
    /// By revision, times strictly increasing with revision: the entry just below a revision holds
    /// the latest time of every change below it that was seen.
    floors: BTreeMap<u64, Floor>,
}

impl EventClock {
    /// The second a change received at `received` happened.
    pub fn stamp(&mut self, received: i64, times: &ObjectTimes, arrival: Arrival) -> i64 {
        let floor = times.revision.and_then(|r| self.floor_below(r));
        let lower = floor.map_or(i64::MIN, |f| f.time);
        // What the object itself shows it happened after: sound for any change.
        let shown = [times.written, times.created, times.deletion_requested()].into_iter().flatten().max();
        let claim = match arrival {
            Arrival::Applied | Arrival::Listed => shown,
            Arrival::Deleted => times.deletion.map(|d| d.max(shown.unwrap_or(d))),
        };
        let at = match (claim, floor) {
            (Some(claim), _) => claim.max(lower),
            (None, Some(f)) => (f.time + (received - f.received).max(0)).max(shown.unwrap_or(i64::MIN)),
            (None, None) => received,
        };
        if let (Some(revision), Some(time)) = (times.revision, shown) {
            let time = time.min(received);
            let received = if arrival == Arrival::Listed { time } else { received };
            self.learn(revision, Floor { time, received });
        }
        at.min(received)
    }

    fn floor_below(&self, revision: u64) -> Option<Floor> {
        self.floors.range(..revision).next_back().map(|(_, f)| *f)
    }

    fn learn(&mut self, revision: u64, floor: Floor) {
        if self.floors.range(..=revision).next_back().is_some_and(|(_, f)| f.time >= floor.time) {
            return;
        }
        let dominated: Vec<u64> = self
            .floors
            .range((Bound::Excluded(revision), Bound::Unbounded))
            .take_while(|(_, f)| f.time <= floor.time)
            .map(|(r, _)| *r)
            .collect();
        for r in dominated {
            self.floors.remove(&r);
        }
        self.floors.insert(revision, floor);
        if self.floors.len() > MAX_FLOORS {
            self.floors.pop_first();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_764_000_000;

    fn written(rv: u64, at: i64) -> ObjectTimes {
        ObjectTimes { written: Some(at), created: Some(T - 100), revision: Some(rv), ..Default::default() }
    }

    fn bare(rv: Option<u64>) -> ObjectTimes {
        ObjectTimes { revision: rv, ..Default::default() }
    }

    #[test]
    fn an_update_is_stamped_with_its_newest_write_never_after_its_receipt() {
        let mut c = EventClock::default();
        assert_eq!(c.stamp(T + 30, &written(10, T), Arrival::Applied), T, "received late: its write");
        assert_eq!(c.stamp(T + 31, &written(11, T + 40), Arrival::Applied), T + 31, "a clock ahead: its receipt");
        let created = ObjectTimes { created: Some(T + 2), revision: Some(12), ..Default::default() };
        assert_eq!(c.stamp(T + 31, &created, Arrival::Applied), T + 31, "the floor of a lower revision");
        assert_eq!(c.stamp(T + 50, &ObjectTimes::default(), Arrival::Applied), T + 50, "nothing known: receipt");
    }

    #[test]
    fn a_change_is_never_before_one_of_a_lower_revision() {
        let mut c = EventClock::default();
        c.stamp(T + 30, &written(20, T + 8), Arrival::Applied);
        // A stale write time (a change no manager's time shows) at a higher revision.
        assert_eq!(c.stamp(T + 30, &written(21, T + 1), Arrival::Applied), T + 8);
        // A lower revision is not bound by a higher one.
        assert_eq!(c.stamp(T + 30, &written(19, T + 1), Arrival::Applied), T + 1);
        // Resource versions that are not integers bound nothing.
        let opaque = ObjectTimes { written: Some(T + 2), ..Default::default() };
        assert_eq!(c.stamp(T + 30, &opaque, Arrival::Applied), T + 2);
    }

    #[test]
    fn a_graceful_deletion_is_stamped_with_its_deletion_timestamp() {
        let mut c = EventClock::default();
        let requested = ObjectTimes {
            written: Some(T),
            deletion: Some(T + 35),
            deletion_grace: Some(30),
            revision: Some(5),
            ..Default::default()
        };
        assert_eq!(c.stamp(T + 60, &requested, Arrival::Applied), T + 5, "the request: due time less grace");
        let gone = ObjectTimes { deletion: Some(T + 5), deletion_grace: Some(0), revision: Some(6), ..requested };
        assert_eq!(c.stamp(T + 60, &gone, Arrival::Deleted), T + 5);
        let written_later = ObjectTimes { written: Some(T + 9), revision: Some(7), ..gone };
        assert_eq!(c.stamp(T + 60, &written_later, Arrival::Deleted), T + 9, "its last write, if later");
    }

    #[test]
    fn a_deletion_without_a_time_follows_the_floor_by_its_receipt_gap() {
        let mut c = EventClock::default();
        // A backlog: an update written at T, received 30 s late; deletions received with it.
        c.stamp(T + 30, &written(100, T), Arrival::Applied);
        assert_eq!(c.stamp(T + 30, &bare(Some(101)), Arrival::Deleted), T);
        assert_eq!(c.stamp(T + 31, &bare(Some(102)), Arrival::Deleted), T + 1);
        // Its own last write is a floor too.
        let own = ObjectTimes { written: Some(T + 3), revision: Some(103), ..Default::default() };
        assert_eq!(c.stamp(T + 30, &own, Arrival::Deleted), T + 3);
        // Live: received when written, so a deletion much later is placed at its receipt.
        let mut live = EventClock::default();
        live.stamp(T, &written(100, T), Arrival::Applied);
        assert_eq!(live.stamp(T + 600, &bare(Some(101)), Arrival::Deleted), T + 600);
        // A listed object says nothing of delivery: a deletion after it is placed at its receipt.
        let mut listed = EventClock::default();
        listed.stamp(T + 3600, &written(100, T), Arrival::Listed);
        assert_eq!(listed.stamp(T + 3700, &bare(Some(101)), Arrival::Deleted), T + 3700);
        // Nothing below it, or no revision: its receipt.
        assert_eq!(c.stamp(T + 40, &bare(Some(50)), Arrival::Deleted), T + 40);
        assert_eq!(c.stamp(T + 40, &bare(None), Arrival::Deleted), T + 40);
    }

    #[test]
    fn floors_stay_few_and_monotone() {
        let mut c = EventClock::default();
        for rv in 0..10_000u64 {
            c.stamp(T + 5000, &written(rv, T + (rv / 2) as i64), Arrival::Applied);
        }
        assert!(c.floors.len() <= MAX_FLOORS);
        let floors: Vec<_> = c.floors.iter().map(|(r, f)| (*r, f.time)).collect();
        assert!(floors.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));
        // A late-learned lower revision with a later time replaces the floors it dominates.
        let mut d = EventClock::default();
        d.stamp(T + 50, &written(10, T + 1), Arrival::Applied);
        d.stamp(T + 50, &written(12, T + 2), Arrival::Applied);
        d.stamp(T + 50, &written(11, T + 5), Arrival::Applied);
        assert_eq!(d.floors.keys().copied().collect::<Vec<_>>(), [10, 11]);
        assert_eq!(d.stamp(T + 50, &bare(Some(13)), Arrival::Deleted), T + 5);
    }
}
