//! A bench's command line.

/// The value after `--name` on the command line, if there is one and it parses.
pub fn option<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok())
}
