//! Where a change's second lies among the events: the open events, a sealed chunk, or a second
//! with no event yet. Watches of different kinds deliver late relative to each other, so a change
//! can belong to a second before the newest event; it goes into its own second all the same.
//!
//! Sealed chunks are shared with snapshots: one that must change is rebuilt (its events moved out
//! when nothing else holds it, copied when a snapshot does), so a snapshot keeps what it saw.

use std::sync::Arc;

use super::{State, StoredEvent, CHUNK_EVENTS};
use crate::trace::ObjectIdentity;

/// An event's place: in the open events, or in a sealed chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Slot {
    Open(usize),
    Sealed { chunk: usize, at: usize },
}

impl State {
    /// The first event a sealed chunk still holds (the first chunk's earliest ones may have been
    /// folded into the base state).
    fn chunk_start(&self, chunk: usize) -> usize {
        if chunk == 0 {
            self.sealed_skip
        } else {
            0
        }
    }

    /// The event of second `ts`, or where one for it would go.
    fn find(&self, ts: i64) -> Result<Slot, Slot> {
        if self.open.first().is_some_and(|e| ts >= e.ts) || self.sealed.is_empty() {
            return self.open.binary_search_by_key(&ts, |e| e.ts).map(Slot::Open).map_err(Slot::Open);
        }
        // The first chunk's folded events are older than any change placed here (those go to the
        // base state), so its first event, folded or not, compares as its first retained one.
        let chunk = self.sealed.partition_point(|c| c.first().is_some_and(|e| e.ts <= ts)).saturating_sub(1);
        let start = self.chunk_start(chunk);
        let events = self.sealed[chunk].get(start..).unwrap_or_default();
        match events.binary_search_by_key(&ts, |e| e.ts) {
            Ok(i) => Ok(Slot::Sealed { chunk, at: start + i }),
            Err(i) => Err(Slot::Sealed { chunk, at: start + i }),
        }
    }

    /// Whether `slot` is the newest event, whose objects' places `latest_at` knows.
    pub(super) fn is_latest(&self, slot: Slot) -> bool {
        slot == Slot::Open(self.open.len().wrapping_sub(1))
    }

    /// The event of second `ts`, made if there is none. One made after every other event seals the
    /// open events once they fill a chunk.
    pub(super) fn event_at(&mut self, ts: i64) -> Slot {
        let slot = match self.find(ts) {
            Ok(slot) => return slot,
            Err(slot) => slot,
        };
        self.events += 1;
        let event = StoredEvent { ts, ..Default::default() };
        match slot {
            Slot::Open(at) if at == self.open.len() => {
                if self.open.len() >= CHUNK_EVENTS {
                    let chunk: Arc<[StoredEvent]> = std::mem::take(&mut self.open).into();
                    self.sealed.push_back(chunk);
                }
                self.latest_at.clear();
                self.open.push(event);
                Slot::Open(self.open.len() - 1)
            }
            Slot::Open(at) => {
                self.open.insert(at, event);
                Slot::Open(at)
            }
            Slot::Sealed { chunk, at } => {
                let mut events = unshare(&mut self.sealed[chunk]);
                events.insert(at, event);
                self.sealed[chunk] = events.into();
                Slot::Sealed { chunk, at }
            }
        }
    }

    /// The event at `slot`, to change: a sealed chunk is rebuilt first unless nothing else holds it.
    pub(super) fn event_mut(&mut self, slot: Slot) -> &mut StoredEvent {
        match slot {
            Slot::Open(at) => &mut self.open[at],
            Slot::Sealed { chunk, at } => {
                let shared = &mut self.sealed[chunk];
                if Arc::get_mut(shared).is_none() {
                    *shared = shared.iter().cloned().collect::<Vec<_>>().into();
                }
                &mut Arc::get_mut(shared).expect("a chunk nothing else holds")[at]
            }
        }
    }

    pub(super) fn event(&self, slot: Slot) -> &StoredEvent {
        match slot {
            Slot::Open(at) => &self.open[at],
            Slot::Sealed { chunk, at } => &self.sealed[chunk][at],
        }
    }

    /// Where `id` is among the applied objects of the event at `slot`: looked up in the newest
    /// event, which can hold thousands of objects in a busy second; searched in an older one,
    /// which only a late change reaches.
    pub(super) fn applied_position(&self, slot: Slot, id: &Arc<ObjectIdentity>) -> Option<usize> {
        if self.is_latest(slot) {
            return self.latest_at.get(id).copied();
        }
        self.event(slot).applied.iter().position(|o| o.id == *id)
    }
}

/// A sealed chunk's events, to rebuild it: moved out if nothing else holds the chunk, else copied.
fn unshare(chunk: &mut Arc<[StoredEvent]>) -> Vec<StoredEvent> {
    match Arc::get_mut(chunk) {
        Some(events) => events.iter_mut().map(std::mem::take).collect(),
        None => chunk.to_vec(),
    }
}
