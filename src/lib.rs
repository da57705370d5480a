//! sk-tracer as a library: the binary's `main` is one call into [`main_entry`], so a team can build
//! its own tracer binary that links extra plugins registered with `inventory::submit!`.

pub mod checkpoint;
pub mod cli;
pub mod kube_client;
pub mod lease;
pub mod logging;
pub mod page;
pub mod role;
pub mod runtime;
pub mod schedule;
pub mod server;
pub mod startup_code;
pub mod timeline;

use std::process::ExitCode;

// The built-in plugins register themselves with `inventory`; a crate that no code refers to is
// not linked, and its registrations would be lost.
use sk_plugins as _;

/// Parses the command line, runs the chosen command and turns its outcome into an exit code.
pub fn main_entry() -> ExitCode {
    cli::main()
}
