//! `sk-tracer check-config` run as a user runs it.

use std::process::Command;

fn check(path: &str) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sk-tracer"))
        .args(["check-config", path])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("SK_TRACER_RETENTION__MAX_AGE")
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn prints_the_normalised_example() {
    let (ok, stdout, stderr) = check("examples/deployments-and-volcano.yaml");
    assert!(ok, "{stderr}");
    assert!(stdout.contains("apps/v1.Deployment:\n    podSpecTemplatePaths:\n    - /spec/template"), "{stdout}");
    assert!(stdout.contains("- /spec/tasks/*/template"), "{stdout}");
    assert!(stdout.contains("maxBytes: 2147483648"), "{stdout}");
}

#[test]
fn a_bad_file_fails_with_file_key_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, "trackedObjects:\n  example.com/v1.Thing:\n    trackLifecycle: true\n").unwrap();
    let (ok, stdout, stderr) = check(path.to_str().unwrap());
    assert!(!ok);
    assert!(stdout.is_empty());
    assert!(stderr.starts_with("error: config file "), "{stderr}");
    assert!(
        stderr
            .contains("bad.yaml: trackedObjects.\"example.com/v1.Thing\": example.com/v1.Thing is not a built-in kind"),
        "{stderr}"
    );
}
