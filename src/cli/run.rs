use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::logging::{self, LogFormat};
use crate::server::{self, ServerMetrics, ServerState};

/// Connects to the cluster, watches every tracked kind and every pod, records the trace in memory,
/// and serves it: `POST /export`, the trace page (`GET /`, `GET /api/*`), `GET /healthz`, `GET
/// /readyz` and `GET /metrics`. With `server.auth.tokenFile`, all but the probes require
/// `Authorization: Bearer <token>` (or the page's cookie); with
/// `server.tls`, the server speaks HTTPS only. With `ha`, replicas elect a leader on a Lease: all
/// record and serve exports, only the leader runs scheduled exports and writes checkpoints. Runs
/// until SIGTERM or SIGINT. The cluster is found as kubectl finds it: `--kubeconfig`, else `KUBECONFIG`
/// or `~/.kube/config`, else the in-cluster service account. Logs go to stderr, filtered by
/// `RUST_LOG` (default `info`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config file (YAML); `SK_TRACER_*` environment variables override it, flags override both.
    #[arg(long, short, env = "SK_TRACER_CONFIG")]
    pub config: PathBuf,
    /// The kubeconfig file to use.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
    /// The port of the HTTP server (overrides `server.port`).
    #[arg(long)]
    pub port: Option<u16>,
    /// The address to listen on (overrides `server.bind`; loopback by default).
    #[arg(long)]
    pub bind: Option<IpAddr>,
    /// Where local exports may be written (overrides `export.localDir`).
    #[arg(long)]
    pub export_dir: Option<PathBuf>,
    /// The log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// A log filter in place of `RUST_LOG`: SimKube's `--verbosity`.
    #[arg(skip)]
    pub log_filter: Option<String>,
}

fn overrides(args: &Args) -> serde_json::Value {
    let mut server = serde_json::Map::new();
    if let Some(port) = args.port {
        server.insert("port".into(), port.into());
    }
    if let Some(bind) = args.bind {
        server.insert("bind".into(), bind.to_string().into());
    }
    let mut export = serde_json::Map::new();
    if let Some(dir) = &args.export_dir {
        export.insert("localDir".into(), dir.display().to_string().into());
    }
    serde_json::json!({"server": server, "export": export})
}

pub fn run(args: Args) -> anyhow::Result<()> {
    logging::init(args.log_format, args.log_filter.as_deref())?;
    let config = sk_config::Loader::new().file(&args.config).env().overrides(overrides(&args)).load()?;
    let built = crate::runtime::Runtime::from_config(&config)?;
    let checkpoints = config
        .checkpoint
        .as_ref()
        .map(|c| crate::checkpoint::Checkpoints::open(c, &built.exporters))
        .transpose()?
        .map(Arc::new);
    let auth = config
        .server
        .auth
        .as_ref()
        .map(|a| server::TokenStore::open(&a.token_file))
        .transpose()
        .context("server.auth.tokenFile")?;
    let tls = config.server.tls.as_ref().map(|t| server::tls::server_config(&t.cert_file, &t.key_file)).transpose()?;
    let lease = config
        .ha
        .as_ref()
        .map(|ha| {
            crate::lease::LeaseSettings::resolve(ha, |k| std::env::var(k).ok(), |f| std::fs::read_to_string(f).ok())
        })
        .transpose()
        .with_context(|| config.source_name.clone())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    // What read the command line and the config is not run again; connecting and listing touch
    // code of their own, so letting go of it now keeps the two from adding up at startup.
    crate::startup_code::release_logged("config read");
    runtime.block_on(async move {
        let cluster = crate::kube_client::cluster_config(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
        let client = crate::kube_client::client(cluster.clone())?;
        let restored = match &checkpoints {
            Some(cp) => cp.restore_stamped().await?,
            None => None,
        };
        let crate::runtime::Started { tracer, exports } = built.start(cluster, restored);
        // Turned true at SIGTERM: periodic checkpoints and scheduled exports finish what they are
        // doing and start nothing new.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        // The election goes on until the shutdown work is done, so that the leader still leads
        // while it writes the final checkpoint and the shutdown exports; then it releases the Lease.
        let (stop_electing, electing_stopped) = tokio::sync::watch::channel(false);
        let (role, election) = match lease {
            Some(settings) => {
                tracing::info!(lease = %settings.name, namespace = %settings.namespace, identity = %settings.identity, "electing a leader");
                let (elector, leading) = crate::lease::Elector::new(client, settings);
                let election = tokio::spawn(elector.clone().run(electing_stopped));
                (crate::role::Role::elected(elector, leading), Some(election))
            }
            None => (crate::role::Role::alone(), None),
        };
        let checkpointing = checkpoints
            .clone()
            .map(|cp| crate::checkpoint::spawn(cp, tracer.store.clone(), role.clone(), stopped.clone()));
        let mut metrics = ServerMetrics::new(&tracer).with_role(role.clone());
        if let Some(cp) = &checkpoints {
            metrics = metrics.with_checkpoints(cp.metrics.clone());
        }
        let state = Arc::new(ServerState {
            metrics,
            tracer,
            exports: exports.clone(),
            auth,
            role: role.clone(),
            readiness_grace: config.server.readiness_grace,
        });
        let scheduler = crate::schedule::Scheduler {
            exports,
            count: {
                let state = state.clone();
                Arc::new(move |schedule, outcome| state.metrics.count_scheduled(schedule, outcome))
            },
            role: role.clone(),
        };
        let addr = SocketAddr::new(config.server.bind, config.server.port);
        let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
        // With port 0 the system picks one: the log names the one it picked.
        let addr = listener.local_addr().unwrap_or(addr);
        let (authenticated, https) = (state.auth.is_some(), tls.is_some());
        if !authenticated && !config.server.bind.is_loopback() {
            tracing::warn!(%addr, "serving exports and metrics without authentication on a non-loopback address; set server.auth.tokenFile");
        }
        tracing::info!(%addr, authenticated, https, kinds = config.tracer.tracked_objects.len(), schedules = config.exports.len(), ha = role.is_elected(), "sk-tracer is running");
        let schedules = crate::schedule::spawn(&scheduler, &config.exports, &stopped);
        tokio::spawn(crate::startup_code::release_when_listed(state.tracer.health.clone()));
        let bound = config.server.shutdown_timeout;
        let signalled_at = std::sync::OnceLock::new();
        let signalled = async {
            shutdown_signal().await;
            let _ = signalled_at.set(tokio::time::Instant::now());
            let _ = stop.send(true);
        };
        // Half the bound for exports in flight (HTTP and scheduled) and a periodic checkpoint
        // being written; the final checkpoint and the shutdown exports get the rest.
        server::serve(listener, tls, state.clone(), signalled, bound / 2).await;
        let signalled_at = signalled_at.get().copied().unwrap_or_else(tokio::time::Instant::now);
        let tasks: Vec<_> = schedules.into_iter().chain(checkpointing).collect();
        let aborts: Vec<_> = tasks.iter().map(tokio::task::JoinHandle::abort_handle).collect();
        if tokio::time::timeout_at(signalled_at + bound / 2, futures::future::join_all(tasks)).await.is_err() {
            tracing::warn!("scheduled exports or a checkpoint still in progress at shutdown are cut off");
            aborts.iter().for_each(tokio::task::AbortHandle::abort);
        }
        let finish = async {
            if let Some(cp) = checkpoints.as_ref().filter(|_| role.leads()) {
                match cp.save(&state.tracer.store).await {
                    Ok(()) => tracing::info!("final checkpoint written"),
                    Err(e) => tracing::error!(error = format!("{e:#}"), "the final checkpoint failed"),
                }
            }
            crate::schedule::on_shutdown(&scheduler, &config.exports).await;
        };
        if tokio::time::timeout_at(signalled_at + bound, finish).await.is_err() {
            tracing::error!(
                seconds = bound.as_secs_f64(),
                "shutdown work did not finish within server.shutdownTimeout; stopping anyway"
            );
        }
        if let Some(election) = election {
            let _ = stop_electing.send(true);
            if tokio::time::timeout(Duration::from_secs(2), election).await.is_err() {
                tracing::warn!("the lease could not be released in time; it expires by itself");
            }
        }
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    // Watch tasks end with the runtime; do not wait for streams to notice.
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
