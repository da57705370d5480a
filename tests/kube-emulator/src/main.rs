use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// Runs a Kubernetes API emulator that kubectl, kube-rs clients and sk-tracer can use instead of
/// a cluster. It serves discovery, the usual object verbs, watches, and `/admin/...` endpoints for
/// fault injection (close-watches, fail, forbid, delay, compact, requests, restart). State lives in
/// memory and ends with the process.
#[derive(Parser)]
#[command(name = "kube-emulator", version, max_term_width = 100)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8001")]
    listen: SocketAddr,
    /// Write a kubeconfig pointing at the emulator to this path.
    #[arg(long)]
    write_kubeconfig: Option<PathBuf>,
    /// Also serve the Volcano job kind (`batch.volcano.sh/v1alpha1` Job) from the start.
    #[arg(long)]
    volcano: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let emulator = kube_emulator::Emulator::start_on(args.listen).await?;
    if args.volcano {
        emulator.register_kind(kube_emulator::kinds::volcano_job());
    }
    if let Some(path) = &args.write_kubeconfig {
        emulator.write_kubeconfig(path)?;
        eprintln!("kubeconfig written to {}", path.display());
    }
    eprintln!("kube-emulator serving {}", emulator.url());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(())
}
