//! One watch on one kind: discovery, then kube's `watcher` with backoff, turned into `Change`s.

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::api::{Api, DynamicObject, GroupVersionKind, PartialObjectMeta};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{discovery, Client};
use serde_json::Value;
use tokio::sync::mpsc;

use super::{unix_now, Change, ChangeKind, KindState, Payload, RawObject, SourceHealth};
use crate::gvk::Gvk;
use crate::ownership::{KnownOwner, OwnerReference};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchMode {
    /// Whole objects: tracked kinds and pods.
    Full,
    /// Metadata only, for intermediate owners: far less data for the apiserver to send.
    MetadataOnly,
}

/// Why a watch stopped.
enum Stopped {
    /// The ingest loop is gone: the tracer is shutting down.
    Receiver,
    /// The kind vanished from the apiserver (a CRD was removed): rediscover it.
    KindGone,
}

const DISCOVERY_BACKOFF_MIN: Duration = Duration::from_millis(500);
const DISCOVERY_BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Watches `gvk` until the receiving end of `tx` is dropped.
pub fn spawn_kind_watch(
    client: Client,
    gvk: Gvk,
    mode: WatchMode,
    tx: mpsc::Sender<Change>,
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
                    let stopped = match mode {
                        WatchMode::Full => {
                            let api: Api<RawObject> = Api::all_with(client.clone(), &ar);
                            pump(watcher(api), &gvk, &tx, &health, |o| Payload::Raw(Box::new(o))).await
                        }
                        WatchMode::MetadataOnly => {
                            let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(client.clone(), &ar);
                            let g = gvk.clone();
                            pump(watcher(api), &gvk, &tx, &health, move |o| meta_payload(o, &g)).await
                        }
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

fn watcher<K>(api: Api<K>) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    watcher::watcher(api, watcher::Config::default()).default_backoff()
}

async fn pump<K>(
    stream: impl Stream<Item = Result<Event<K>, watcher::Error>>,
    gvk: &Gvk,
    tx: &mpsc::Sender<Change>,
    health: &SourceHealth,
    payload: impl Fn(K) -> Payload,
) -> Stopped {
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = stream.next().await {
        let kind = match item {
            Ok(Event::Init) => ChangeKind::RelistStarted,
            Ok(Event::InitApply(o)) => ChangeKind::Relisted(payload(o)),
            Ok(Event::InitDone) => {
                health.set(gvk, KindState::Ready);
                ChangeKind::RelistDone
            }
            Ok(Event::Apply(o)) => ChangeKind::Applied(payload(o)),
            Ok(Event::Delete(o)) => ChangeKind::Deleted(payload(o)),
            Err(e) => {
                match classify_watch(&e) {
                    Some(KindState::NotInstalled) => return Stopped::KindGone,
                    Some(state) => health.set(gvk, state),
                    None => tracing::debug!(%gvk, error = %e, "watch restarts"),
                }
                continue;
            }
        };
        if tx.send(Change { gvk: gvk.clone(), at: unix_now(), kind }).await.is_err() {
            return Stopped::Receiver;
        }
    }
    Stopped::Receiver
}

fn api_status(e: &kube::Error) -> Option<(u16, &str)> {
    match e {
        kube::Error::Api(s) => Some((s.code, s.message.as_str())),
        _ => None,
    }
}

fn classify_discovery(e: &kube::Error) -> KindState {
    match (e, api_status(e)) {
        (_, Some((403, msg))) => KindState::Forbidden(msg.to_string()),
        (_, Some((404, _))) | (kube::Error::Discovery(_), _) => KindState::NotInstalled,
        _ => KindState::Failing(e.to_string()),
    }
}

/// `None` for errors the watcher recovers from by itself (a 410 Gone re-list, a dropped stream).
fn classify_watch(e: &watcher::Error) -> Option<KindState> {
    let inner = match e {
        watcher::Error::InitialListFailed(e) | watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => {
            e
        }
        watcher::Error::WatchError(status) if status.code == 410 => return None,
        watcher::Error::WatchError(status) if status.code == 403 => {
            return Some(KindState::Forbidden(status.message.clone()))
        }
        other => return Some(KindState::Failing(other.to_string())),
    };
    match api_status(inner) {
        Some((403, msg)) => Some(KindState::Forbidden(msg.to_string())),
        Some((404, _)) => Some(KindState::NotInstalled),
        Some((410, _)) => None,
        _ => Some(KindState::Failing(inner.to_string())),
    }
}

/// The object as the JSON the apiserver sent, with `apiVersion` and `kind` always present (list
/// items may omit them).
pub fn object_json(obj: RawObject, gvk: &Gvk) -> Value {
    obj.to_json(gvk)
}

fn meta_payload(obj: PartialObjectMeta<DynamicObject>, gvk: &Gvk) -> Payload {
    let meta = obj.metadata;
    let owners = meta
        .owner_references
        .unwrap_or_default()
        .into_iter()
        .map(|r| OwnerReference {
            uid: r.uid,
            gvk: Gvk::from_api_version(&r.api_version, &r.kind),
            name: r.name,
            controller: r.controller.unwrap_or(false),
        })
        .collect();
    Payload::Meta {
        uid: meta.uid.unwrap_or_default(),
        info: KnownOwner {
            gvk: gvk.clone(),
            namespace: meta.namespace.unwrap_or_default(),
            name: meta.name.unwrap_or_default(),
            owners,
        },
    }
}
