use std::path::PathBuf;

/// Validates a config file and prints it in normalised form: every tracked kind with its
/// pod-template paths filled in and every setting with its default. The `SK_TRACER_*` environment
/// variables apply as they do for `run`, so what it prints is what `run` would use. Exits non-zero
/// with a message naming the file, key and problem when the config is invalid.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config file (YAML) to validate.
    pub file: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = sk_config::Loader::new().file(&args.file).env().load()?;
    print!("{}", config.to_yaml());
    Ok(())
}
