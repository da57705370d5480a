//! `sk-tracer plugins` lists what the real binary has registered.

use std::process::Command;

#[test]
fn lists_every_built_in_stage_and_exporter() {
    let out = Command::new(env!("CARGO_BIN_EXE_sk-tracer")).args(["plugins", "--json"]).output().unwrap();
    assert!(out.status.success());
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<String> =
        rows.iter().map(|r| format!("{} {}", r["kind"].as_str().unwrap(), r["name"].as_str().unwrap())).collect();
    for expected in [
        "sanitiser metadata",
        "sanitiser status",
        "sanitiser node-name",
        "sanitiser pod-hash",
        "filter excluded-namespaces (filters.excluded_namespaces)",
        "filter excluded-labels (filters.excluded_labels)",
        "filter owned-by-tracked (always on)",
        "exporter file (file://)",
        "exporter object-store (s3://, gs://, az://, azure://, memory://)",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
    let text = Command::new(env!("CARGO_BIN_EXE_sk-tracer")).arg("plugins").output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("removes server-set metadata"));
}
