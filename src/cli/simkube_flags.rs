//! SimKube's tracer's command line, taken when no subcommand is given, so that SimKube's
//! manifests start this binary unchanged: `/sk-tracer --server-port 7777 -c /config/tracer-config.yml`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// With no subcommand, sk-tracer takes SimKube's tracer flags and runs as `run` does.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "SimKube's tracer flags (with no subcommand; the same as `run`)")]
pub struct Args {
    /// The config file: `run --config`.
    #[arg(short = 'c', long, value_name = "PATH", required = true)]
    pub config_file: Option<PathBuf>,
    /// The port of the HTTP server: `run --port`.
    #[arg(long, value_name = "PORT")]
    pub server_port: Option<u16>,
    /// The log filter, such as `info`, `debug` or `info,sk_tracer=debug`, in place of `RUST_LOG`.
    #[arg(short = 'v', long, value_name = "FILTER")]
    pub verbosity: Option<String>,
}

impl Args {
    /// The `run` these flags stand for.
    pub fn into_run(self) -> anyhow::Result<super::run::Args> {
        let config = self.config_file.context("--config-file is required without a subcommand")?;
        if let Some(filter) = &self.verbosity {
            tracing_subscriber::EnvFilter::try_new(filter).with_context(|| format!("--verbosity {filter:?}"))?;
        }
        Ok(super::run::Args {
            config,
            kubeconfig: None,
            context: None,
            port: self.server_port,
            bind: None,
            export_dir: None,
            log_format: crate::logging::LogFormat::Text,
            log_filter: self.verbosity,
        })
    }
}

/// The command line without the program's own path as its first argument. SimKube's image runs
/// its manifests' `args` under a pass-through entrypoint, so they begin with the program
/// (`/sk-tracer`); under an entrypoint that is this program, that path comes to it as an argument.
pub fn without_own_path(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    let names_this_program = args.get(1).is_some_and(|first| {
        let path = Path::new(first);
        path.is_absolute() && path.file_name().is_some_and(|name| name == "sk-tracer")
    });
    if names_this_program {
        args.remove(1);
    }
    args
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

    fn parse(line: &str) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(without_own_path(line.split_whitespace().map(OsString::from)))
    }

    #[test]
    fn simkubes_manifest_line_runs_the_tracer() {
        for line in [
            "sk-tracer /sk-tracer --server-port 7777 -c /config/tracer-config.yml",
            "/usr/local/bin/sk-tracer --config-file /config/tracer-config.yml --server-port 7777 -v info",
            "sk-tracer -c /config/tracer-config.yml --server-port 7777 --verbosity debug",
        ] {
            let cli = parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert!(cli.command.is_none(), "{line}");
            let run = cli.simkube.into_run().unwrap();
            assert_eq!(run.config, Path::new("/config/tracer-config.yml"));
            assert_eq!(run.port, Some(7777));
        }
        let run = parse("sk-tracer -c f.yml -v info,sk_tracer=debug").unwrap().simkube.into_run().unwrap();
        assert_eq!((run.port, run.log_filter.as_deref()), (None, Some("info,sk_tracer=debug")));
    }

    #[test]
    fn subcommands_keep_their_own_flags() {
        let cli = parse("sk-tracer run --config c.yaml --port 9000").unwrap();
        assert!(cli.command.is_some());
        // A path that is not this program is no first argument to drop.
        assert!(parse("sk-tracer /bin/other -c f.yml").is_err());
        assert!(parse("sk-tracer run --server-port 7777 --config c.yaml").is_err());
    }

    #[test]
    fn wrong_flags_are_refused_by_name() {
        let message = |line: &str| parse(line).err().unwrap_or_else(|| panic!("{line} was accepted")).to_string();
        assert!(message("sk-tracer -c f.yml --server-port 7777 --bogus").contains("unexpected argument '--bogus'"));
        assert!(message("sk-tracer --server-port 7777").contains("--config-file"));
        assert!(message("sk-tracer -c f.yml --server-port many").contains("invalid value 'many'"));
        assert!(message("sk-tracer -c f.yml run --config c.yaml").contains("cannot be used with '--config-file"));
        let bad = parse("sk-tracer -c f.yml -v info,[").unwrap().simkube.into_run().unwrap_err();
        assert!(format!("{bad:#}").contains("--verbosity \"info,[\""), "{bad:#}");
    }
}
