//! One watch on one kind: discovery, then kube's `watcher`, turned into `Change`s; retries wait as
//! [`super::backoff`] says, and re-lists that replace the watch are reported as gaps.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use kube::api::{Api, DynamicObject, GroupVersionKind, PartialObjectMeta};
use kube::runtime::watcher::{self, Event};
use kube::{discovery, Client};
use serde_json::Value;
use tokio::sync::mpsc;

use super::backoff::{Backoff, ErrorClass};
use super::{unix_now, Change, ChangeKind, GapTracker, KindState, Payload, RawObject, SourceHealth};
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

/// After a failed watch, this long without another failure means the retry got through: kube's
/// watcher says nothing when a watch resumes, only when it fails or something changes.
const RESUMED_AFTER: Duration = Duration::from_secs(2);

/// One watch's state across its retries and rediscoveries.
struct WatchState {
    gvk: Gvk,
    tx: mpsc::Sender<Change>,
    health: Arc<SourceHealth>,
    gaps: GapTracker,
    backoff: Backoff,
}

/// Watches `gvk` until the receiving end of `tx` is dropped. `gaps` says whether the first list
/// ends a gap (a trace restored from a checkpoint) or not.
pub fn spawn_kind_watch(
    client: Client,
    gvk: Gvk,
    mode: WatchMode,
    tx: mpsc::Sender<Change>,
    health: Arc<SourceHealth>,
    gaps: GapTracker,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        health.set(&gvk, KindState::Starting);
        let mut w = WatchState { gvk, tx, health, gaps, backoff: Backoff::default() };
        loop {
            let gvk_k = GroupVersionKind::gvk(&w.gvk.group, &w.gvk.version, &w.gvk.kind);
            let class = match discovery::pinned_kind(&client, &gvk_k).await {
                Ok((ar, _caps)) => {
                    w.backoff.reset();
                    let stopped = match mode {
                        WatchMode::Full => {
                            let api: Api<RawObject> = Api::all_with(client.clone(), &ar);
                            w.pump(watcher(api), |o| Payload::Raw(Box::new(o))).await
                        }
                        WatchMode::MetadataOnly => {
                            let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(client.clone(), &ar);
                            let g = w.gvk.clone();
                            w.pump(watcher(api), move |o| meta_payload(o, &g)).await
                        }
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

fn watcher<K>(api: Api<K>) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    // No backoff here: the pump waits after each failure, as long as the failure's class says.
    watcher::watcher(api, watcher::Config::default())
}

impl WatchState {
    async fn send(&self, at: i64, kind: ChangeKind) -> Result<(), Stopped> {
        self.tx.send(Change { gvk: self.gvk.clone(), at, kind }).await.map_err(|_| Stopped::Receiver)
    }

    async fn pump<K>(
        &mut self,
        stream: impl Stream<Item = Result<Event<K>, watcher::Error>>,
        payload: impl Fn(K) -> Payload,
    ) -> Stopped {
        let mut stream = std::pin::pin!(stream);
        let mut down = false;
        loop {
            let item = if down {
                match tokio::time::timeout(RESUMED_AFTER, stream.next()).await {
                    Ok(item) => item,
                    Err(_quiet) => {
                        down = false;
                        self.back_up();
                        continue;
                    }
                }
            } else {
                stream.next().await
            };
            let Some(item) = item else { return Stopped::Receiver };
            let at = unix_now();
            let event = match item {
                Ok(event) => event,
                Err(e) => {
                    let class = classify_watch_error(&e);
                    self.gaps.lost(at);
                    match watch_state(&e) {
                        Some(KindState::NotInstalled) => return Stopped::KindGone,
                        Some(state) => self.health.watch_down(&self.gvk, state, Instant::now()),
                        None => {}
                    }
                    down = class != ErrorClass::Gone;
                    let delay = self.backoff.next_delay(class);
                    tracing::debug!(gvk = %self.gvk, error = %e, ?class, ?delay, "watch retries");
                    tokio::time::sleep(delay).await;
                    continue;
                }
            };
            if std::mem::take(&mut down) {
                self.back_up();
            }
            self.backoff.reset();
            let kind = match event {
                Event::Init => {
                    self.gaps.relist_started(at);
                    ChangeKind::RelistStarted
                }
                Event::InitApply(o) => ChangeKind::Relisted(payload(o)),
                Event::InitDone => {
                    self.health.set(&self.gvk, KindState::Ready);
                    self.health.watch_up(&self.gvk);
                    let gap = self.gaps.relist_done(at);
                    if let Err(stopped) = self.send(at, ChangeKind::RelistDone).await {
                        return stopped;
                    }
                    match gap {
                        Some((from, _)) => ChangeKind::Gap { from },
                        None => continue,
                    }
                }
                Event::Apply(o) => {
                    self.gaps.received();
                    ChangeKind::Applied(payload(o))
                }
                Event::Delete(o) => {
                    self.gaps.received();
                    ChangeKind::Deleted(payload(o))
                }
            };
            if let Err(stopped) = self.send(at, kind).await {
                return stopped;
            }
        }
    }

    /// The watch runs again after a failure.
    fn back_up(&mut self) {
        self.backoff.reset();
        self.gaps.received();
        self.health.watch_up(&self.gvk);
    }
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

/// How long to wait after a watcher error.
fn classify_watch_error(e: &watcher::Error) -> ErrorClass {
    match e {
        watcher::Error::InitialListFailed(e) | watcher::Error::WatchStartFailed(e) | watcher::Error::WatchFailed(e) => {
            ErrorClass::of_kube(e)
        }
        watcher::Error::WatchError(status) => ErrorClass::of_status(Some(status.code)),
        watcher::Error::NoResourceVersion => ErrorClass::Refused,
    }
}

/// What a watcher error says about the kind; `None` for a 410 Gone, which a re-list answers.
fn watch_state(e: &watcher::Error) -> Option<KindState> {
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
