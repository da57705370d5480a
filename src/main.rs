fn main() -> std::process::ExitCode {
    sk_tracer::main_entry()
}
