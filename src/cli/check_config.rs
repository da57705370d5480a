use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config file (YAML) to validate.
    pub file: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::bail!("check-config {} is not wired yet", args.file.display())
}
