//! Configs loaded in-process, as `sk-tracer run` loads them.

/// The whole config `yaml` describes, every other setting at its default.
pub fn load(yaml: &str) -> sk_config::Config {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("c.yaml"), yaml).expect("write");
    sk_config::Loader::new().file(dir.path().join("c.yaml")).load().expect("config")
}
