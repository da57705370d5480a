use std::path::PathBuf;

/// Validates a config file and prints it in normalised form: every tracked kind with its
/// pod-template paths filled in (`podSpecTemplatePaths`, a list) and every setting with its
/// default. The `SK_TRACER_*` environment variables apply as they do for `run`, so what it prints
/// is what `run` would use. Exits non-zero with a message naming the file (or variable), key and
/// problem when the config is invalid.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  sk-tracer check-config examples/tracer-config.yaml\n  \
                        SK_TRACER_RETENTION__MAX_AGE=6h sk-tracer check-config tracer.yaml\n  \
                        sk-tracer check-config --no-env tracer.yaml")]
pub struct Args {
    /// The config file (YAML) to validate.
    pub file: PathBuf,
    /// Check the file alone, ignoring `SK_TRACER_*` environment variables (for a file that is
    /// about to ship, whatever the local environment says).
    #[arg(long)]
    pub no_env: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut loader = sk_config::Loader::new().file(&args.file);
    if !args.no_env {
        loader = loader.env();
    }
    let config = loader.load()?;
    // The stages, exporters and filters are built as `run` builds them, so that what passes here
    // starts there.
    crate::runtime::Runtime::from_config(&config)?;
    print!("{}{}", lifecycle_keys(&config.tracer), config.to_yaml());
    Ok(())
}

/// How each kind's pod lifecycles are keyed, as YAML comments, so that the printed config still
/// checks to itself.
fn lifecycle_keys(tracer: &sk_core::TracerConfig) -> String {
    let mut out = String::from("# Pod lifecycles, by kind:\n");
    for (gvk, cfg) in &tracer.tracked_objects {
        let how = if !cfg.track_lifecycle {
            "not recorded (trackLifecycle is off)".to_string()
        } else if cfg.has_pod_template() {
            let paths: Vec<&str> = cfg.pod_spec_template_paths.iter().map(|p| p.as_str()).collect();
            let paths = if paths == [""] { "the pod itself".to_string() } else { paths.join(", ") };
            format!("keyed by pod hash; the pods a template at {paths} makes share its hash")
        } else {
            "no pod template: keyed by the hash of each pod's own sanitised spec (pods of one shape share one)"
                .to_string()
        };
        out.push_str(&format!("#   {gvk}: {how}\n"));
    }
    out
}
