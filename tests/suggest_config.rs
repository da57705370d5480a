//! `sk-tracer suggest-config`: from CRD manifests, and from the CRDs a cluster (the emulator)
//! serves; what it prints passes `check-config`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kube_emulator::Emulator;
use support::runtime;

const CRDS: [&str; 4] = ["jobsets", "pytorchjobs", "rayclusters", "sparkapplications"];

fn crd_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("core/tests/data/crds/{name}.yaml"))
}

fn sk_tracer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sk-tracer")).args(args).env_remove("KUBECONFIG").output().unwrap()
}

fn suggest(args: &[&str]) -> String {
    let out = sk_tracer(&[&["suggest-config"], args].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn from_files(extra: &[&str]) -> String {
    let files: Vec<String> = CRDS.iter().map(|c| crd_file(c).display().to_string()).collect();
    let mut args = vec!["--crd-file"];
    args.extend(files.iter().map(String::as_str));
    args.extend(extra);
    suggest(&args)
}

/// Everything but the first line, which names the source.
fn body(text: &str) -> &str {
    text.split_once('\n').map_or("", |(_, rest)| rest)
}

#[test]
fn crd_files_give_every_kinds_template_paths() {
    let text = from_files(&[]);
    for expected in [
        "  apps/v1.Deployment:\n    trackLifecycle: true\n",
        "  batch/v1.CronJob:\n    trackLifecycle: true\n",
        "  kubeflow.org/v1.PyTorchJob:\n    podSpecTemplatePaths:\n    - /spec/pytorchReplicaSpecs/*/template\n    \
         trackLifecycle: true\n",
        "  ray.io/v1.RayCluster:\n    podSpecTemplatePaths:\n    - /spec/headGroupSpec/template\n    \
         - /spec/workerGroupSpecs/*/template\n",
        "  jobset.x-k8s.io/v1alpha2.JobSet:\n    podSpecTemplatePaths:\n    \
         - /spec/replicatedJobs/*/template/spec/template\n",
        "  # sparkoperator.k8s.io/v1beta2.SparkApplication: its CRD's schema declares no pod template.\n",
        "  # sparkoperator.k8s.io/v1beta2.SparkApplication:\n  #   trackLifecycle: true\n",
        "  #   - /spec/driver/template\n  #   - /spec/executor/template\n",
    ] {
        assert!(text.contains(expected), "{expected:?} in\n{text}");
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("suggested.yaml");
    std::fs::write(&path, &text).unwrap();
    let checked = sk_tracer(&["check-config", "--no-env", path.to_str().unwrap()]);
    assert!(checked.status.success(), "{}\n{text}", String::from_utf8_lossy(&checked.stderr));
    let normalised = String::from_utf8_lossy(&checked.stdout);
    assert!(normalised.contains("  ray.io/v1.RayCluster:\n    podSpecTemplatePaths:\n"), "{normalised}");
    assert!(!normalised.contains("  sparkoperator.k8s.io/v1beta2.SparkApplication:\n"), "commented out: {normalised}");
}

#[test]
fn kinds_narrows_the_custom_kinds_and_names_what_it_cannot_find() {
    let text = from_files(&["--kinds", "PyTorchJob,ray.io"]);
    assert!(text.contains("  kubeflow.org/v1.PyTorchJob:\n") && text.contains("  ray.io/v1.RayCluster:\n"), "{text}");
    assert!(!text.contains("JobSet") && !text.contains("SparkApplication"), "{text}");
    assert!(text.contains("  apps/v1.Deployment:\n"), "the built-in kinds stay: {text}");

    let out = sk_tracer(&["suggest-config", "--crd-file", crd_file("jobsets").to_str().unwrap(), "--kinds", "TFJob"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--kinds: no CustomResourceDefinition defines TFJob"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_file_that_is_not_a_crd_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cm.yaml");
    std::fs::write(&path, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n").unwrap();
    let out = sk_tracer(&["suggest-config", "--crd-file", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cm.yaml") && stderr.contains("settings is v1 ConfigMap"), "{stderr}");
}

#[test]
fn the_clusters_crds_give_what_their_manifests_give() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    for name in CRDS {
        let crd: serde_json::Value = serde_yaml::from_str(&std::fs::read_to_string(crd_file(name)).unwrap()).unwrap();
        emu.create(crd).unwrap();
    }
    // Installed, a CRD serves its kind, as the apiserver does.
    assert_eq!(emu.count("apiextensions.k8s.io/v1", "CustomResourceDefinition"), 4);
    let job = serde_json::json!({"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
        "metadata": {"namespace": "ml", "name": "mnist"}, "spec": {"pytorchReplicaSpecs": {}}});
    emu.create(job).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    emu.write_kubeconfig(&kubeconfig).unwrap();
    let from_cluster = suggest(&["--kubeconfig", kubeconfig.to_str().unwrap()]);
    assert!(from_cluster.starts_with("# Suggested by `sk-tracer suggest-config` from the cluster's"), "{from_cluster}");
    assert_eq!(body(&from_cluster), body(&from_files(&[])));
    // Read-only: lists of CustomResourceDefinitions and nothing else.
    let routes = emu.requests_by_route();
    assert!(
        routes.keys().all(|r| !r.starts_with("POST") && !r.starts_with("PUT") && !r.starts_with("PATCH")),
        "{routes:?}"
    );
}
