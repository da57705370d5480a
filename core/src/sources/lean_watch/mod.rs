//! A list-then-watch client for the kinds the tracer watches, leaner than kube-runtime's
//! `watcher` on the same protocol and with the same semantics (re-list on 410 Gone, resume from
//! the last resource version, bookmarks, backoff); kube's client still makes the requests, with
//! its configuration, authentication and TLS.
//!
//! On a real control plane the watches, not what the tracer does with their events, were most of
//! its CPU: kube's watcher decodes every object's metadata into typed structs (`managedFields`
//! included), hands each event through a channel of its own, and each wakes the scheduler. Here
//! a body is read in large chunks, cut into lines, and each line decoded once into what the
//! ingest loop reads ([`wire`]); a stream's events go to the ingest loop as one batch; and busy
//! streams are read at a shared tick rather than at every event ([`driver`]).
//!
//! The protocol is a state machine apart from the I/O ([`state`]); the waits between retries are
//! [`crate::sources::backoff`]'s.

mod driver;
mod lines;
mod state;
mod wire;

pub use driver::{run, Sink, Stopped, Target, WatchError};
pub use state::{Line, Listed};
pub use wire::{line, OwnerMeta, Watched};
