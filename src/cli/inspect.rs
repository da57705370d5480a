use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use sk_core::trace::{self, simkube_v2, summary::TraceSummary, v1, TraceFormat};

/// Reads a trace file (v1 or simkube-v2 msgpack) and prints a summary: the time span, the number of events,
/// objects per kind and the owners that have pod lifecycle data. With `--json`, prints the whole
/// trace as JSON in the file's own shape instead: pod-hash map keys become decimal strings, and
/// simkube-v2's `[gvk, ns/name]` lifecycle keys become `"<gvk> <ns/name>"`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The trace file to read.
    pub file: PathBuf,
    /// Print the whole trace as JSON rather than a summary.
    #[arg(long)]
    pub json: bool,
    /// Also draw the trace as an SVG picture: objects alive per kind over time, and each pod's
    /// lifecycle as a bar grouped by owner.
    #[arg(long, value_name = "FILE.svg")]
    pub timeline: Option<PathBuf>,
    /// Also write the trace page: the timeline to zoom, filter and click through, every version
    /// and its changes, as one self-contained HTML file that needs no network.
    #[arg(long, value_name = "FILE.html")]
    pub html: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let path = args.file.display();
    let bytes = std::fs::read(&args.file).with_context(|| format!("reading trace file {path}"))?;
    let (format, trace) = trace::decode_any(&bytes).with_context(|| format!("{path} is not a valid trace"))?;
    if let Some(svg) = &args.timeline {
        crate::timeline::write_svg(&trace, svg)?;
    }
    if let Some(html) = &args.html {
        let page =
            crate::page::trace_file_page(&args.file, &trace).with_context(|| format!("{path}: drawing the page"))?;
        std::fs::write(html, page).with_context(|| format!("writing {}", html.display()))?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let json = match format {
            TraceFormat::V1 => v1::to_json(&trace),
            TraceFormat::SimkubeV2 => simkube_v2::to_json(&trace),
        };
        let json = json.with_context(|| format!("{path}: an object could not be decoded"))?;
        serde_json::to_writer_pretty(&mut out, &json)?;
        writeln!(out)?;
    } else {
        writeln!(out, "trace:      {path} (format {}, {} bytes)", format.name(), bytes.len())?;
        write!(out, "{}", TraceSummary::of(&trace))?;
        if let Some(svg) = &args.timeline {
            writeln!(out, "timeline:   {}", svg.display())?;
        }
        if let Some(html) = &args.html {
            writeln!(out, "page:       {}", html.display())?;
        }
    }
    Ok(())
}
