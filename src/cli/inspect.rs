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
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let path = args.file.display();
    let bytes = std::fs::read(&args.file).with_context(|| format!("reading trace file {path}"))?;
    let (format, trace) = trace::decode_any(&bytes).with_context(|| format!("{path} is not a valid trace"))?;
    if let Some(svg) = &args.timeline {
        crate::timeline::write_svg(&trace, svg)?;
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
    }
    Ok(())
}
