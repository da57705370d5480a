//! `custom-sk-tracer`: sk-tracer with the `drop-annotations` sanitiser and the `stdout` exporter
//! compiled in. Every built-in command works as in `sk-tracer`; `custom-sk-tracer plugins` lists
//! the new plugins, a config names the sanitiser like any other and gives the exporter its options
//! in `export.stdout`, and exports to `stdout://` go to it.

mod drop_annotations;
mod stdout_exporter;

fn main() -> std::process::ExitCode {
    sk_tracer::main_entry()
}
