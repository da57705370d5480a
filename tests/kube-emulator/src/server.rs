//! The HTTP side: routing requests to discovery, collections, objects, subresources, watches and
//! the admin endpoints.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::faults::{Counters, Faults};
use crate::kinds::{self, KindSpec};
use crate::select::Selectors;
use crate::state::State;
use crate::status::ApiError;
use crate::watch::{self, partial, WatchRequest};
use crate::{openapi, patch, protobuf};

pub type Body = UnsyncBoxBody<Bytes, Infallible>;

pub struct Shared {
    state: Mutex<State>,
    /// False while stopped: connections that race with `stop` are dropped.
    pub running: std::sync::atomic::AtomicBool,
    pub faults: Faults,
    pub counters: Counters,
    pub watch_epoch: tokio::sync::watch::Sender<u64>,
}

impl Shared {
    pub fn new(kinds: Vec<KindSpec>) -> Self {
        Shared {
            state: Mutex::new(State::new(kinds)),
            running: std::sync::atomic::AtomicBool::new(true),
            faults: Faults::default(),
            counters: Counters::default(),
            watch_epoch: tokio::sync::watch::channel(0).0,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ends every open watch, as a dropped connection or an apiserver restart would.
    pub fn close_watches(&self) {
        self.watch_epoch.send_modify(|e| *e += 1);
    }
}

fn full(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed_unsync());
    *r.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    full(status, "application/json", serde_json::to_vec(v).unwrap_or_default())
}

fn error(e: &ApiError) -> Response<Body> {
    json_response(StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), &e.status())
}

/// Serves connections until the task is aborted; over TLS when `tls` is given.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, tls: Option<tokio_rustls::TlsAcceptor>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        if shared.faults.resets_connections() {
            // A zero linger turns the close into a reset (RST), as a vanished backend gives.
            let _ = stream.set_zero_linger();
            drop(stream);
            continue;
        }
        let shared = shared.clone();
        // Subscribe before checking: a stop that comes after the check still closes this one.
        let mut epoch = shared.watch_epoch.subscribe();
        if !shared.running.load(std::sync::atomic::Ordering::SeqCst) {
            continue;
        }
        let tls = tls.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(shared, req).await) }
            });
            let http = hyper::server::conn::http1::Builder::new();
            // Closing watches closes their connections too, as a restarting apiserver does.
            match tls {
                None => {
                    let conn = http.serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
                    tokio::select! {
                        _ = conn => {}
                        _ = epoch.changed() => {}
                    }
                }
                Some(acceptor) => {
                    let Ok(stream) = acceptor.accept(stream).await else { return };
                    let conn = http.serve_connection(hyper_util::rt::TokioIo::new(stream), svc);
                    tokio::select! {
                        _ = conn => {}
                        _ = epoch.changed() => {}
                    }
                }
            }
        });
    }
}

struct Query(Vec<(String, String)>);

impl Query {
    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    fn flag(&self, k: &str) -> bool {
        matches!(self.get(k), Some("1" | "true"))
    }
}

/// A resource path after `/api/v1` or `/apis/{group}/{version}`.
struct Target {
    kind: KindSpec,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn route(state: &State, group: &str, version: &str, rest: &[&str]) -> Result<Target, ApiError> {
    let not_found = || ApiError::new(404, "NotFound", "the server could not find the requested resource");
    let (namespace, rest) = match rest {
        ["namespaces", ns, plural, tail @ ..]
            if state.kind_by_plural(group, version, plural).is_some_and(|k| k.namespaced) =>
        {
            (Some(ns.to_string()), std::iter::once(*plural).chain(tail.iter().copied()).collect::<Vec<_>>())
        }
        _ => (None, rest.to_vec()),
    };
    let (plural, name, sub) = match rest.as_slice() {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(name.to_string()), None),
        [plural, name, sub] => (*plural, Some(name.to_string()), Some(sub.to_string())),
        _ => return Err(not_found()),
    };
    let kind = state.kind_by_plural(group, version, plural).cloned().ok_or_else(not_found)?;
    Ok(Target { kind, namespace, name, sub })
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let query = Query(url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()).into_owned().collect());
    if let Some(admin) = path.strip_prefix("/admin/") {
        return crate::admin::handle(&shared, admin, &query.0);
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // Counted before faults apply: a request answered with an injected 500 or 429 loaded the
    // apiserver all the same.
    shared.counters.count(route_name(&shared, req.method(), &segments, query.flag("watch")));
    let delay = shared.faults.delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(code) = shared.faults.take_failure() {
        let reason = if code == 429 { "TooManyRequests" } else { "InternalError" };
        let mut r = error(&ApiError::new(code, reason, "injected failure"));
        if code == 429 {
            r.headers_mut().insert(http::header::RETRY_AFTER, http::HeaderValue::from_static("1"));
        }
        return r;
    }
    let method = req.method().clone();
    let accept = req.headers().get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let content_type =
        req.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let manager = query.get("fieldManager").unwrap_or("kubectl-client-side-apply").to_string();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return error(&ApiError::bad_request(format!("reading the body: {e}"))),
    };
    match (method.clone(), segments.as_slice()) {
        (Method::GET, ["version"]) => json_response(
            StatusCode::OK,
            &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-kube-emulator", "platform": "linux/amd64"}),
        ),
        (Method::GET, ["api"]) => json_response(StatusCode::OK, &kinds::api_versions()),
        (Method::GET, ["apis"]) => json_response(StatusCode::OK, &kinds::group_list(&shared.lock().kinds)),
        (Method::GET, ["api", "v1"]) => {
            json_response(StatusCode::OK, &kinds::resource_list("v1", &shared.lock().kinds))
        }
        (Method::GET, ["apis", g, v]) => {
            let gv = format!("{g}/{v}");
            let kinds = shared.lock().kinds.clone();
            if !kinds.iter().any(|k| k.api_version() == gv) {
                return error(&ApiError::new(404, "NotFound", "the server could not find the requested resource"));
            }
            json_response(StatusCode::OK, &kinds::resource_list(&gv, &kinds))
        }
        (Method::GET, ["openapi", "v2"]) => full(StatusCode::OK, "application/octet-stream", openapi::v2_document()),
        (Method::GET, ["openapi", "v3", ..]) => json_response(StatusCode::OK, &json!({"paths": {}})),
        (_, ["api", "v1", rest @ ..]) => {
            resource(&shared, method, "", "v1", rest, &query, &accept, &content_type, &manager, body)
        }
        (_, ["apis", g, v, rest @ ..]) => {
            let (g, v) = (g.to_string(), v.to_string());
            resource(&shared, method, &g, &v, rest, &query, &accept, &content_type, &manager, body)
        }
        _ => error(&ApiError::new(404, "NotFound", "the server could not find the requested resource")),
    }
}

fn verb(method: &Method, named: bool, watch: bool) -> &str {
    match (method, named, watch) {
        (&Method::GET, false, true) => "WATCH",
        (&Method::GET, false, false) => "LIST",
        (&Method::DELETE, false, _) => "DELETECOLLECTION",
        (m, _, _) => m.as_str(),
    }
}

/// The key a request is counted under: `LIST apps/v1/replicasets`, `PATCH /v1/pods/status`,
/// `WATCH /v1/pods`, `GET discovery /apis/apps/v1`, or the method and path when nothing matches.
fn route_name(shared: &Shared, method: &Method, segments: &[&str], watch: bool) -> String {
    let target = match segments {
        ["api", "v1", rest @ ..] if !rest.is_empty() => route(&shared.lock(), "", "v1", rest).ok(),
        ["apis", g, v, rest @ ..] if !rest.is_empty() => route(&shared.lock(), g, v, rest).ok(),
        _ => None,
    };
    match target {
        Some(t) => {
            let verb = verb(method, t.name.is_some(), watch);
            match &t.sub {
                Some(sub) => format!("{verb} {}/{sub}", t.kind.key()),
                None => format!("{verb} {}", t.kind.key()),
            }
        }
        None if method == Method::GET
            && matches!(
                segments,
                ["version"] | ["api"] | ["api", "v1"] | ["apis"] | ["apis", _, _] | ["openapi", ..]
            ) =>
        {
            format!("GET discovery /{}", segments.join("/"))
        }
        None => format!("{method} /{}", segments.join("/")),
    }
}

#[allow(clippy::too_many_arguments)]
fn resource(
    shared: &Arc<Shared>,
    method: Method,
    group: &str,
    version: &str,
    rest: &[&str],
    query: &Query,
    accept: &str,
    content_type: &str,
    manager: &str,
    body: Bytes,
) -> Response<Body> {
    let target = match route(&shared.lock(), group, version, rest) {
        Ok(t) => t,
        Err(e) => return error(&e),
    };
    let kind = target.kind.clone();
    let is_watch = query.flag("watch");
    let verb = verb(&method, target.name.is_some(), is_watch);
    if shared.faults.is_forbidden(&kind.key()) {
        let what = format!("{}.{}", kind.plural, kind.group);
        return error(&ApiError::new(
            403,
            "Forbidden",
            format!("{} is forbidden: User \"system:serviceaccount:sk-tracer:sk-tracer\" cannot {} resource \"{}\" in API group \"{}\" at the cluster scope", what.trim_end_matches('.'), verb.to_lowercase(), kind.plural, kind.group),
        ));
    }
    let writes = matches!(verb, "POST" | "PUT" | "PATCH" | "DELETE" | "DELETECOLLECTION");
    if let Some(status) = shared.faults.write_failure(&kind.key()).filter(|_| writes) {
        let (reason, message) = match status {
            403 => ("Forbidden", format!("{} {} is forbidden for this test", verb.to_lowercase(), kind.plural)),
            _ => ("InternalError", format!("{} {} failed (injected)", verb.to_lowercase(), kind.plural)),
        };
        return error(&ApiError::new(status, reason, message));
    }
    let metadata_only = accept.contains("as=PartialObjectMetadata");
    let ns = target.namespace.clone().unwrap_or_default();
    let dry = query.get("dryRun") == Some("All");
    // A create or update body: JSON, or protobuf as client-go's typed clients send for built-in
    // kinds. `/scale` takes an autoscaling/v1 Scale, not the resource's own kind.
    let parse_body = || {
        if protobuf::is_protobuf(content_type) {
            match target.sub.as_deref() {
                Some("scale") => protobuf::decode(&body, "autoscaling/v1", "Scale"),
                _ => protobuf::decode(&body, &kind.api_version(), &kind.kind),
            }
        } else {
            serde_json::from_slice::<Value>(&body)
                .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))
        }
    };
    let result: Result<(StatusCode, Value), ApiError> = match (method, target.name.as_deref(), target.sub.as_deref()) {
        (Method::GET, None, None) => {
            let selectors = match Selectors::parse(query.get("labelSelector"), query.get("fieldSelector")) {
                Ok(s) => s,
                Err(e) => return error(&e),
            };
            if is_watch {
                return watch_response(shared, &target, selectors, query, metadata_only);
            }
            return list(shared, &target, &selectors, query, metadata_only).unwrap_or_else(|e| error(&e));
        }
        (Method::GET, Some(name), None) => shared.lock().get(&kind, &ns, name).map(|o| {
            let o = if metadata_only { partial(&o) } else { (*o).clone() };
            (StatusCode::OK, o)
        }),
        (Method::GET, Some(name), Some("status")) => {
            shared.lock().get(&kind, &ns, name).map(|o| (StatusCode::OK, (*o).clone()))
        }
        (Method::GET, Some(name), Some("scale")) if kind.scale => {
            shared.lock().get(&kind, &ns, name).map(|o| (StatusCode::OK, scale_of(&o)))
        }
        (Method::POST, None, None) => parse_body().and_then(|mut obj| {
            let body_ns = obj.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_string);
            let ns = match (target.namespace.clone(), body_ns) {
                (Some(path), Some(body)) if path != body => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ))
                }
                (Some(path), _) => path,
                (None, Some(body)) if kind.namespaced => body,
                (None, _) => String::new(),
            };
            if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("resourceVersion");
            }
            write(shared, dry, |s| s.create(&kind, &ns, obj, manager)).map(|o| (StatusCode::CREATED, (*o).clone()))
        }),
        (Method::PUT, Some(name), sub @ (None | Some("status"))) => parse_body().and_then(|obj| {
            write(shared, dry, |s| s.update(&kind, &ns, name, obj, sub == Some("status"), manager))
                .map(|o| (StatusCode::OK, (*o).clone()))
        }),
        (Method::PATCH, Some(name), sub @ (None | Some("status"))) => write(shared, dry, |state| {
            state.get(&kind, &ns, name).and_then(|current| {
                let mut patched = patch::apply(content_type, &current, &body)?;
                // A patch does not carry the resource version it was based on unless it says so.
                if patched.pointer("/metadata/resourceVersion") == current.pointer("/metadata/resourceVersion") {
                    if let Some(m) = patched.get_mut("metadata").and_then(Value::as_object_mut) {
                        m.remove("resourceVersion");
                    }
                }
                state
                    .update(&kind, &ns, name, patched, sub == Some("status"), manager)
                    .map(|o| (StatusCode::OK, (*o).clone()))
            })
        }),
        (m @ (Method::PUT | Method::PATCH), Some(name), Some("scale")) if kind.scale => write(shared, dry, |state| {
            state.get(&kind, &ns, name).and_then(|current| {
                let scale = if m == Method::PUT {
                    parse_body()?
                } else {
                    patch::apply(content_type, &scale_of(&current), &body)?
                };
                let replicas = scale
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| ApiError::invalid("spec.replicas: Required value"))?;
                let mut obj = (*current).clone();
                obj["spec"]["replicas"] = json!(replicas);
                if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                    m.remove("resourceVersion");
                }
                state.update(&kind, &ns, name, obj, false, manager).map(|o| (StatusCode::OK, scale_of(&o)))
            })
        }),
        (Method::DELETE, Some(name), None) => {
            write(shared, dry, |s| s.delete(&kind, &ns, name)).map(|o| (StatusCode::OK, (*o).clone()))
        }
        (Method::DELETE, None, None) => {
            match Selectors::parse(query.get("labelSelector"), query.get("fieldSelector")) {
                Ok(selectors) => write(shared, dry, |s| delete_collection(s, &target, &selectors)),
                Err(e) => Err(e),
            }
        }
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )),
    };
    match result {
        Ok((status, v)) => json_response(status, &v),
        Err(e) => error(&e),
    }
}

/// Runs a write under the state's lock, as a dry run (`dryRun=All`) if asked: checked and
/// answered, not stored.
fn write<T>(shared: &Shared, dry: bool, f: impl FnOnce(&mut State) -> T) -> T {
    let mut state = shared.lock();
    if dry {
        state.dry_run(f)
    } else {
        f(&mut state)
    }
}

/// `DELETE` on a collection: every object that matches the selectors goes; the answer is the list
/// of what was deleted, as from the apiserver.
fn delete_collection(
    state: &mut State,
    target: &Target,
    selectors: &Selectors,
) -> Result<(StatusCode, Value), ApiError> {
    let kind = &target.kind;
    let doomed: Vec<(String, String)> = state
        .list(kind, target.namespace.as_deref())
        .iter()
        .filter(|o| selectors.matches(o))
        .map(|o| {
            let s = |p: &str| o.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
            (s("/metadata/namespace"), s("/metadata/name"))
        })
        .collect();
    let mut items = Vec::with_capacity(doomed.len());
    for (ns, name) in doomed {
        items.push((*state.delete(kind, &ns, &name)?).clone());
    }
    let meta = json!({"resourceVersion": state.resource_version().to_string()});
    Ok((
        StatusCode::OK,
        json!({"kind": format!("{}List", kind.kind), "apiVersion": kind.api_version(), "metadata": meta, "items": items}),
    ))
}

fn scale_of(obj: &Value) -> Value {
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
           "metadata": {"name": obj.pointer("/metadata/name"), "namespace": obj.pointer("/metadata/namespace"),
                        "resourceVersion": obj.pointer("/metadata/resourceVersion"), "uid": obj.pointer("/metadata/uid")},
           "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(0))},
           "status": {"replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0))}})
}

fn list(
    shared: &Arc<Shared>,
    target: &Target,
    selectors: &Selectors,
    query: &Query,
    metadata_only: bool,
) -> Result<Response<Body>, ApiError> {
    let state = shared.lock();
    // A continue token is `<rv>/<namespace>/<name>` of the last item served.
    let (rv, after) = match query.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let mut parts = token.splitn(3, '/');
            let rv = parts
                .next()
                .and_then(|r| r.parse::<u64>().ok())
                .ok_or_else(|| ApiError::bad_request("invalid continue token"))?;
            if rv < state.compacted_rv() {
                // As the apiserver answers once etcd has compacted the list's revision.
                return Err(ApiError::new(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter."));
            }
            let after = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
            (rv, Some(after))
        }
        None => (state.resource_version(), None),
    };
    let limit = query.get("limit").and_then(|l| l.parse::<usize>().ok()).filter(|l| *l > 0);
    let mut items: Vec<Arc<Value>> = Vec::new();
    let mut next = None;
    let key = |o: &Value| {
        (
            o.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("").to_string(),
            o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string(),
        )
    };
    for obj in state.list_after(&target.kind, target.namespace.as_deref(), after.as_ref()) {
        if !selectors.matches(&obj) {
            continue;
        }
        if limit.is_some_and(|l| items.len() == l) {
            next = items.last().map(|last| {
                let (ns, name) = key(last);
                format!("{rv}/{ns}/{name}")
            });
            break;
        }
        items.push(if metadata_only { Arc::new(partial(&obj)) } else { obj });
    }
    drop(state);
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some(token) = next {
        meta["continue"] = json!(token);
    }
    let (api_version, kind) = if metadata_only {
        ("meta.k8s.io/v1".to_string(), "PartialObjectMetadataList".to_string())
    } else {
        (target.kind.api_version(), format!("{}List", target.kind.kind))
    };
    // Serialised from the shared objects: no copy of a large list is made.
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct List<'a> {
        kind: String,
        api_version: String,
        metadata: Value,
        items: &'a [Arc<Value>],
    }
    let body = serde_json::to_vec(&List { kind, api_version, metadata: meta, items: &items })
        .map_err(|e| ApiError::new(500, "InternalError", e.to_string()))?;
    Ok(full(StatusCode::OK, "application/json", body))
}

fn watch_response(
    shared: &Arc<Shared>,
    target: &Target,
    selectors: Selectors,
    query: &Query,
    metadata_only: bool,
) -> Response<Body> {
    let rv = query.get("resourceVersion").filter(|r| !r.is_empty()).and_then(|r| r.parse::<u64>().ok());
    let req = WatchRequest {
        kind: target.kind.clone(),
        namespace: target.namespace.clone(),
        selectors,
        resource_version: rv,
        bookmarks: query.flag("allowWatchBookmarks"),
        send_initial_events: query.flag("sendInitialEvents"),
        timeout: query.get("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()).map(Duration::from_secs),
        metadata_only,
    };
    let rx = watch::start(shared.clone(), req);
    // Events already waiting go out in one chunk: a chunk (and a write) per event would make the
    // socket, not the emulator, the limit under bulk writes.
    let limit = if shared.faults.chunk_per_event() { 0 } else { 256 * 1024 };
    let stream = futures::stream::unfold(rx, move |mut rx| async move {
        let first = rx.recv().await?;
        let mut chunk = bytes::BytesMut::new();
        chunk.extend_from_slice(&first);
        while chunk.len() < limit {
            match rx.try_recv() {
                Ok(more) => chunk.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        Some((Ok::<_, Infallible>(Frame::data(chunk.freeze())), rx))
    });
    let mut r = Response::new(BodyExt::boxed_unsync(StreamBody::new(stream)));
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    r
}

pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
