//! One watch on one kind: discovery, then the lean watch client, its events sent on as `Change`s.

use std::sync::Arc;
use std::time::Duration;

use kube::api::GroupVersionKind;
use kube::{discovery, Client, Resource};
use serde_json::Value;
use tokio::sync::mpsc;

use super::lean_watch::{self, OwnerMeta, Stopped, Target};
use super::{Change, KindState, RawObject, SourceHealth};
use crate::gvk::Gvk;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchMode {
    /// Whole objects: tracked kinds and pods.
    Full,
    /// Metadata only, for intermediate owners: far less data for the apiserver to send.
    MetadataOnly,
}

const DISCOVERY_BACKOFF_MIN: Duration = Duration::from_millis(500);
const DISCOVERY_BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Watches `gvk` until the receiving end of `tx` is dropped. Each batch holds changes that
/// arrived together, in the order they arrived.
pub fn spawn_kind_watch(
    client: Client,
    gvk: Gvk,
    mode: WatchMode,
    tx: mpsc::Sender<Vec<Change>>,
    health: Arc<SourceHealth>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut delay = DISCOVERY_BACKOFF_MIN;
        health.set(&gvk, KindState::Starting);
        loop {
            let gvk_k = GroupVersionKind::gvk(&gvk.group, &gvk.version, &gvk.kind);
            match discovery::pinned_kind(&client, &gvk_k).await {
                Ok((ar, _caps)) => {
                    delay = DISCOVERY_BACKOFF_MIN;
                    let target = Target {
                        client: &client,
                        url_path: RawObject::url_path(&ar, None),
                        metadata_only: mode == WatchMode::MetadataOnly,
                        gvk: &gvk,
                    };
                    let stopped = match mode {
                        WatchMode::Full => lean_watch::run::<RawObject>(target, &tx, &health).await,
                        WatchMode::MetadataOnly => lean_watch::run::<OwnerMeta>(target, &tx, &health).await,
                    };
                    match stopped {
                        Stopped::Receiver => return,
                        Stopped::KindGone => health.set(&gvk, KindState::NotInstalled),
                    }
                }
                Err(e) => health.set(&gvk, classify_discovery(&e)),
            }
            if tx.is_closed() {
                return;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(DISCOVERY_BACKOFF_MAX);
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
