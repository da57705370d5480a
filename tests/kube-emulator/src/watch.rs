//! Watches: newline-delimited JSON events, replayed from the history after the requested
//! resource version, then streamed live. A resource version older than the history gets an ERROR
//! event with a 410 Gone Status, as from a real apiserver.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use crate::kinds::KindSpec;
use crate::select::Selectors;
use crate::server::Shared;
use crate::state::Change;
use crate::status::ApiError;

pub struct WatchRequest {
    pub kind: KindSpec,
    pub namespace: Option<String>,
    pub selectors: Selectors,
    pub resource_version: Option<u64>,
    pub bookmarks: bool,
    pub send_initial_events: bool,
    pub timeout: Option<Duration>,
    pub metadata_only: bool,
}

/// A watch event, serialised from a borrowed object: `json!` would copy the whole object first.
#[derive(serde::Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    event_type: &'a str,
    object: &'a Value,
}

fn line(event_type: &str, object: &Value) -> Bytes {
    let mut s = serde_json::to_vec(&Event { event_type, object }).unwrap_or_default();
    s.push(b'\n');
    Bytes::from(s)
}

pub fn partial(obj: &Value) -> Value {
    json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": obj.get("metadata").cloned().unwrap_or_default()})
}

impl WatchRequest {
    /// The event this watch sends for a change, if any. As the apiserver's watch cache does, a
    /// change that makes an object start matching the selectors is ADDED, one that makes it stop
    /// matching is DELETED (the object as it last matched, at the change's resource version).
    fn event(&self, c: &Change) -> Option<Bytes> {
        if c.kind_key != self.kind.key() {
            return None;
        }
        if let Some(ns) = &self.namespace {
            if c.namespace != *ns {
                return None;
            }
        }
        // A modification can make an object start or stop matching; nothing else changes what
        // is sent.
        if self.selectors.is_empty() || c.event_type != "MODIFIED" {
            return self.unless_filtered(c.event_type, &c.json);
        }
        let object = c.object();
        let now = self.selectors.matches(&object);
        let prev = c.prev_object();
        let before = prev.as_ref().is_none_or(|p| self.selectors.matches(p));
        match (before, now) {
            (true, true) => Some(self.render("MODIFIED", &object)),
            (false, true) => Some(self.render("ADDED", &object)),
            (true, false) => {
                let mut last = prev.unwrap_or(object);
                last["metadata"]["resourceVersion"] = json!(c.rv.to_string());
                Some(self.render("DELETED", &last))
            }
            (false, false) => None,
        }
    }

    /// An event for an object as JSON, if the selectors let it through; without selectors its
    /// JSON is sent as it is, not parsed.
    fn unless_filtered(&self, event_type: &str, json: &Bytes) -> Option<Bytes> {
        if self.selectors.is_empty() {
            return Some(self.render_json(event_type, json));
        }
        let object = crate::state::parsed(json);
        self.selectors.matches(&object).then(|| self.render(event_type, &object))
    }

    fn render(&self, event_type: &str, obj: &Value) -> Bytes {
        if self.metadata_only {
            line(event_type, &partial(obj))
        } else {
            line(event_type, obj)
        }
    }

    /// An event for an object already serialised: spliced, not parsed, unless only its metadata
    /// is asked for.
    fn render_json(&self, event_type: &str, json: &Bytes) -> Bytes {
        if self.metadata_only {
            let obj: Value = serde_json::from_slice(json).unwrap_or_default();
            return line(event_type, &partial(&obj));
        }
        let mut s = Vec::with_capacity(json.len() + event_type.len() + 32);
        s.extend_from_slice(b"{\"type\":");
        s.extend_from_slice(serde_json::to_string(event_type).unwrap_or_default().as_bytes());
        s.extend_from_slice(b",\"object\":");
        s.extend_from_slice(json);
        s.extend_from_slice(b"}\n");
        Bytes::from(s)
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        line("BOOKMARK", &json!({"kind": self.kind.kind, "apiVersion": self.kind.api_version(), "metadata": meta}))
    }
}

/// Waits while watch streams are held; false if the watch was closed meanwhile.
async fn released(
    held: &mut tokio::sync::watch::Receiver<bool>,
    epoch: &mut tokio::sync::watch::Receiver<u64>,
) -> bool {
    if !*held.borrow() {
        return true;
    }
    tokio::select! {
        r = held.wait_for(|h| !*h) => r.is_ok(),
        _ = epoch.changed() => false,
    }
}

/// What a watch sends before live changes.
enum Replay {
    History(Vec<Arc<Change>>),
    /// As JSON, parsed one at a time as they are sent.
    Objects(Vec<Bytes>),
}

/// Starts a watch; the returned receiver yields the response body's chunks and ends with the watch.
pub fn start(shared: Arc<Shared>, req: WatchRequest) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel(1024);
    // Subscribing and reading the history under one lock leaves no gap between them.
    let (mut live, replay, current_rv) = {
        let state = shared.lock();
        let live = state.subscribe();
        let current = state.resource_version();
        // Shared references only: events are serialised as they are sent, so a watch replaying a
        // long history holds one event at a time, not the whole history as JSON.
        let replay: Result<Replay, ApiError> = match req.resource_version {
            Some(rv) if rv > 0 && !req.send_initial_events => match state.history_since(rv) {
                Some(changes) => Ok(Replay::History(changes)),
                None => Err(ApiError::new(
                    410,
                    "Expired",
                    format!("too old resource version: {rv} ({})", state.compacted_rv()),
                )),
            },
            _ => Ok(Replay::Objects(state.list_json(&req.kind, req.namespace.as_deref()))),
        };
        (live, replay, current)
    };
    let mut epoch = shared.watch_epoch.subscribe();
    let mut held = shared.faults.watches_held();
    tokio::spawn(async move {
        let replay = match replay {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(line("ERROR", &e.status())).await;
                return;
            }
        };
        let mut events: Box<dyn Iterator<Item = Bytes> + Send> = match &replay {
            Replay::History(changes) => Box::new(changes.iter().filter_map(|c| req.event(c))),
            Replay::Objects(objects) => Box::new(objects.iter().filter_map(|json| req.unless_filtered("ADDED", json))),
        };
        for event in events.by_ref() {
            if !released(&mut held, &mut epoch).await || tx.send(event).await.is_err() {
                return;
            }
        }
        // The replayed references go before the watch turns live, which may last for hours.
        drop(events);
        drop(replay);
        if req.send_initial_events && req.bookmarks && tx.send(req.bookmark(current_rv, true)).await.is_err() {
            return;
        }
        let deadline = req.timeout.map(|t| tokio::time::Instant::now() + t);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        let mut last_rv = current_rv;
        loop {
            let timeout = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            // Held, live changes wait in the subscription: they go out in order once released.
            let holding = *held.borrow_and_update();
            tokio::select! {
                _ = timeout => return,
                _ = epoch.changed() => return,
                changed = held.changed() => if changed.is_err() { return },
                _ = tick.tick(), if req.bookmarks && !holding => {
                    if tx.send(req.bookmark(last_rv, false)).await.is_err() { return; }
                }
                msg = live.recv(), if !holding => match msg {
                    Ok(change) => {
                        if change.rv <= current_rv { continue; }
                        last_rv = change.rv;
                        if let Some(event) = req.event(&change) {
                            if tx.send(event).await.is_err() {
                                return;
                            }
                        }
                    }
                    // A watcher that fell this far behind is closed; it re-watches from its last version.
                    Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    rx
}
