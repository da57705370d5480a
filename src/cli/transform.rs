use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use sk_core::export::KeepAll;
use sk_core::trace::{self, TraceFormat};
use sk_core::transform::{transform, TransformError};
use sk_skel::Program;

/// Applies a SKEL program to a trace file and writes the result: every object version and
/// deletion record of every event, in order, through every command of the program. An object the
/// program deletes leaves the index and the pod lifecycles too; the index hashes the transformed
/// objects; events left empty are dropped (the first, the state at the start, stays). Relative
/// times (`@t >= 10m`) count from the trace's first event. A program that does not parse, or
/// cannot be applied to an object, exits with status 2 and its line and column.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The trace file to transform (v1 or simkube-v2).
    pub input: PathBuf,
    /// The SKEL program.
    pub program: PathBuf,
    /// Where to write the result (replaced if it exists); by default beside the input, named
    /// `<input>-transformed` with the input's extension.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The format of the result; by default the input's.
    #[arg(long, value_parser = ["v1", "simkube-v2"])]
    pub format: Option<String>,
}

/// A program that does not parse or cannot be applied: the command exits with status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadProgram(pub String);

/// Traces with more events than this get a progress bar.
const PROGRESS_FROM_EVENTS: usize = 2_000;

pub fn run(args: Args) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let shown = args.program.display();
    let text = std::fs::read_to_string(&args.program).with_context(|| format!("reading the SKEL program {shown}"))?;
    let program = Program::parse(&text).map_err(|e| BadProgram(format!("{shown}: {e}")))?;

    let input = args.input.display();
    let bytes = std::fs::read(&args.input).with_context(|| format!("reading trace file {input}"))?;
    let (read_format, mut trace) =
        trace::decode_any(&bytes).with_context(|| format!("{input} is not a valid trace"))?;
    drop(bytes);
    let format = match args.format.as_deref() {
        Some("simkube-v2") => TraceFormat::SimkubeV2,
        Some(_) => TraceFormat::V1,
        None => read_format,
    };
    let start = trace.events.first().map(|e| e.ts).unwrap_or_default();

    let bar = if trace.events.len() >= PROGRESS_FROM_EVENTS {
        indicatif::ProgressBar::with_draw_target(
            Some(trace.events.len() as u64),
            indicatif::ProgressDrawTarget::stderr(),
        )
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {pos}/{len} events {wide_bar} {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let stats = transform(&mut trace, &program, start, &KeepAll, |done| {
        if done % 256 == 0 {
            bar.set_position(done as u64);
        }
    })
    .map_err(|e| match e {
        TransformError::Eval { .. } | TransformError::NotAnObject { .. } => {
            anyhow::Error::new(BadProgram(format!("{shown}: {e}")))
        }
        other => anyhow::Error::new(other).context(format!("transforming {input}")),
    })?;
    bar.finish_and_clear();

    let encoded = sk_core::export::encode(&trace, format).trace.into_bytes();
    let output = args.output.clone().unwrap_or_else(|| default_output(&args.input));
    super::trace_file::write_atomically(&output, &encoded)?;

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "transformed {input} with {shown} into {} (format {}, {} bytes)",
        output.display(),
        format.name(),
        encoded.len()
    )?;
    writeln!(
        out,
        "events:  {} read, {} matched, {} dropped as empty, {} written",
        stats.events,
        stats.events_matched,
        stats.events_dropped,
        trace.events.len()
    )?;
    writeln!(
        out,
        "objects: {} read, {} matched, {} changed ({} deleted)",
        stats.objects, stats.objects_matched, stats.objects_changed, stats.objects_deleted
    )?;
    writeln!(out, "took:    {:.2?}", started.elapsed())?;
    Ok(())
}

/// `trace.msgpack` → `trace-transformed.msgpack`, beside it.
fn default_output(input: &Path) -> PathBuf {
    let stem = input.file_stem().and_then(|s| s.to_str()).unwrap_or("trace");
    let name = match input.extension().and_then(|e| e.to_str()) {
        Some(ext) => format!("{stem}-transformed.{ext}"),
        None => format!("{stem}-transformed"),
    };
    input.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_output_sits_beside_the_input() {
        assert_eq!(default_output(Path::new("/t/a.msgpack")), Path::new("/t/a-transformed.msgpack"));
        assert_eq!(default_output(Path::new("trace")), Path::new("trace-transformed"));
    }
}
