//! The command line: one file per subcommand.

mod check_config;
mod inspect;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// sk-tracer records what happens in a Kubernetes cluster (the objects of the kinds named in its
/// config, and the lifecycles of the pods they own) as a time-ordered trace, and exports windows of
/// it as msgpack trace files that a simulator replays.
#[derive(Debug, Parser)]
#[command(name = "sk-tracer", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate a config file and print it in normalised form.
    CheckConfig(check_config::Args),
    /// Summarise a trace file, or print it whole as JSON.
    Inspect(inspect::Args),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::CheckConfig(args) => check_config::run(args),
        Command::Inspect(args) => inspect::run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
