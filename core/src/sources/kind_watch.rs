//! One watch on one kind: discovery, then the lean watch client ([`super::lean_watch`]), its
//! events sent on as `Change`s; retries wait as [`super::backoff`] says, and re-lists that replace
//! the watch are reported as gaps.

use std::sync::Arc;
use std::time::Instant;

use kube::api::GroupVersionKind;
use kube::{discovery, Client, Resource};
use serde_json::Value;
use tokio::sync::mpsc;

use super::backoff::{Backoff, ErrorClass};
use super::lean_watch::{self, OwnerMeta, Sink, Stopped, Target};
use super::{unix_now, Change, GapTracker, KindState, RawObject, SourceHealth};
use crate::gvk::Gvk;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchMode {
    /// Whole objects: tracked kinds and pods.
    Full,
    /// Metadata only, for intermediate owners: far less data for the apiserver to send.
    MetadataOnly,
}

/// Watches `gvk` until the receiving end of `tx` is dropped. Each batch holds changes that
/// arrived together, in the order they arrived. `gaps` says whether the first list ends a gap
/// (a trace restored from a checkpoint) or not.
pub fn spawn_kind_watch(
    client: Client,
    gvk: Gvk,
    mode: WatchMode,
    tx: mpsc::Sender<Vec<Change>>,
    health: Arc<SourceHealth>,
    gaps: GapTracker,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        health.set(&gvk, KindState::Starting);
        let mut w = Sink { gvk, tx, health, gaps, backoff: Backoff::default() };
        loop {
            let gvk_k = GroupVersionKind::gvk(&w.gvk.group, &w.gvk.version, &w.gvk.kind);
            let class = match discovery::pinned_kind(&client, &gvk_k).await {
                Ok((ar, _caps)) => {
                    w.backoff.reset();
                    let gvk = w.gvk.clone();
                    let target = Target {
                        client: &client,
                        url_path: RawObject::url_path(&ar, None),
                        metadata_only: mode == WatchMode::MetadataOnly,
                        gvk: &gvk,
                    };
                    let stopped = match mode {
                        WatchMode::Full => lean_watch::run::<RawObject>(target, &mut w).await,
                        WatchMode::MetadataOnly => lean_watch::run::<OwnerMeta>(target, &mut w).await,
                    };
                    match stopped {
                        Stopped::Receiver => return,
                        Stopped::KindGone => {
                            w.health.watch_down(&w.gvk, KindState::NotInstalled, Instant::now());
                            ErrorClass::Refused
                        }
                    }
                }
                Err(e) => {
                    w.gaps.lost(unix_now());
                    w.health.watch_down(&w.gvk, classify_discovery(&e), Instant::now());
                    ErrorClass::of_kube(&e)
                }
            };
            if w.tx.is_closed() {
                return;
            }
            tokio::time::sleep(w.backoff.next_delay(class)).await;
        }
    })
}

fn classify_discovery(e: &kube::Error) -> KindState {
    match e {
        kube::Error::Api(s) if s.code == 403 => KindState::Forbidden(s.message.clone()),
        kube::Error::Api(s) if s.code == 404 => KindState::NotInstalled,
        kube::Error::Discovery(_) => KindState::NotInstalled,
        _ => KindState::Failing(e.to_string()),
    }
}

/// The object as the JSON the apiserver sent, with `apiVersion` and `kind` always present (list
/// items may omit them).
pub fn object_json(obj: RawObject, gvk: &Gvk) -> Value {
    obj.to_json(gvk)
}
