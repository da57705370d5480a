use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sk_core::label_selector::LabelSelectorSpec;
use sk_core::trace::{self, summary::TraceSummary};

use super::time_spec;

/// Asks a running tracer for a window of its trace (`POST /export`) and saves it to a local file,
/// or has the tracer deliver it to storage. Shows progress while the trace downloads and a summary
/// at the end.
#[derive(Debug, clap::Args)]
#[command(group = clap::ArgGroup::new("destination").required(true).args(["out", "to"]))]
pub struct Args {
    /// The tracer's address: `http://` or, when it serves TLS, `https://`.
    #[arg(long, env = "SK_TRACER_URL", default_value = "http://127.0.0.1:8080")]
    pub tracer: String,
    /// Start of the window (inclusive): RFC 3339, unix seconds, `now`, or relative (`-1h`).
    #[arg(long, allow_hyphen_values = true)]
    pub start: String,
    /// End of the window (exclusive), in the same forms; `now` (the default) includes everything
    /// recorded so far.
    #[arg(long, default_value = "now", allow_hyphen_values = true)]
    pub end: String,
    /// Save the trace to this local file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Have the tracer deliver the trace here (s3://, gs://, az://, file:// or a path under its
    /// export directory).
    #[arg(long)]
    pub to: Option<String>,
    /// Leave out objects in this namespace (repeatable).
    #[arg(long = "exclude-namespace", value_name = "NS")]
    pub exclude_namespaces: Vec<String>,
    /// Leave out objects matching this label selector, in kubectl syntax such as
    /// `app=noise,tier in (batch)` (repeatable).
    #[arg(long = "exclude-label", value_name = "SELECTOR")]
    pub exclude_labels: Vec<String>,
    /// The trace format.
    #[arg(long, value_parser = ["v1", "simkube-v2"], default_value = "v1")]
    pub format: String,
    /// A SKEL program for the tracer to apply to the window before the filters (sent as the
    /// request's `transform`); checked here first.
    #[arg(long, value_name = "FILE")]
    pub transform: Option<PathBuf>,
    /// A file holding the tracer's bearer token (its `server.auth.tokenFile`), sent as
    /// `Authorization: Bearer <token>`; surrounding whitespace is ignored.
    #[arg(long, env = "SK_TRACER_TOKEN_FILE", value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// For an `https://` tracer: trust only the CA certificates (PEM) in this file, e.g. a private
    /// CA's or the tracer's own self-signed certificate. Without it, the system's trusted roots.
    #[arg(long, env = "SK_TRACER_CA_FILE", value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(export(args))
}

fn request_body(args: &Args, start: i64, end: i64) -> anyhow::Result<serde_json::Value> {
    let selectors = args
        .exclude_labels
        .iter()
        .map(|s| {
            let spec =
                LabelSelectorSpec::parse_kubectl(s).map_err(|e| anyhow::anyhow!("--exclude-label {s:?}: {e}"))?;
            let exprs: Vec<_> = spec
                .match_expressions
                .iter()
                .map(|e| serde_json::json!({"key": e.key, "operator": e.operator, "values": e.values}))
                .collect();
            Ok(serde_json::json!({"matchExpressions": exprs}))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut filters = serde_json::Map::new();
    if !args.exclude_namespaces.is_empty() {
        filters.insert("excluded_namespaces".into(), serde_json::json!(args.exclude_namespaces));
    }
    if !selectors.is_empty() {
        filters.insert("excluded_labels".into(), serde_json::json!(selectors));
    }
    let mut body = serde_json::json!({
        "start_ts": start, "end_ts": end, "export_path": args.to.clone().unwrap_or_default(),
        "filters": filters, "format": args.format,
    });
    if let Some(path) = &args.transform {
        let shown = path.display();
        let text = std::fs::read_to_string(path).with_context(|| format!("--transform {shown}: cannot read it"))?;
        sk_skel::Program::parse(&text)
            .map_err(|e| super::transform::BadProgram(format!("--transform {shown}: {e}")))?;
        body["transform"] = text.into();
    }
    Ok(body)
}

async fn export(args: Args) -> anyhow::Result<()> {
    let now = time_spec::now();
    let start = time_spec::parse(&args.start, now).map_err(|e| anyhow::anyhow!("--start {e}"))?;
    let end = time_spec::parse(&args.end, now).map_err(|e| anyhow::anyhow!("--end {e}"))?;
    // The end is exclusive, so `now` reaches one second on to include the current second.
    let end = if args.end.trim() == "now" { end + 1 } else { end };
    if end <= start {
        bail!("--end ({end}) must be after --start ({start})");
    }
    let body = serde_json::to_vec(&request_body(&args, start, end)?)?;
    let url = format!("{}/export", args.tracer.trim_end_matches('/'));
    let mut request = hyper::Request::post(&url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .with_context(|| format!("bad tracer address {:?}", args.tracer))?;
    if let Some(path) = &args.token_file {
        request.headers_mut().insert(hyper::header::AUTHORIZATION, authorization(path)?);
    }
    if args.to.is_some() {
        // Without it, the tracer answers as SimKube's does: a local destination comes back as
        // the trace, for the client to write, rather than being written by the tracer.
        request
            .headers_mut()
            .insert(hyper::header::ACCEPT, hyper::header::HeaderValue::from_static("application/json"));
    }
    let client = Client::builder(TokioExecutor::new()).build(connector(args.ca_file.as_deref())?);
    let response = match client.request(request).await {
        Ok(r) => r,
        Err(e) => {
            let chain: Vec<String> = std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
                .map(|e| e.to_string())
                .collect();
            let has = |what: &str| chain.iter().any(|c| c.contains(what));
            let hint = if has("CaUsedAsEndEntity") {
                " (the tracer's certificate is marked as a CA, which a server certificate must not be: issue it from \
                 a CA, or self-sign it with basicConstraints CA:FALSE)"
            } else if has("invalid peer certificate") && args.ca_file.is_none() {
                " (if a private CA signed the tracer's certificate, pass it with --ca-file)"
            } else {
                ""
            };
            return Err(anyhow::Error::new(e).context(format!("no answer from the tracer at {url}{hint}")));
        }
    };
    let status = response.status();
    let length = response.headers().get("content-length").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let mut body = response.into_body();

    let bar = indicatif::ProgressBar::with_draw_target(length, indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {bytes}/{total_bytes} {bytes_per_sec} {wide_bar}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut bytes = Vec::with_capacity(length.unwrap_or(0).min(1 << 30) as usize);
    while let Some(frame) = body.frame().await {
        let frame = frame.context("the download was interrupted")?;
        if let Some(data) = frame.data_ref() {
            bytes.extend_from_slice(data);
            bar.inc(data.len() as u64);
        }
    }
    bar.finish_and_clear();

    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
        let hint = match status {
            hyper::StatusCode::UNAUTHORIZED if args.token_file.is_none() => {
                " (give its token with --token-file or SK_TRACER_TOKEN_FILE)"
            }
            _ => "",
        };
        bail!("the tracer refused the export ({status}): {message}{hint}");
    }
    let mut out = std::io::stdout().lock();
    match &args.out {
        Some(path) => {
            let summary =
                TraceSummary::of(&trace::decode(&bytes).context("the tracer sent something that is not a trace")?);
            super::trace_file::write_atomically(path, &bytes)?;
            writeln!(out, "saved {} ({} bytes)", path.display(), bytes.len())?;
            write!(out, "{summary}")?;
        }
        None => {
            let reply: serde_json::Value = serde_json::from_slice(&bytes).context("the tracer's reply is not JSON")?;
            writeln!(
                out,
                "exported to {} ({} bytes, {} events, {} objects)",
                reply["location"].as_str().unwrap_or("?"),
                reply["bytes"],
                reply["events"],
                reply["objects"]
            )?;
        }
    }
    Ok(())
}

/// Plain HTTP and HTTPS, verifying the tracer's certificate against `ca_file` or the system's roots.
fn connector(
    ca_file: Option<&std::path::Path>,
) -> anyhow::Result<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>> {
    use hyper_rustls::ConfigBuilderExt;
    use rustls::pki_types::pem::PemObject;

    use crate::server::tls::pem_error;

    let builder = rustls::ClientConfig::builder_with_provider(crate::server::tls::provider())
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?;
    let config = match ca_file {
        Some(path) => {
            let shown = path.display();
            let mut roots = rustls::RootCertStore::empty();
            let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
                .map_err(|e| anyhow::anyhow!("--ca-file {shown}: cannot read it: {}", pem_error(e)))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow::anyhow!("--ca-file {shown}: cannot read it: {}", pem_error(e)))?;
            if certs.is_empty() {
                bail!("--ca-file {shown}: no PEM certificate in it (expected `-----BEGIN CERTIFICATE-----`)");
            }
            for cert in certs {
                roots.add(cert).with_context(|| format!("--ca-file {shown}: a certificate cannot be used"))?;
            }
            builder.with_root_certificates(roots)
        }
        None => builder.with_native_roots().context("loading the system's trusted certificates")?,
    };
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config.with_no_client_auth())
        .https_or_http()
        .enable_http1()
        .build())
}

/// `Bearer <token>` from the token file, marked sensitive so that it is never logged.
fn authorization(path: &std::path::Path) -> anyhow::Result<hyper::header::HeaderValue> {
    let shown = path.display();
    let bytes = std::fs::read(path).with_context(|| format!("--token-file {shown}: cannot read it"))?;
    let token = bytes.trim_ascii();
    if token.is_empty() {
        bail!("--token-file {shown} is empty");
    }
    let mut value = hyper::header::HeaderValue::from_bytes(&[b"Bearer ", token].concat())
        .map_err(|_| anyhow::anyhow!("--token-file {shown}: the token has characters an HTTP header cannot carry"))?;
    value.set_sensitive(true);
    Ok(value)
}
