use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use sk_core::trace::merge::{merge, MergeInput};
use sk_core::trace::{self, simkube_v2, summary::TraceSummary, v1};

/// Merges trace files into one: the exports of namespace shards (`shard` in the config) for one
/// window, consecutive windows of one tracer (scheduled exports, adjacent or overlapping), or
/// both. Inputs that start at the same second are parts of one window and are united; an input
/// that starts later continues the ones before it. The same change recorded by two inputs is
/// written once; two inputs that record one object differently at the same second are refused.
/// Reads every trace shape `inspect` reads (v1 and simkube-v2, from this tracer or SimKube's).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The trace files to merge, in any order.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Where to write the merged trace (replaced if it exists).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The format of the merged trace.
    #[arg(long, value_parser = ["v1", "simkube-v2"], default_value = "v1")]
    pub format: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut traces = Vec::with_capacity(args.files.len());
    for file in &args.files {
        let bytes = std::fs::read(file).with_context(|| format!("reading trace file {}", file.display()))?;
        let trace = trace::decode(&bytes).with_context(|| format!("{} is not a valid trace", file.display()))?;
        traces.push((file.display().to_string(), trace));
    }
    let inputs: Vec<MergeInput<'_>> =
        traces.iter().map(|(name, trace)| MergeInput { name: name.as_str(), trace }).collect();
    let merged = merge(&inputs)?;
    let bytes = match args.format.as_str() {
        "simkube-v2" => {
            let mut out = Vec::new();
            simkube_v2::encode(&merged, &mut out).context("encoding the merged trace")?;
            out
        }
        _ => v1::encode_to_vec(&merged),
    };
    super::trace_file::write_atomically(&args.out, &bytes)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "merged:     {} traces into {} (format {}, {} bytes)",
        traces.len(),
        args.out.display(),
        args.format,
        bytes.len()
    )?;
    write!(out, "{}", TraceSummary::of(&merged))?;
    Ok(())
}
