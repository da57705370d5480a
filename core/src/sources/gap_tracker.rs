//! Which re-lists leave a hole in the trace, and how wide it is.
//!
//! A watch that resumes from its last resource version misses nothing: the apiserver replays what
//! happened meanwhile. A re-list that replaces a watch (after a 410 Gone, or whenever the watch
//! lost its place) shows only how things ended up; the changes in between were never seen. That
//! span is a gap: from the last moment the watch was known to be complete (its last event, or
//! when its connection was lost) to when the re-list completed.
//!
//! The first list of a kind is no gap: nothing was being watched before it. A tracer restored
//! from a checkpoint is different: the trace claims to cover the time since the checkpoint, so
//! its first list closes a gap that opened at the checkpoint ([`GapTracker::resuming_from`]).

/// One watch's bookkeeping, fed with what its stream shows; times are unix seconds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GapTracker {
    /// Whether a list has completed, so that another one replaces a watch.
    listed: bool,
    /// While the watch is down: the last moment it was known to be complete.
    complete_until: Option<i64>,
    /// While a re-list that replaces the watch runs: where its gap starts.
    relist_from: Option<i64>,
}

impl GapTracker {
    /// A watch starting afresh: its first list is no gap.
    pub fn new() -> Self {
        Self::default()
    }

    /// A watch whose trace was restored from a checkpoint written at `checkpoint_ts`: its first
    /// list ends a gap that starts there.
    pub fn resuming_from(checkpoint_ts: i64) -> Self {
        GapTracker { listed: true, complete_until: Some(checkpoint_ts), relist_from: None }
    }

    /// An event or a bookmark arrived, or a resumed watch is running again: the watch is
    /// complete up to now.
    pub fn received(&mut self) {
        self.complete_until = None;
    }

    /// The connection failed or the stream ended at `at`: complete up to then, unknown after.
    /// Later failures of the same outage do not move it.
    pub fn lost(&mut self, at: i64) {
        self.complete_until.get_or_insert(at);
    }

    /// A list starts at `at`. If it replaces a watch, its gap starts where the watch was last
    /// known complete. A list that starts over after one that failed keeps the first one's start.
    pub fn relist_started(&mut self, at: i64) {
        if self.listed && self.relist_from.is_none() {
            self.relist_from = Some(self.complete_until.unwrap_or(at));
        }
        self.complete_until = None;
    }

    /// The list completed at `at`: the gap `(from, to)` it closes, if it replaced a watch.
    pub fn relist_done(&mut self, at: i64) -> Option<(i64, i64)> {
        self.listed = true;
        self.complete_until = None;
        self.relist_from.take().map(|from| (from.min(at), at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_list_is_no_gap() {
        let mut t = GapTracker::new();
        t.lost(5);
        t.relist_started(10);
        assert_eq!(t.relist_done(12), None);
    }

    #[test]
    fn a_relist_after_a_lost_connection_spans_from_the_loss_to_its_end() {
        let mut t = GapTracker::new();
        t.relist_started(1);
        t.relist_done(2);
        t.received();
        t.lost(100);
        t.lost(105);
        t.relist_started(130);
        t.received();
        assert_eq!(t.relist_done(131), Some((100, 131)));
        // The next outage is measured afresh.
        t.lost(200);
        t.received();
        t.relist_started(300);
        assert_eq!(t.relist_done(301), Some((300, 301)), "a 410 on a running watch: from then");
    }

    #[test]
    fn a_resumed_watch_leaves_no_gap() {
        let mut t = GapTracker::new();
        t.relist_started(1);
        t.relist_done(2);
        t.lost(10);
        t.received();
        assert_eq!(t.relist_done(20), None);
    }

    #[test]
    fn a_relist_that_fails_and_starts_over_keeps_its_start() {
        let mut t = GapTracker::new();
        t.relist_started(1);
        t.relist_done(2);
        t.lost(10);
        t.relist_started(20);
        t.received();
        t.lost(21);
        t.relist_started(40);
        assert_eq!(t.relist_done(41), Some((10, 41)));
    }

    #[test]
    fn a_restored_trace_has_a_gap_from_its_checkpoint_to_the_first_list() {
        let mut t = GapTracker::resuming_from(1000);
        t.relist_started(1060);
        assert_eq!(t.relist_done(1061), Some((1000, 1061)));
        t.relist_started(1100);
        assert_eq!(t.relist_done(1101), Some((1100, 1101)));
    }

    #[test]
    fn a_clock_that_steps_back_still_gives_an_ordered_gap() {
        let mut t = GapTracker::resuming_from(1000);
        t.relist_started(990);
        assert_eq!(t.relist_done(995), Some((995, 995)));
    }
}
