//! The deployment manifests render with kustomize and pass kubectl's client-side dry run (which
//! needs an API server for discovery and the OpenAPI document: the emulator). Skipped with a note
//! where kubectl is not installed.

use std::process::Command;

use kube_emulator::Emulator;

fn kubectl_installed() -> bool {
    let installed = Command::new("kubectl").args(["version", "--client"]).output().is_ok_and(|o| o.status.success());
    if !installed {
        eprintln!("skipped: kubectl is not installed");
    }
    installed
}

/// `kubectl apply --dry-run=client -k <dir>` against a fresh emulator; its output, once it passed.
fn dry_run(dir: &std::path::Path) -> String {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let home = tempfile::tempdir().unwrap();
    emu.write_kubeconfig(home.path().join("kubeconfig")).unwrap();
    let out = Command::new("kubectl")
        .args(["apply", "--dry-run=client", "--request-timeout=10s", "-k"])
        .arg(dir)
        .env("KUBECONFIG", home.path().join("kubeconfig"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}{}", stdout, String::from_utf8_lossy(&out.stderr));
    stdout
}

/// An overlay of `deploy/` with `components`, as an operator would write one. Kustomize takes
/// neither absolute paths nor an overlay inside its base, hence a relative path from the build's
/// scratch directory. The overlay's directory and its rendering.
fn overlay(components: &[&str]) -> (tempfile::TempDir, String) {
    let deploy = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy");
    let scratch = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let base = relative(scratch.path(), std::path::Path::new(deploy));
    let components: String = components.iter().map(|c| format!("  - {base}/components/{c}\n")).collect();
    std::fs::write(
        scratch.path().join("kustomization.yaml"),
        format!("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {base}\ncomponents:\n{components}"),
    )
    .unwrap();
    let rendered = Command::new("kubectl").arg("kustomize").arg(scratch.path()).output().unwrap();
    assert!(rendered.status.success(), "{}", String::from_utf8_lossy(&rendered.stderr));
    let yaml = String::from_utf8_lossy(&rendered.stdout).into_owned();
    (scratch, yaml)
}

#[test]
fn the_manifests_render_and_pass_a_dry_run() {
    if !kubectl_installed() {
        return;
    }
    let deploy = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy");
    let rendered = Command::new("kubectl").args(["kustomize", deploy]).output().unwrap();
    assert!(rendered.status.success(), "{}", String::from_utf8_lossy(&rendered.stderr));
    let yaml = String::from_utf8_lossy(&rendered.stdout).into_owned();
    for kind in
        ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "Service", "Deployment"]
    {
        assert!(yaml.contains(&format!("kind: {kind}\n")), "{kind} missing");
    }
    for verb in ["create", "update", "patch", "delete"] {
        assert!(!yaml.contains(&format!("- {verb}")), "the ClusterRole must stay read-only");
    }
    // What `suggest-config` reads, run with the tracer's service account.
    let docs: Vec<serde_json::Value> = yaml.split("\n---\n").map(|d| serde_yaml::from_str(d).unwrap()).collect();
    let cluster_role = docs.iter().find(|d| d["kind"] == "ClusterRole").unwrap();
    let crd_rule =
        cluster_role["rules"].as_array().unwrap().iter().find(|r| r["apiGroups"][0] == "apiextensions.k8s.io");
    assert_eq!(
        crd_rule.map(|r| (r["resources"].clone(), r["verbs"].clone())),
        Some((serde_json::json!(["customresourcedefinitions"]), serde_json::json!(["get", "list"]))),
        "{yaml}"
    );
    let stdout = dry_run(std::path::Path::new(deploy));
    assert!(stdout.contains("deployment.apps/sk-tracer created (dry run)"), "{stdout}");
    assert!(stdout.contains("clusterrole.rbac.authorization.k8s.io/sk-tracer created (dry run)"), "{stdout}");

    let (scratch, yaml) = overlay(&["auth", "tls"]);
    for line in [
        "name: SK_TRACER_SERVER__AUTH__TOKEN_FILE",
        "value: /var/run/secrets/sk-tracer/token/token",
        "secretName: sk-tracer-token",
        "name: SK_TRACER_SERVER__TLS__CERT_FILE",
        "secretName: sk-tracer-tls",
        "scheme: HTTPS",
    ] {
        assert!(yaml.contains(line), "{line} missing from\n{yaml}");
    }
    for verb in ["create", "update", "patch", "delete"] {
        assert!(!yaml.contains(&format!("- {verb}")), "the ClusterRole must stay read-only");
    }
    let stdout = dry_run(scratch.path());
    assert!(stdout.contains("deployment.apps/sk-tracer created (dry run)"), "{stdout}");
}

#[test]
fn the_ha_component_adds_a_replica_its_lease_rights_and_a_budget() {
    if !kubectl_installed() {
        return;
    }
    let (scratch, yaml) = overlay(&["ha"]);
    let docs: Vec<serde_json::Value> = yaml.split("\n---\n").map(|d| serde_yaml::from_str(d).unwrap()).collect();
    let find = |kind: &str| docs.iter().find(|d| d["kind"] == kind).unwrap_or_else(|| panic!("no {kind} in\n{yaml}"));
    let deployment = find("Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let env = &deployment["spec"]["template"]["spec"]["containers"][0]["env"];
    let var = |name: &str| env.as_array().unwrap().iter().find(|v| v["name"] == name).cloned();
    assert_eq!(var("SK_TRACER_HA__LEASE__NAME").unwrap()["value"], "sk-tracer");
    assert_eq!(var("POD_NAME").unwrap()["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name");
    assert_eq!(var("POD_NAMESPACE").unwrap()["valueFrom"]["fieldRef"]["fieldPath"], "metadata.namespace");
    assert_eq!(find("PodDisruptionBudget")["spec"]["minAvailable"], 1);

    // The only write rights are on Leases, in the tracer's namespace: get and update on that one
    // Lease by name, and create (which no name can limit).
    let role = find("Role");
    assert_eq!(role["metadata"]["namespace"], "sk-tracer");
    for rule in role["rules"].as_array().unwrap() {
        assert_eq!(rule["resources"], serde_json::json!(["leases"]), "{rule}");
        let verbs = rule["verbs"].as_array().unwrap();
        if verbs.iter().any(|v| v != "create") {
            assert_eq!(rule["resourceNames"], serde_json::json!(["sk-tracer"]), "{rule}");
        }
    }
    let cluster_role = find("ClusterRole");
    for rule in cluster_role["rules"].as_array().unwrap() {
        for verb in rule["verbs"].as_array().unwrap() {
            assert!(
                ["get", "list", "watch"].contains(&verb.as_str().unwrap()),
                "the ClusterRole stays read-only: {rule}"
            );
        }
    }

    let stdout = dry_run(scratch.path());
    for created in [
        "poddisruptionbudget.policy/sk-tracer",
        "role.rbac.authorization.k8s.io/sk-tracer-lease",
        "rolebinding.rbac.authorization.k8s.io/sk-tracer-lease",
    ] {
        assert!(stdout.contains(&format!("{created} created (dry run)")), "{created}: {stdout}");
    }
}

#[test]
fn the_shards_component_runs_a_statefulset_whose_ordinals_are_the_shards() {
    if !kubectl_installed() {
        return;
    }
    let (scratch, yaml) = overlay(&["shards", "auth", "tls"]);
    let docs: Vec<serde_json::Value> = yaml.split("\n---\n").map(|d| serde_yaml::from_str(d).unwrap()).collect();
    let find = |kind: &str| docs.iter().find(|d| d["kind"] == kind).unwrap_or_else(|| panic!("no {kind} in\n{yaml}"));
    assert!(docs.iter().all(|d| d["kind"] != "Deployment"), "the StatefulSet replaces the Deployment");
    let services: Vec<&serde_json::Value> = docs.iter().filter(|d| d["kind"] == "Service").collect();
    assert_eq!(services.len(), 1, "only the headless Service: a balanced one would answer from any shard");
    assert_eq!(services[0]["spec"]["clusterIP"], "None");
    let set = find("StatefulSet");
    assert_eq!(set["spec"]["serviceName"], services[0]["metadata"]["name"]);
    let env = &set["spec"]["template"]["spec"]["containers"][0]["env"];
    let var = |name: &str| env.as_array().unwrap().iter().find(|v| v["name"] == name).cloned();
    assert_eq!(var("SK_TRACER_SHARD__INDEX").unwrap()["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name");
    assert_eq!(
        var("SK_TRACER_SHARD__COUNT").unwrap()["value"].as_str().unwrap().parse::<u64>().unwrap(),
        set["spec"]["replicas"].as_u64().unwrap(),
        "one shard per replica"
    );
    for applied in ["SK_TRACER_SERVER__AUTH__TOKEN_FILE", "SK_TRACER_SERVER__TLS__CERT_FILE"] {
        assert!(var(applied).is_some(), "{applied}: the auth and tls components apply to the StatefulSet too");
    }
    let stdout = dry_run(scratch.path());
    assert!(stdout.contains("statefulset.apps/sk-tracer created (dry run)"), "{stdout}");
}

/// `to` relative to `from`, both absolute.
fn relative(from: &std::path::Path, to: &std::path::Path) -> String {
    let (from, to) = (from.canonicalize().unwrap(), to.canonicalize().unwrap());
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let ups = std::iter::repeat_n("..".to_string(), from.len() - common);
    let downs = to[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned());
    ups.chain(downs).collect::<Vec<_>>().join("/")
}
