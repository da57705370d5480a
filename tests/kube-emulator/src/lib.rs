//! An in-process HTTP server that speaks enough of the Kubernetes API for kube-rs clients
//! (`Api<DynamicObject>`, `Api<Pod>`, discovery, `watcher`, metadata-only watches) and `kubectl` to
//! work against it unchanged: discovery, list/get/create/update/patch/delete with label and field
//! selectors and pagination, `/status` and `/scale`, watches with resource versions, bookmarks and
//! 410 Gone, and the OpenAPI document kubectl needs.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use kube_emulator::{controllers, Emulator};
//! let emu = Emulator::start().await?; // 127.0.0.1, a free port
//! emu.write_kubeconfig("kubeconfig")?; // or emu.kubeconfig_yaml(), emu.url()
//! emu.create_deployment("default", "web", 3, controllers::template("web", "nginx:1.27"))?;
//! emu.close_watches();
//! println!("{} requests so far", emu.request_count());
//! # Ok(()) }
//! ```
//!
//! What tests use, all on [`Emulator`]:
//! - the server: [`Emulator::start`], [`Emulator::start_on`], [`Emulator::start_tls`] (HTTPS with a
//!   certificate made at start, which its kubeconfig trusts), [`Emulator::url`], [`Emulator::addr`],
//!   [`Emulator::kubeconfig_yaml`], [`Emulator::write_kubeconfig`], [`Emulator::stop`],
//!   [`Emulator::restart`] (same port, objects kept);
//! - objects without HTTP: [`Emulator::create`], [`Emulator::update`], [`Emulator::update_status`],
//!   [`Emulator::apply_object`], [`Emulator::get`], [`Emulator::list`], [`Emulator::delete`], with
//!   every server-set field filled in; kinds at runtime: [`Emulator::register_kind`] with a
//!   [`KindSpec`];
//! - controllers and the kubelet, in [`controllers`]: Deployments with their ReplicaSets and pods,
//!   rollouts, Jobs, CronJobs, a Volcano-style job, pod lifecycles, the scheduler's verdict on a pod
//!   it cannot place; every object carries `managedFields` as the apiserver writes them;
//! - faults: [`Emulator::close_watches`], [`Emulator::fail_next`], [`Emulator::forbid_kind`],
//!   [`Emulator::set_delay`], [`Emulator::compact`], [`Emulator::hold_watches`] (also over HTTP
//!   under `/admin/`),
//!   [`Emulator::fail_writes`] (writes to one kind fail while reads go on),
//!   [`Emulator::reset_connections`] (every new connection reset while it lasts) and
//!   [`Emulator::stop`] then [`Emulator::restart_after`] (connections refused while it lasts);
//! - load: [`Emulator::request_count`], [`Emulator::requests_by_verb`],
//!   [`Emulator::requests_by_route`], [`Emulator::requests_for`].

mod admin;
pub mod controllers;
mod faults;
pub mod kinds;
mod kubeconfig;
mod openapi;
mod patch;
mod protobuf;
mod select;
mod server;
mod state;
pub mod status;
mod tls;
mod watch;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;

pub use kinds::KindSpec;
pub use status::ApiError;

use server::Shared;

struct Running {
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

/// The listener task and address of a server, shared with the admin endpoint that restarts it.
struct Handle {
    shared: Arc<Shared>,
    running: Mutex<Running>,
    tls: Option<tls::Tls>,
}

/// A running emulator. Dropping it stops the server.
pub struct Emulator {
    handle: Arc<Handle>,
}

fn registry() -> &'static Mutex<Vec<std::sync::Weak<Handle>>> {
    static HANDLES: std::sync::OnceLock<Mutex<Vec<std::sync::Weak<Handle>>>> = std::sync::OnceLock::new();
    HANDLES.get_or_init(Default::default)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Stops the server that owns `shared`, waits `after`, and serves again on the same port.
async fn restart(shared: &Arc<Shared>, after: Duration) -> std::io::Result<()> {
    let handle = lock(registry()).iter().filter_map(|w| w.upgrade()).find(|h| Arc::ptr_eq(&h.shared, shared));
    match handle {
        Some(h) => h.restart_after(after).await,
        None => Ok(()),
    }
}

impl Handle {
    fn addr(&self) -> SocketAddr {
        lock(&self.running).addr
    }

    fn stop(&self) {
        self.shared.running.store(false, std::sync::atomic::Ordering::SeqCst);
        if let Some(task) = lock(&self.running).accept.take() {
            task.abort();
        }
        self.shared.close_watches();
    }

    async fn restart_after(&self, pause: Duration) -> std::io::Result<()> {
        self.stop();
        tokio::time::sleep(pause).await;
        let addr = self.addr();
        let mut last = None;
        for _ in 0..50 {
            match server::bind(addr).await {
                Ok(listener) => {
                    self.shared.running.store(true, std::sync::atomic::Ordering::SeqCst);
                    let acceptor = self.tls.as_ref().map(|t| t.acceptor.clone());
                    lock(&self.running).accept =
                        Some(tokio::spawn(server::serve(listener, self.shared.clone(), acceptor)));
                    return Ok(());
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("could not rebind")))
    }
}

impl Emulator {
    /// Starts an emulator on a free port of 127.0.0.1.
    pub async fn start() -> std::io::Result<Emulator> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn start_on(addr: SocketAddr) -> std::io::Result<Emulator> {
        Self::start_with(addr, None).await
    }

    /// Starts an emulator that serves HTTPS only, as an apiserver does, with a certificate made
    /// for it at start (for `127.0.0.1` and `localhost`); its kubeconfig trusts that certificate.
    pub async fn start_tls() -> std::io::Result<Emulator> {
        Self::start_with(SocketAddr::from(([127, 0, 0, 1], 0)), Some(tls::Tls::self_signed()?)).await
    }

    async fn start_with(addr: SocketAddr, tls: Option<tls::Tls>) -> std::io::Result<Emulator> {
        let shared = Arc::new(Shared::new(kinds::built_in()));
        let listener = server::bind(addr).await?;
        let addr = listener.local_addr()?;
        let acceptor = tls.as_ref().map(|t| t.acceptor.clone());
        let accept = tokio::spawn(server::serve(listener, shared.clone(), acceptor));
        let handle = Arc::new(Handle { shared, running: Mutex::new(Running { addr, accept: Some(accept) }), tls });
        lock(registry()).push(Arc::downgrade(&handle));
        Ok(Emulator { handle })
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    pub fn addr(&self) -> SocketAddr {
        self.handle.addr()
    }

    pub fn url(&self) -> String {
        let scheme = if self.handle.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr())
    }

    /// The PEM certificate an emulator started with [`Emulator::start_tls`] serves.
    pub fn ca_pem(&self) -> Option<&str> {
        self.handle.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    pub fn kubeconfig_yaml(&self) -> String {
        kubeconfig::yaml(&self.url(), self.ca_pem())
    }

    pub fn write_kubeconfig(&self, path: impl AsRef<std::path::Path>) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig_yaml())
    }

    /// Stops serving: the listener closes and every connection, watches included, is dropped.
    /// The objects stay.
    pub fn stop(&self) {
        self.handle.stop();
    }

    /// Stops, waits `pause`, and serves again on the same port, as a restarted apiserver would.
    pub async fn restart_after(&self, pause: Duration) -> std::io::Result<()> {
        self.handle.restart_after(pause).await
    }

    pub async fn restart(&self) -> std::io::Result<()> {
        self.restart_after(Duration::from_millis(100)).await
    }

    /// Serves a kind from now on, as installing a CRD does.
    pub fn register_kind(&self, kind: KindSpec) {
        let mut state = self.shared().lock();
        if !state.kinds.contains(&kind) {
            state.kinds.push(kind);
        }
    }

    fn kind(&self, api_version: &str, kind: &str) -> Result<KindSpec, ApiError> {
        self.shared()
            .lock()
            .kind_by_gvk(api_version, kind)
            .ok_or_else(|| ApiError::new(404, "NotFound", format!("no kind {kind} in {api_version}")))
    }

    fn identity(obj: &Value) -> Result<(String, String, String, String), ApiError> {
        let s = |p: &str| obj.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
        let (api_version, kind, name) = (s("/apiVersion"), s("/kind"), s("/metadata/name"));
        if api_version.is_empty() || kind.is_empty() {
            return Err(ApiError::bad_request("the object needs apiVersion and kind"));
        }
        Ok((api_version, kind, s("/metadata/namespace"), name))
    }

    /// Creates an object, with every server-set field filled in as the apiserver would.
    pub fn create(&self, obj: Value) -> Result<Value, ApiError> {
        let (api_version, kind, ns, _) = Self::identity(&obj)?;
        let kind = self.kind(&api_version, &kind)?;
        self.shared().lock().create(&kind, &ns, obj, "kube-emulator").map(|o| (*o).clone())
    }

    /// Replaces an object's spec and metadata (its status stays), whatever its resource version.
    pub fn update(&self, mut obj: Value) -> Result<Value, ApiError> {
        let (api_version, kind, ns, name) = Self::identity(&obj)?;
        let kind = self.kind(&api_version, &kind)?;
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
        }
        self.shared().lock().update(&kind, &ns, &name, obj, false, "kube-emulator").map(|o| (*o).clone())
    }

    /// Replaces an object's status, as a controller or the kubelet does.
    pub fn update_status(&self, mut obj: Value) -> Result<Value, ApiError> {
        let (api_version, kind, ns, name) = Self::identity(&obj)?;
        let kind = self.kind(&api_version, &kind)?;
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
        }
        self.shared().lock().update(&kind, &ns, &name, obj, true, "kube-emulator").map(|o| (*o).clone())
    }

    /// Creates the object, or updates it if it exists.
    pub fn apply_object(&self, obj: Value) -> Result<Value, ApiError> {
        let (api_version, kind, ns, name) = Self::identity(&obj)?;
        match self.get(&api_version, &kind, &ns, &name) {
            Ok(_) => self.update(obj),
            Err(_) => self.create(obj),
        }
    }

    pub fn get(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Result<Value, ApiError> {
        let kind = self.kind(api_version, kind)?;
        self.shared().lock().get(&kind, namespace, name).map(Arc::unwrap_or_clone)
    }

    pub fn delete(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Result<Value, ApiError> {
        let kind = self.kind(api_version, kind)?;
        self.shared().lock().delete(&kind, namespace, name).map(Arc::unwrap_or_clone)
    }

    /// Objects of a kind, in one namespace or (`None`) all.
    pub fn list(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        let Ok(kind) = self.kind(api_version, kind) else { return Vec::new() };
        self.shared().lock().list(&kind, namespace).into_iter().map(Arc::unwrap_or_clone).collect()
    }

    /// Objects of a kind in a namespace that name `uid` as an owner.
    pub fn list_owned_by(&self, api_version: &str, kind: &str, namespace: &str, uid: &str) -> Vec<Value> {
        let Ok(kind) = self.kind(api_version, kind) else { return Vec::new() };
        // Only objects whose JSON mentions the uid are parsed; their owner references decide.
        let finder = memchr::memmem::Finder::new(uid.as_bytes());
        let candidates = self.shared().lock().list_where(&kind, Some(namespace), |json| finder.find(json).is_some());
        candidates
            .into_iter()
            .map(Arc::unwrap_or_clone)
            .filter(|o| {
                o.pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .is_some_and(|refs| refs.iter().any(|r| r["uid"] == uid))
            })
            .collect()
    }

    /// How many objects of a kind there are, in every namespace.
    pub fn count(&self, api_version: &str, kind: &str) -> usize {
        let Ok(kind) = self.kind(api_version, kind) else { return 0 };
        self.shared().lock().count_of(&kind)
    }

    pub fn object_count(&self) -> usize {
        self.shared().lock().count()
    }

    pub fn resource_version(&self) -> u64 {
        self.shared().lock().resource_version()
    }

    /// Ends every open watch (and the connections carrying them).
    pub fn close_watches(&self) {
        self.shared().close_watches();
    }

    /// Answers the next `n` API requests with `status` (500, 429, ...).
    pub fn fail_next(&self, n: u32, status: u16) {
        self.shared().faults.fail_next(n, status);
    }

    /// Answers every request for the kind with 403 Forbidden, as missing RBAC would.
    /// Answers every write to the kind (create, update, patch, delete) with `status` (403 as
    /// Forbidden, anything else as an internal error) while reads go on; [`Emulator::allow_writes`]
    /// ends it.
    pub fn fail_writes(&self, group: &str, version: &str, plural: &str, status: u16) {
        self.shared().faults.fail_writes(format!("{group}/{version}/{plural}"), status);
    }

    pub fn allow_writes(&self, group: &str, version: &str, plural: &str) {
        self.shared().faults.allow_writes(&format!("{group}/{version}/{plural}"));
    }

    pub fn forbid_kind(&self, group: &str, version: &str, plural: &str) {
        self.shared().faults.forbid(format!("{group}/{version}/{plural}"));
    }

    pub fn allow_kind(&self, group: &str, version: &str, plural: &str) {
        self.shared().faults.allow(&format!("{group}/{version}/{plural}"));
    }

    /// Delays every API response.
    pub fn set_delay(&self, delay: Duration) {
        self.shared().faults.set_delay(delay);
    }

    /// Watch streams opened from now on send each event as an HTTP chunk of its own, as
    /// kube-apiserver does (`true`), rather than the events already waiting as one chunk: a
    /// client then gets a backlog as thousands of small reads.
    pub fn set_chunk_per_event(&self, on: bool) {
        self.shared().faults.set_chunk_per_event(on);
    }

    /// Holds every watch stream open without sending (`true`): changes queue up, as for a client
    /// that stopped reading, and go out at once when released (`false`).
    pub fn hold_watches(&self, held: bool) {
        self.shared().faults.hold_watches(held);
    }

    /// From now on every new connection is reset as soon as it is accepted, and open watches end
    /// (with their connections), until [`Emulator::accept_connections`]: the apiserver is there
    /// but answers nothing.
    pub fn reset_connections(&self) {
        self.shared().faults.set_reset_connections(true);
        self.shared().close_watches();
    }

    /// Ends [`Emulator::reset_connections`].
    pub fn accept_connections(&self) {
        self.shared().faults.set_reset_connections(false);
    }

    /// Forgets the watch history: a watch from an earlier resource version gets 410 Gone.
    pub fn compact(&self) {
        self.shared().lock().compact();
    }

    /// API requests served (admin requests excluded).
    pub fn request_count(&self) -> u64 {
        self.shared().counters.total()
    }

    /// Requests by route: `LIST apps/v1/replicasets`, `WATCH /v1/pods`, `GET discovery /apis/apps/v1`...
    pub fn requests_by_route(&self) -> BTreeMap<String, u64> {
        self.shared().counters.by_route()
    }

    /// Requests by verb: `GET`, `LIST`, `WATCH`, `POST`, `PUT`, `PATCH`, `DELETE`, `DELETECOLLECTION`.
    pub fn requests_by_verb(&self) -> BTreeMap<String, u64> {
        self.shared().counters.by_verb()
    }

    /// Requests for one route, as keyed in [`Emulator::requests_by_route`]; 0 if none.
    pub fn requests_for(&self, route: &str) -> u64 {
        self.shared().counters.by_route().get(route).copied().unwrap_or(0)
    }

    pub fn reset_request_counts(&self) {
        self.shared().counters.reset();
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}
