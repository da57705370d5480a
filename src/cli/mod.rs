//! The command line: one file per subcommand.

mod check_config;
mod export;
mod inspect;
mod merge;
mod plugins;
mod run;
mod simkube_flags;
mod suggest_config;
mod time_spec;
mod trace_file;
mod transform;
mod view;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// sk-tracer records what happens in a Kubernetes cluster (the objects of the kinds named in its
/// config, and the lifecycles of the pods they own) as a time-ordered trace, and exports windows of
/// it as msgpack trace files that a simulator replays.
///
/// With no subcommand it takes SimKube's tracer flags (`--config-file`, `--server-port`,
/// `--verbosity`) and runs as `run` does, so that it can replace SimKube's tracer.
#[derive(Debug, Parser)]
#[command(
    name = "sk-tracer",
    version,
    max_term_width = 100,
    arg_required_else_help = true,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(flatten)]
    simkube: simkube_flags::Args,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Trace the cluster and serve exports, the trace page, probes and metrics.
    ///
    /// Connects to the cluster, watches every tracked kind and every pod, records the trace in
    /// memory, and serves it: `POST /export`, `GET /` (the trace page, which follows the trace
    /// as it is recorded) and the windows it reads (`GET /api/window`), `GET /healthz`, `GET
    /// /readyz` and `GET /metrics`.
    /// With `server.auth.tokenFile`, `/export`, `/metrics` and the page's endpoints require
    /// `Authorization: Bearer <token>` (the page asks a browser for it once and keeps it in a
    /// cookie); with `server.tls`, the server speaks HTTPS only. Runs until SIGTERM or SIGINT. The cluster is found as kubectl finds it: `--kubeconfig`,
    /// else `KUBECONFIG` or `~/.kube/config`, else the in-cluster service account. Logs go to
    /// stderr, filtered by `RUST_LOG` (default `info`).
    Run(run::Args),
    /// Validate a config file and print it in normalised form.
    ///
    /// Prints every tracked kind with its pod-template paths filled in and every setting with its
    /// default. `SK_TRACER_*` environment variables apply as they do for `run`, so what it prints
    /// is what `run` would use. Exits non-zero with a message naming the file, key and problem
    /// when the config is invalid.
    CheckConfig(check_config::Args),
    /// Summarise a trace file, or print it whole as JSON.
    ///
    /// Reads a v1 or simkube-v2 trace and prints its time span, number of events, objects per
    /// kind and the owners that have pod lifecycle data. With `--json`, prints the whole trace as
    /// JSON in the file's own shape: pod-hash map keys become decimal strings, and simkube-v2's
    /// `[gvk, ns/name]` lifecycle keys become `"<gvk> <ns/name>"`. With `--html`, also writes the
    /// trace page (see docs/page.md) as one self-contained file.
    Inspect(inspect::Args),
    /// Serve a trace file's page on 127.0.0.1 and print its URL.
    ///
    /// Reads a v1 or simkube-v2 trace and serves the trace page (the one `inspect --html`
    /// writes: a timeline of every object's changes and its pods, with filters, zoom and each
    /// version's diff) until interrupted. Listens on the loopback address only.
    View(view::Args),
    /// List the sanitisers, export filters and exporters built into this binary.
    ///
    /// Names are what the config's `pipeline.sanitisers` and an export's `filters` use. A binary
    /// built with extra plugins (see docs/plugins.md) lists them too.
    Plugins(plugins::Args),
    /// Fetch a window of the trace from a running tracer.
    ///
    /// Asks a running tracer for `[--start, --end)` of its trace (`POST /export`) and saves it to
    /// a local file (`--out`), or has the tracer deliver it to storage (`--to`). Shows progress
    /// while the trace downloads and a summary at the end. For a tracer that requires a token,
    /// `--token-file`; for one that serves HTTPS, an `https://` address and, for a private CA,
    /// `--ca-file`.
    Export(export::Args),
    /// Merge trace files: namespace shards' exports of one window, consecutive windows, or both.
    ///
    /// Inputs that start at the same second are parts of one window (the shards of `shard:
    /// {index, count}` exporting the same `--start` and `--end`) and are united; an input that
    /// starts later continues those before it: its first event, which holds the whole state at
    /// its start, becomes the changes from the state the earlier inputs left, and a change that
    /// two inputs both recorded is written once. Index entries come from the input that saw the
    /// object last; a pod lifecycle that a later window clipped to its start continues the one
    /// an earlier window left running. Inputs that record one object differently at the same
    /// second, or configure one kind differently, are refused with both files named.
    Merge(merge::Args),
    /// Apply a SKEL program (SimKube's trace transformation language) to a trace file.
    ///
    /// Runs every command of the program over every object of every event, in order, and writes
    /// the result in the input's format (or `--format`): deleted objects leave the index and
    /// their pod lifecycles, the index hashes the transformed objects, and events left empty are
    /// dropped. Relative times (`@t >= 10m`) count from the trace's first event. Prints how many
    /// events and objects matched and changed. A program that does not parse, or cannot be applied
    /// to an object, exits with status 2, naming its line and column.
    Transform(transform::Args),
    /// Print a commented config for the cluster's workloads, from its CustomResourceDefinitions.
    ///
    /// Lists the built-in workload kinds, and every custom resource kind whose CRD's schema
    /// declares pod templates (a pod template's shape: `metadata` and a `spec` with `containers`),
    /// with every path to them (`*` for arrays and maps). Kinds whose schema declares none are
    /// listed commented out, with why; fields named like templates that a schema leaves opaque are
    /// listed for a person to check. Reads the cluster as `run` finds it (needs get and list on
    /// customresourcedefinitions), or `--crd-file` manifests without one. The output passes
    /// `check-config`.
    SuggestConfig(suggest_config::Args),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse_from(simkube_flags::without_own_path(std::env::args_os()));
    let Some(command) = cli.command else {
        return exit_code(cli.simkube.into_run().and_then(run::run));
    };
    let outcome = match command {
        Command::Run(args) => run::run(args),
        Command::CheckConfig(args) => check_config::run(args),
        Command::Inspect(args) => inspect::run(args),
        Command::View(args) => view::run(args),
        Command::Export(args) => export::run(args),
        Command::Plugins(args) => plugins::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Transform(args) => transform::run(args),
        Command::SuggestConfig(args) => suggest_config::run(args),
    };
    exit_code(outcome)
}

fn exit_code(outcome: anyhow::Result<()>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that went away (`sk-tracer plugins | head`) is not an error.
        Err(err)
            if err.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(err) if err.downcast_ref::<transform::BadProgram>().is_some() => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
