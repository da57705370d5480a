use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use sk_core::trace::{self, summary::TraceSummary};

/// Reads a trace file (v1 msgpack) and prints a summary: the time span, the number of events,
/// objects per kind and the owners that have pod lifecycle data. With `--json`, prints the whole
/// trace as JSON in the file's own shape instead, with pod-hash map keys as decimal strings.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The trace file to read.
    pub file: PathBuf,
    /// Print the whole trace as JSON rather than a summary.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let path = args.file.display();
    let bytes = std::fs::read(&args.file).with_context(|| format!("reading trace file {path}"))?;
    let trace = trace::decode(&bytes).with_context(|| format!("{path} is not a valid trace"))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let json = trace::v1::to_json(&trace).with_context(|| format!("{path}: an object could not be decoded"))?;
        serde_json::to_writer_pretty(&mut out, &json)?;
        writeln!(out)?;
    } else {
        writeln!(out, "trace:      {path} (format v1, {} bytes)", bytes.len())?;
        write!(out, "{}", TraceSummary::of(&trace))?;
    }
    Ok(())
}
