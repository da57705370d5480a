//! `sk-tracer view FILE`: the trace page of a file, served on the loopback address until
//! interrupted.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// Reads a trace file (v1 or simkube-v2) and serves its page on 127.0.0.1, printing the URL to
/// open. The page is the one `inspect --html` writes; this saves writing it somewhere first.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The trace file to show.
    pub file: PathBuf,
    /// The port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let path = args.file.display();
    let bytes = std::fs::read(&args.file).with_context(|| format!("reading trace file {path}"))?;
    let (_, trace) = sk_core::trace::decode_any(&bytes).with_context(|| format!("{path} is not a valid trace"))?;
    let page = Bytes::from(crate::page::trace_file_page(&args.file, &trace)?);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(serve(page, args.port))
}

async fn serve(page: Bytes, port: u16) -> anyhow::Result<()> {
    // Only this machine: the page holds the whole trace and asks for no token.
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    let bound = listener.local_addr()?;
    println!("the trace page is at http://{bound}/ (Ctrl-C to stop)");
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => accepted.context("accepting a connection")?.0,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        crate::server::listen::no_delay(&stream);
        let page = page.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let page = page.clone();
                async move {
                    let found = request.uri().path() == "/" && request.method() == hyper::Method::GET;
                    let (status, kind, body) = if found {
                        (200, "text/html; charset=utf-8", page)
                    } else {
                        (404, "text/plain; charset=utf-8", Bytes::from_static(b"the trace page is at /\n"))
                    };
                    hyper::Response::builder()
                        .status(status)
                        .header(hyper::header::CONTENT_TYPE, kind)
                        .body(Full::new(body))
                }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder.serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}
