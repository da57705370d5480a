//! The I/O around [`WatchState`]: list and watch requests through kube's client, the bodies read
//! in large chunks and cut into lines, what they bring sent to the ingest loop in batches.
//!
//! A stream is read as long as it has something ready; what it brought then goes to the ingest
//! loop as one batch, so that a burst costs one hand-over rather than one per event.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use kube::api::{ListParams, WatchParams};
use kube::client::Body;
use kube::Client;
use tokio::sync::mpsc;

use super::lines::Lines;
use super::state::{Event, ProtocolError, Request, WatchState};
use super::wire::{self, Watched};
use crate::gvk::Gvk;
use crate::sources::backoff::{Backoff, ErrorClass};
use crate::sources::{unix_now, Change, ChangeKind, GapTracker, KindState, SourceHealth};

/// Events sent to the ingest loop at most at once, so that a backlog read in one go still waits
/// for the queue rather than piling up in memory.
const MAX_BATCH: usize = 512;
/// Objects asked for per list page, as kube's watcher and client-go do.
const PAGE_SIZE: u32 = 500;
/// The apiserver ends a watch after `timeoutSeconds` (kube's default, 290 s); one silent for
/// longer than that and this margin is taken for dead and resumed.
const IDLE_LIMIT: Duration = Duration::from_secs(290 + 30);
/// A watch that opens and stays this long without an error is running again.
const RESUMED_AFTER: Duration = Duration::from_secs(2);

/// Where to list and watch, and how.
pub struct Target<'a> {
    pub client: &'a Client,
    /// The collection's path, such as `/apis/apps/v1/deployments`.
    pub url_path: String,
    /// Ask for `PartialObjectMetadata` rather than whole objects.
    pub metadata_only: bool,
    pub gvk: &'a Gvk,
}

/// Why a watch stopped for good.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// The ingest loop is gone: the tracer is shutting down.
    Receiver,
    /// The apiserver no longer serves the kind (a CRD was removed): rediscover it.
    KindGone,
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("{0}")]
    Connection(String),
    #[error("the apiserver answered {code}: {message}")]
    Status { code: u16, message: String },
    #[error("undecodable answer: {0}")]
    Decode(String),
    #[error(transparent)]
    Protocol(ProtocolError),
    #[error("building the request: {0}")]
    Request(String),
}

impl From<ProtocolError> for WatchError {
    fn from(e: ProtocolError) -> Self {
        match e {
            ProtocolError::Status { code, message } => WatchError::Status { code, message },
            other => WatchError::Protocol(other),
        }
    }
}

impl WatchError {
    /// How long to wait before trying again, as [`crate::sources::backoff`] classes it.
    fn class(&self) -> ErrorClass {
        match self {
            WatchError::Connection(_) => ErrorClass::Connection,
            WatchError::Status { code, .. } => ErrorClass::of_status(Some(*code)),
            // An answer that could not be read: asking again at once would get the same.
            WatchError::Decode(_) | WatchError::Protocol(_) | WatchError::Request(_) => ErrorClass::Refused,
        }
    }

    /// What the kind's health becomes; `None` for a 410, which the watch recovers from by
    /// listing again.
    pub fn health(&self) -> Option<KindState> {
        match self {
            WatchError::Status { code: 410, .. } => None,
            WatchError::Status { code: 403, message } => Some(KindState::Forbidden(message.clone())),
            WatchError::Status { code: 404, .. } => Some(KindState::NotInstalled),
            other => Some(KindState::Failing(other.to_string())),
        }
    }
}

struct ReceiverGone;

/// One kind's watch as the rest of the tracer sees it, across its retries and rediscoveries:
/// where its changes go, its health, the gaps its re-lists leave and its backoff.
pub struct Sink {
    pub gvk: Gvk,
    pub tx: mpsc::Sender<Vec<Change>>,
    pub health: Arc<SourceHealth>,
    pub gaps: GapTracker,
    pub backoff: Backoff,
}

impl Sink {
    async fn send<O: Watched>(&mut self, events: &mut Vec<Event<O>>) -> Result<(), ReceiverGone> {
        if events.is_empty() {
            return Ok(());
        }
        let at = unix_now();
        let mut batch = Vec::with_capacity(events.len() + 1);
        for e in events.drain(..) {
            let kind = match e {
                Event::Init => {
                    self.gaps.relist_started(at);
                    ChangeKind::RelistStarted
                }
                Event::InitApply(o) => ChangeKind::Relisted(o.into_payload(&self.gvk)),
                Event::InitDone => {
                    self.health.set(&self.gvk, KindState::Ready);
                    self.health.watch_up(&self.gvk);
                    batch.push(Change { gvk: self.gvk.clone(), at, kind: ChangeKind::RelistDone });
                    match self.gaps.relist_done(at) {
                        Some((from, _)) => ChangeKind::Gap { from },
                        None => continue,
                    }
                }
                Event::Apply(o) => {
                    self.gaps.received();
                    ChangeKind::Applied(o.into_payload(&self.gvk))
                }
                Event::Delete(o) => {
                    self.gaps.received();
                    ChangeKind::Deleted(o.into_payload(&self.gvk))
                }
            };
            batch.push(Change { gvk: self.gvk.clone(), at, kind });
        }
        self.tx.send(batch).await.map_err(|_| ReceiverGone)
    }

    /// A failure the watch goes on from; `Err` when it must stop.
    fn report(&mut self, e: &WatchError) -> Result<(), Stopped> {
        self.gaps.lost(unix_now());
        match e.health() {
            Some(KindState::NotInstalled) => return Err(Stopped::KindGone),
            Some(state) => self.health.watch_down(&self.gvk, state, std::time::Instant::now()),
            None => tracing::debug!(gvk = %self.gvk, error = %e, "watch lists again"),
        }
        Ok(())
    }

    /// A watch is open again: complete up to now, and up.
    fn back_up(&mut self) {
        self.backoff.reset();
        self.gaps.received();
        self.health.watch_up(&self.gvk);
    }
}

/// Lists and watches `target` until the ingest loop is gone or the kind is.
pub async fn run<O: Watched>(target: Target<'_>, sink: &mut Sink) -> Stopped {
    let mut state = WatchState::default();
    let mut events: Vec<Event<O>> = Vec::new();
    loop {
        let outcome = match state.next_request(&mut events) {
            Request::List { continue_token } => match list_page::<O>(&target, continue_token).await {
                Ok(page) => state.page(page, &mut events).map_err(WatchError::from),
                Err(e) => {
                    state.list_failed();
                    Err(e)
                }
            },
            Request::Watch { resource_version } => match open(&target, watch_request(&target, &resource_version)).await
            {
                Ok(body) => {
                    state.watch_started();
                    match stream(body, &mut state, sink, &mut events).await {
                        Ok(outcome) => outcome,
                        Err(stopped) => return stopped,
                    }
                }
                Err(e) => {
                    if let WatchError::Status { code, .. } = e {
                        state.watch_refused(code);
                    }
                    Err(e)
                }
            },
        };
        if sink.send(&mut events).await.is_err() {
            return Stopped::Receiver;
        }
        match outcome {
            Ok(()) => sink.backoff.reset(),
            Err(e) => {
                if let Err(stopped) = sink.report(&e) {
                    return stopped;
                }
                if sink.tx.is_closed() {
                    return Stopped::Receiver;
                }
                let delay = sink.backoff.next_delay(e.class());
                tracing::debug!(gvk = %sink.gvk, error = %e, ?delay, "watch retries");
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Reads an open watch until it ends. `Ok(Err(e))` for an `ERROR` event, after which the stream
/// is abandoned; a line that cannot be decoded is reported and skipped.
///
/// Every frame that is ready is read before the batch goes to the ingest loop, and the stream is
/// read again at once: hyper hands a body over one frame at a time, each read from the socket only
/// once the previous one was taken, so a reader that paused between frames would fall behind a
/// busy apiserver by as much as it paused, and notice a dropped connection only after the backlog.
async fn stream<O: Watched>(
    mut body: Body,
    state: &mut WatchState,
    sink: &mut Sink,
    events: &mut Vec<Event<O>>,
) -> Result<Result<(), WatchError>, Stopped> {
    let mut reader = Reader { state, lines: Lines::default(), ended: None, skipped: Vec::new(), took: false };
    let mut open = true;
    // Whether the watch is known to run: it delivered, or stayed open a while without an error.
    // An apiserver that answers only to say the version is gone has not brought it back.
    let mut up = false;
    while open && reader.ended.is_none() {
        let wait = if up { IDLE_LIMIT } else { RESUMED_AFTER };
        let first = match tokio::time::timeout(wait, body.frame()).await {
            Ok(Some(Ok(frame))) => frame,
            Err(_) if !up => {
                up = true;
                sink.back_up();
                continue;
            }
            Ok(Some(Err(e))) => {
                tracing::debug!(gvk = %sink.gvk, error = %e, "watch stream broke; resuming");
                sink.gaps.lost(unix_now());
                break;
            }
            Ok(None) => break,
            Err(_) => {
                tracing::debug!(gvk = %sink.gvk, "watch stream silent too long; resuming");
                break;
            }
        };
        let mut frame = Some(first);
        while let Some(f) = frame.take() {
            if let Ok(data) = f.into_data() {
                reader.push(data, events);
            }
            if reader.ended.is_some() {
                break;
            }
            if events.len() >= MAX_BATCH && sink.send(events).await.is_err() {
                return Err(Stopped::Receiver);
            }
            // The next frame if it is ready now, or once the connection's task has had a turn to
            // read what the socket holds; `None` when the socket has nothing more for now.
            let mut next = futures::future::poll_immediate(body.frame()).await;
            if next.is_none() {
                tokio::task::yield_now().await;
                next = futures::future::poll_immediate(body.frame()).await;
            }
            match next {
                Some(Some(Ok(f))) => frame = Some(f),
                Some(Some(Err(e))) => {
                    tracing::debug!(gvk = %sink.gvk, error = %e, "watch stream broke; resuming");
                    sink.gaps.lost(unix_now());
                    open = false;
                }
                Some(None) => open = false,
                None => {}
            }
        }
        if !up && reader.took && reader.ended.is_none() {
            up = true;
            sink.back_up();
        }
        if sink.send(events).await.is_err() {
            return Err(Stopped::Receiver);
        }
        for e in reader.skipped.drain(..) {
            sink.report(&e)?;
        }
    }
    reader.finish(events);
    if sink.send(events).await.is_err() {
        return Err(Stopped::Receiver);
    }
    for e in reader.skipped.drain(..) {
        sink.report(&e)?;
    }
    reader.state.stream_ended();
    Ok(reader.ended.map_or(Ok(()), Err))
}

/// A stream's lines, through the state machine.
struct Reader<'a> {
    state: &'a mut WatchState,
    lines: Lines,
    /// What ended the stream: once set, the rest of it is ignored.
    ended: Option<WatchError>,
    /// Lines that could not be decoded, to report.
    skipped: Vec<WatchError>,
    /// Whether any line was taken in: an event or a bookmark.
    took: bool,
}

impl Reader<'_> {
    fn push<O: Watched>(&mut self, chunk: Bytes, events: &mut Vec<Event<O>>) {
        let Reader { state, lines, ended, skipped, took } = self;
        lines.push(chunk, |l| *took |= take(l, state, events, ended, skipped));
    }

    /// The last line, if the stream ended without its newline; a stream cut mid-line leaves a
    /// fragment, which is no news.
    fn finish<O: Watched>(&mut self, events: &mut Vec<Event<O>>) {
        let Reader { state, lines, ended, .. } = self;
        lines.finish(|l| {
            take(l, state, events, ended, &mut Vec::new());
        });
    }
}

fn take<O: Watched>(
    line: &[u8],
    state: &mut WatchState,
    events: &mut Vec<Event<O>>,
    ended: &mut Option<WatchError>,
    skipped: &mut Vec<WatchError>,
) -> bool {
    if ended.is_some() {
        return false;
    }
    match wire::line::<O>(line) {
        Ok(line) => match state.line(line, events) {
            Ok(()) => true,
            Err(e) => {
                *ended = Some(e.into());
                false
            }
        },
        Err(e) => {
            skipped.push(WatchError::Decode(e.to_string()));
            false
        }
    }
}

fn list_request(target: &Target<'_>, continue_token: Option<String>) -> Result<http::Request<Vec<u8>>, WatchError> {
    let params = ListParams { limit: Some(PAGE_SIZE), continue_token, ..ListParams::default() };
    let request = kube::core::Request::new(&target.url_path);
    let built = if target.metadata_only { request.list_metadata(&params) } else { request.list(&params) };
    built.map_err(|e| WatchError::Request(e.to_string()))
}

fn watch_request(target: &Target<'_>, resource_version: &str) -> Result<http::Request<Vec<u8>>, WatchError> {
    let params = WatchParams { bookmarks: true, ..WatchParams::default() };
    let request = kube::core::Request::new(&target.url_path);
    let built = if target.metadata_only {
        request.watch_metadata(&params, resource_version)
    } else {
        request.watch(&params, resource_version)
    };
    built.map_err(|e| WatchError::Request(e.to_string()))
}

async fn list_page<O: Watched>(
    target: &Target<'_>,
    continue_token: Option<String>,
) -> Result<super::state::Page<O>, WatchError> {
    let body = open(target, list_request(target, continue_token)).await?;
    let bytes = collect(body).await?;
    wire::page(&bytes).map_err(|e| WatchError::Decode(e.to_string()))
}

/// Sends the request; the body of a successful answer, else the apiserver's `Status`.
async fn open(target: &Target<'_>, request: Result<http::Request<Vec<u8>>, WatchError>) -> Result<Body, WatchError> {
    let mut request = request?;
    // Watch streams compressed one gzip member per event are not worth inflating here.
    request.headers_mut().insert(http::header::ACCEPT_ENCODING, http::HeaderValue::from_static("identity"));
    let response =
        target.client.send(request.map(Body::from)).await.map_err(|e| WatchError::Connection(e.to_string()))?;
    let code = response.status();
    if code.is_success() {
        return Ok(response.into_body());
    }
    let text = collect(response.into_body()).await.unwrap_or_default();
    let status: wire::Status = serde_json::from_slice(&text).unwrap_or_default();
    let message = match status.message.is_empty() {
        true => String::from_utf8_lossy(&text).trim().to_string(),
        false => status.message,
    };
    Err(WatchError::Status { code: code.as_u16(), message })
}

async fn collect(body: Body) -> Result<Bytes, WatchError> {
    body.collect().await.map(|c| c.to_bytes()).map_err(|e| WatchError::Connection(e.to_string()))
}
