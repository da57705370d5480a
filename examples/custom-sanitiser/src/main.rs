//! `custom-sk-tracer`: sk-tracer with the `drop-annotations` sanitiser compiled in. Every built-in
//! command works as in `sk-tracer`; `custom-sk-tracer plugins` lists the new stage, and a config
//! names it like any other.

mod drop_annotations;

fn main() -> std::process::ExitCode {
    sk_tracer::main_entry()
}
