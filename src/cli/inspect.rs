use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The trace file to read.
    pub file: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::bail!("inspect {} is not wired yet", args.file.display())
}
