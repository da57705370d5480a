use std::io::Write;

use sk_core::export::FilterPlugin;
use sk_core::pipeline::SanitiserPlugin;

/// Lists every pipeline stage and exporter compiled into this binary.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the list as JSON.
    #[arg(long)]
    pub json: bool,
}

struct Row {
    kind: &'static str,
    name: String,
    describe: &'static str,
}

fn rows() -> Vec<Row> {
    let mut rows = Vec::new();
    for p in SanitiserPlugin::all() {
        rows.push(Row { kind: "sanitiser", name: p.name.to_string(), describe: p.describe });
    }
    for p in FilterPlugin::all() {
        let name = match p.request_key {
            Some(key) => format!("{} (filters.{key})", p.name),
            None => format!("{} (always on)", p.name),
        };
        rows.push(Row { kind: "filter", name, describe: p.describe });
    }
    for p in sk_exporters::all() {
        let schemes: Vec<String> = p.schemes.iter().map(|s| format!("{s}://")).collect();
        let name = format!("{} ({})", p.name, schemes.join(", "));
        rows.push(Row { kind: "exporter", name, describe: p.describe });
    }
    rows
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let rows = rows();
    let mut out = std::io::stdout().lock();
    if args.json {
        let json: Vec<_> = rows
            .iter()
            .map(|r| serde_json::json!({"kind": r.kind, "name": r.name, "description": r.describe}))
            .collect();
        serde_json::to_writer_pretty(&mut out, &json)?;
        writeln!(out)?;
        return Ok(());
    }
    let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
    for r in rows {
        writeln!(out, "{:9}  {:width$}  {}", r.kind, r.name, r.describe)?;
    }
    Ok(())
}
