//! The guide cannot drift from the binary. In README.md and every docs/*.md:
//! - a block fenced exactly ```` ```yaml ```` is a complete config, and the real binary's
//!   `check-config` must accept it (a part of a config is fenced ```` ```yaml fragment ````);
//! - every command line in a ```` ```bash ````, ```` ```sh ```` or ```` ```console ```` block that
//!   runs sk-tracer (`sk-tracer ...`, `$ sk-tracer ...`, `target/<profile>/sk-tracer ...`, or
//!   `cargo run ... -- ...`, after any `NAME=value` assignments) must parse with the binary's
//!   command line. A line ending in `\` continues on the next; the command ends at the first shell
//!   operator (`|`, `&&`, `;`, `&`, a redirection) or comment.
//!
//! Failures name the file, the line and the problem, all of them at once.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser;
use sk_tracer::cli::Cli;

/// A fenced block: its info string (`yaml`, `bash`, `yaml fragment`...) and its lines, each with
/// its line number in the file.
struct Block {
    info: String,
    opened_at: usize,
    lines: Vec<(usize, String)>,
}

fn fenced_blocks(name: &str, text: &str) -> Result<Vec<Block>, String> {
    struct Open {
        fence: String,
        indent: usize,
        block: Block,
    }
    let mut blocks = Vec::new();
    let mut open: Option<Open> = None;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut open {
            None => {
                if let Some(after) = trimmed.strip_prefix("```") {
                    let info = after.trim_start_matches('`');
                    let fence = "`".repeat(3 + after.len() - info.len());
                    let block = Block { info: info.trim().to_string(), opened_at: number, lines: Vec::new() };
                    open = Some(Open { fence, indent, block });
                }
            }
            Some(current) => {
                let closes = trimmed
                    .strip_prefix(current.fence.as_str())
                    .is_some_and(|rest| rest.trim_start_matches('`').trim().is_empty());
                if closes {
                    blocks.push(open.take().expect("a block is open").block);
                } else {
                    // A block inside a list item is indented as a whole; its own indentation starts
                    // at the fence's.
                    let own = line.get(indent.min(current.indent)..).unwrap_or_default();
                    current.block.lines.push((number, own.to_string()));
                }
            }
        }
    }
    match open {
        Some(current) => Err(format!("{name}:{}: a fenced block is never closed", current.block.opened_at)),
        None => Ok(blocks),
    }
}

/// The lines of a shell block as the shell reads them: `\` at the end of a line joins the next.
fn logical_lines(block: &Block) -> Vec<(usize, String)> {
    let mut joined: Vec<(usize, String)> = Vec::new();
    let mut continuing = false;
    for (number, line) in &block.lines {
        let (text, continues) = match line.trim_end().strip_suffix('\\') {
            Some(text) => (text.trim_end().to_string(), true),
            None => (line.trim_end().to_string(), false),
        };
        match joined.last_mut() {
            Some((_, previous)) if continuing => {
                previous.push(' ');
                previous.push_str(text.trim_start());
            }
            _ => joined.push((*number, text.trim_start().to_string())),
        }
        continuing = continues;
    }
    joined
}

const SHELL_OPERATORS: [&str; 6] = ["|", "||", "&&", ";", "&", "2>&1"];

/// The arguments after the program name when the line runs sk-tracer, `None` when it runs
/// something else.
fn sk_tracer_arguments(line: &str, console: bool) -> Result<Option<Vec<String>>, String> {
    let line = if console {
        match line.strip_prefix("$ ") {
            Some(command) => command,
            None => return Ok(None),
        }
    } else {
        line
    };
    let Some(words) = shlex::split(line) else {
        return Err("cannot be split into shell words (an unclosed quote?)".to_string());
    };
    let end = words
        .iter()
        .position(|w| {
            SHELL_OPERATORS.contains(&w.as_str()) || w.starts_with('>') || w.starts_with('<') || w.starts_with("2>")
        })
        .unwrap_or(words.len());
    let words = &words[..end];
    let start = words.iter().position(|w| !is_assignment(w)).unwrap_or(words.len());
    let words = &words[start..];
    let Some(program) = words.first() else { return Ok(None) };
    if program == "sk-tracer" || program.ends_with("/sk-tracer") {
        return Ok(Some(words[1..].to_vec()));
    }
    if program == "cargo" && words.get(1).is_some_and(|w| w == "run") {
        if let Some(separator) = words.iter().position(|w| w == "--") {
            return Ok(Some(words[separator + 1..].to_vec()));
        }
    }
    Ok(None)
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=')
        .is_some_and(|(name, _)| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

fn parse_error(arguments: &[String]) -> Option<String> {
    let argv = std::iter::once("sk-tracer".to_string()).chain(arguments.iter().cloned());
    match Cli::try_parse_from(argv) {
        Ok(_) => None,
        // `--help` and `--version` are answers, not mistakes.
        Err(err)
            if matches!(err.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) =>
        {
            None
        }
        // clap's first lines say what is wrong; its usage and tip would repeat for every line.
        Err(err) => Some(
            err.render()
                .to_string()
                .lines()
                .take_while(|line| !line.starts_with("Usage:"))
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with("tip:"))
                .collect::<Vec<_>>()
                .join(" "),
        ),
    }
}

fn check_config_error(yaml: &str, scratch: &Path, label: &str) -> Option<String> {
    let file = scratch.join(format!("{}.yaml", label.replace(['/', ':', '.'], "-")));
    std::fs::write(&file, yaml).expect("the scratch directory is writable");
    let mut command = Command::new(env!("CARGO_BIN_EXE_sk-tracer"));
    command.arg("check-config").arg("--no-env").arg(&file).current_dir(env!("CARGO_MANIFEST_DIR"));
    let out = command.output().expect("the sk-tracer binary runs");
    (!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).trim().to_string())
}

#[derive(Default)]
struct Findings {
    configs_checked: usize,
    commands_checked: usize,
    problems: Vec<String>,
}

fn check_page(name: &str, text: &str, scratch: &Path, findings: &mut Findings) {
    let blocks = match fenced_blocks(name, text) {
        Ok(blocks) => blocks,
        Err(problem) => return findings.problems.push(problem),
    };
    for block in blocks {
        match block.info.as_str() {
            "yaml" => {
                let yaml: String = block.lines.iter().map(|(_, line)| format!("{line}\n")).collect();
                let label = format!("{name}-{}", block.opened_at);
                findings.configs_checked += 1;
                if let Some(error) = check_config_error(&yaml, scratch, &label) {
                    findings.problems.push(format!(
                        "{name}:{}: this ```yaml block is not a config `sk-tracer check-config` accepts \
                         (fence a part of a config as ```yaml fragment): {error}",
                        block.opened_at
                    ));
                }
            }
            "bash" | "sh" | "console" => {
                for (number, line) in logical_lines(&block) {
                    match sk_tracer_arguments(&line, block.info == "console") {
                        Ok(None) => {}
                        Ok(Some(arguments)) => {
                            findings.commands_checked += 1;
                            if let Some(error) = parse_error(&arguments) {
                                findings.problems.push(format!(
                                    "{name}:{number}: `{line}` does not parse as an sk-tracer command line: {error}"
                                ));
                            }
                        }
                        Err(problem) => findings.problems.push(format!("{name}:{number}: `{line}` {problem}")),
                    }
                }
            }
            _ => {}
        }
    }
}

fn guide_pages() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.expect("docs/ is readable").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    pages.sort();
    pages.insert(0, root.join("README.md"));
    pages
}

#[test]
fn every_config_and_command_in_the_guide_is_accepted_by_the_binary() {
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut findings = Findings::default();
    for page in guide_pages() {
        let name = page.strip_prefix(root).unwrap_or(&page).display().to_string();
        let text = std::fs::read_to_string(&page).unwrap_or_else(|err| panic!("reading {name}: {err}"));
        check_page(&name, &text, scratch.path(), &mut findings);
    }
    assert!(findings.problems.is_empty(), "the guide disagrees with the binary:\n{}", findings.problems.join("\n"));
    // A reader that found nothing would pass whatever the guide says.
    assert!(findings.configs_checked >= 5, "only {} ```yaml blocks found", findings.configs_checked);
    assert!(findings.commands_checked >= 10, "only {} sk-tracer command lines found", findings.commands_checked);
}

const BROKEN_PAGE: &str = "\
# A page

```yaml
trackedObjects:
  apps/v1.Deployment:
    colour: blue
```

```yaml fragment
checkpoint: {every: 5m}
```

```bash
sk-tracer export --start -1h --out a.sktrace --format v3   # no such format
sk-tracer inspect \\
  --frobnicate a.sktrace
SK_TRACER_URL=http://x:8080 target/release/sk-tracer merge --out all.sktrace | tee log
cargo run -p custom-sanitiser --bin custom-sk-tracer -- plugins --json
kubectl get pods
```

```console
$ sk-tracer colour
sk-tracer output that is not a command
```
";

#[test]
fn a_broken_config_or_command_is_reported_with_its_file_and_line() {
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let mut findings = Findings::default();
    check_page("docs/broken.md", BROKEN_PAGE, scratch.path(), &mut findings);
    let report = findings.problems.join("\n");
    assert_eq!(findings.configs_checked, 1, "the fragment is not checked: {report}");
    assert_eq!(findings.commands_checked, 5, "{report}");
    assert_eq!(findings.problems.len(), 5, "{report}");
    assert!(
        report.contains("docs/broken.md:3: this ```yaml block") && report.contains("unknown field `colour`"),
        "{report}"
    );
    assert!(report.contains("docs/broken.md:14: `sk-tracer export") && report.contains("v3"), "{report}");
    assert!(report.contains("docs/broken.md:15: `sk-tracer inspect --frobnicate a.sktrace`"), "{report}");
    assert!(report.contains("--frobnicate"), "{report}");
    // `merge` needs at least one input; the pipe and the assignment are not the command's.
    assert!(report.contains("docs/broken.md:17: `SK_TRACER_URL="), "{report}");
    assert!(report.contains("docs/broken.md:23: `$ sk-tracer colour`"), "{report}");
}

#[test]
fn an_unclosed_block_is_reported() {
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let mut findings = Findings::default();
    check_page("docs/open.md", "text\n\n```yaml\ntrackedObjects: {}\n", scratch.path(), &mut findings);
    assert_eq!(findings.problems, ["docs/open.md:3: a fenced block is never closed"]);
}
