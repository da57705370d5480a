use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use serde::Deserialize;
use serde_json::Value;
use sk_core::crd_templates::{custom_kind, CustomKind};

/// Prints a commented config for this cluster's workloads: the built-in workload kinds, and every
/// custom resource kind whose CRD's schema declares pod templates, with all their paths. Kinds
/// whose schema declares none are listed commented out, with why; fields named like templates
/// that a schema leaves opaque are listed for a person to check. The output passes
/// `sk-tracer check-config`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  sk-tracer suggest-config > tracer.yaml\n  \
                        sk-tracer suggest-config --kinds PyTorchJob,RayCluster\n  \
                        sk-tracer suggest-config --crd-file crds/*.yaml")]
pub struct Args {
    /// Read CRD manifests (YAML, several documents or a `List` per file) instead of the cluster.
    #[arg(long = "crd-file", value_name = "FILE", num_args = 1..)]
    pub crd_files: Vec<PathBuf>,
    /// Only these custom kinds: a kind (`PyTorchJob`), a group (`ray.io`) or a GVK
    /// (`kubeflow.org/v1.PyTorchJob`), comma-separated. The built-in kinds are always listed.
    #[arg(long, value_delimiter = ',')]
    pub kinds: Vec<String>,
    /// The kubeconfig file to use.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
}

/// CRDs are listed a page at a time: each is walked and dropped before the next page is asked
/// for, so memory follows the largest page, not the cluster's whole set.
const PAGE: u32 = 20;

const BUILT_IN: [&str; 5] =
    ["apps/v1.Deployment", "apps/v1.StatefulSet", "apps/v1.DaemonSet", "batch/v1.Job", "batch/v1.CronJob"];

pub fn run(args: Args) -> anyhow::Result<()> {
    let (source, mut kinds) = if args.crd_files.is_empty() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let kinds = runtime.block_on(from_cluster(&args))?;
        ("the cluster's CustomResourceDefinitions".to_string(), kinds)
    } else {
        let names: Vec<String> = args.crd_files.iter().map(|p| p.display().to_string()).collect();
        (names.join(", "), from_files(&args.crd_files)?)
    };
    kinds.sort_by(|a, b| a.gvk.cmp(&b.gvk));
    if !args.kinds.is_empty() {
        let unmatched: Vec<&String> =
            args.kinds.iter().filter(|want| !kinds.iter().any(|k| selects(want, k))).collect();
        if !unmatched.is_empty() {
            let names: Vec<&str> = unmatched.iter().map(|s| s.as_str()).collect();
            anyhow::bail!("--kinds: no CustomResourceDefinition defines {}", names.join(", "));
        }
        kinds.retain(|k| args.kinds.iter().any(|want| selects(want, k)));
    }
    print!("{}", render(&source, &kinds));
    Ok(())
}

fn selects(want: &str, kind: &CustomKind) -> bool {
    want == kind.gvk.kind || want == kind.gvk.group || *want == kind.gvk.to_string()
}

async fn from_cluster(args: &Args) -> anyhow::Result<Vec<CustomKind>> {
    let client = crate::kube_client::connect(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
    let resource = ApiResource {
        group: "apiextensions.k8s.io".into(),
        version: "v1".into(),
        api_version: "apiextensions.k8s.io/v1".into(),
        kind: "CustomResourceDefinition".into(),
        plural: "customresourcedefinitions".into(),
    };
    let api: Api<DynamicObject> = Api::all_with(client, &resource);
    let mut kinds = Vec::new();
    let mut params = ListParams::default().limit(PAGE);
    loop {
        let page = api.list(&params).await.context("listing CustomResourceDefinitions (needs get and list on them)")?;
        for crd in page.items {
            let crd = serde_json::to_value(crd).context("reading a CustomResourceDefinition")?;
            kinds.push(custom_kind(&crd)?);
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    Ok(kinds)
}

fn from_files(files: &[PathBuf]) -> anyhow::Result<Vec<CustomKind>> {
    let mut kinds = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        for document in serde_yaml::Deserializer::from_str(&text) {
            let doc = Value::deserialize(document).with_context(|| format!("{}: not YAML", path.display()))?;
            if doc.is_null() {
                continue;
            }
            // `kubectl get crd -o yaml` writes a List.
            let items = match doc.get("kind").and_then(Value::as_str) {
                Some("List" | "CustomResourceDefinitionList") => doc["items"].as_array().cloned().unwrap_or_default(),
                _ => vec![doc],
            };
            for crd in items {
                kinds.push(custom_kind(&crd).with_context(|| path.display().to_string())?);
            }
        }
    }
    Ok(kinds)
}

/// The config as text: YAML with comments, which `check-config` accepts as it is.
fn render(source: &str, kinds: &[CustomKind]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Suggested by `sk-tracer suggest-config` from {source}.");
    out.push_str(
        "# Check it with `sk-tracer check-config`; trackLifecycle records the lifecycles of the pods each\n\
         # kind owns, keyed by pod hash.\n\
         trackedObjects:\n  # Built-in workload kinds: their pod templates are known.\n",
    );
    for gvk in BUILT_IN {
        let _ = writeln!(out, "  {gvk}:\n    trackLifecycle: true");
    }
    for kind in kinds.iter().filter(|k| !k.template_paths.is_empty()) {
        let _ = writeln!(out, "  # {}: pod templates declared by its CRD's schema.", kind.gvk);
        let _ = writeln!(out, "  {}:\n    podSpecTemplatePaths:", kind.gvk);
        for path in &kind.template_paths {
            let _ = writeln!(out, "    - {}", yaml_scalar(path));
        }
        out.push_str("    trackLifecycle: true\n");
        opaque_note(&mut out, kind);
    }
    for kind in kinds.iter().filter(|k| k.template_paths.is_empty()) {
        let _ = writeln!(
            out,
            "  # {}: its CRD's schema declares no pod template.\n  \
             # Uncomment to record it whole, with the pods it owns keyed by each pod's own spec:\n  \
             # {}:\n  #   trackLifecycle: true",
            kind.gvk, kind.gvk
        );
        opaque_note(&mut out, kind);
    }
    out
}

/// Paths as plain YAML scalars where they are plainly safe, else double-quoted (a JSON string is
/// a YAML one).
fn yaml_scalar(path: &str) -> String {
    let plain = path.bytes().all(|b| b.is_ascii_alphanumeric() || b"/*~._-".contains(&b));
    if plain {
        path.to_string()
    } else {
        serde_json::Value::String(path.into()).to_string()
    }
}

fn opaque_note(out: &mut String, kind: &CustomKind) {
    if kind.opaque_paths.is_empty() {
        return;
    }
    out.push_str("  #   Named like templates, left opaque by the schema (check by hand whether they hold pod\n");
    out.push_str("  #   templates, and add them to podSpecTemplatePaths if so):\n");
    for path in &kind.opaque_paths {
        let _ = writeln!(out, "  #   - {path}");
    }
}
