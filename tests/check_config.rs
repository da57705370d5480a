//! `sk-tracer check-config` run as a user runs it.

use std::path::Path;
use std::process::Command;

struct Outcome {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs `sk-tracer check-config ARGS` with exactly the given `SK_TRACER_*` variables: whatever the
/// surrounding environment sets under that prefix would change the output.
fn check(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sk-tracer"));
    cmd.arg("check-config").args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SK_TRACER_") {
            cmd.env_remove(name);
        }
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("the sk-tracer binary runs");
    Outcome {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("the temporary directory is writable");
    path.display().to_string()
}

#[test]
fn prints_the_normalised_example() {
    let out = check(&["examples/deployments-and-volcano.yaml"], &[]);
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    assert!(out
        .stdout
        .starts_with("trackedObjects:\n  apps/v1.Deployment:\n    podSpecTemplatePaths:\n    - /spec/template\n"));
    assert!(
        out.stdout.contains(
            "  batch.volcano.sh/v1alpha1.Job:\n    podSpecTemplatePaths:\n    - /spec/tasks/*/template\n    trackLifecycle: true\n"
        ),
        "{}",
        out.stdout
    );
    // Every section, with its defaults.
    for line in [
        "  - metadata\n",
        "  maxAge: 24h\n",
        "  maxBytes: 2GiB\n",
        "  port: 8080\n",
        "  bind: 127.0.0.1\n",
        "  maxConcurrentExports: 2\n",
        "  shutdownTimeout: 25s\n",
        "  readinessGrace: 10s\n",
    ] {
        assert!(out.stdout.contains(line), "{line:?} in\n{}", out.stdout);
    }
}

#[test]
fn the_printed_config_checks_to_itself() {
    let dir = tempfile::tempdir().unwrap();
    let first = check(&["examples/tracer-config.yaml"], &[]);
    assert!(first.ok, "{}", first.stderr);
    assert!(first.stdout.contains("  v1.Pod:\n    podSpecTemplatePaths:\n    - ''\n"), "{}", first.stdout);
    let printed = write(dir.path(), "printed.yaml", &first.stdout);
    let second = check(&[&printed], &[]);
    assert!(second.ok, "{}", second.stderr);
    assert_eq!(second.stdout, first.stdout);
}

#[test]
fn a_bad_file_fails_with_file_key_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "trackedObjects:\n  example.com/v1.Thing:\n    trackLifecycle: true\n",
            "trackedObjects.\"example.com/v1.Thing\": example.com/v1.Thing is not a built-in kind, so it needs \
             podSpecTemplatePath",
        ),
        (
            "trackedObjects:\n  apps/v1.Deployment:\n    trackLifecycle: \"yes\"\n",
            "trackedObjects.\"apps/v1.Deployment\".trackLifecycle: expected a boolean, found the string \"yes\"",
        ),
        ("trackedObjects:\n  apps/v1.Deployment: {\n", "YAML syntax error: "),
    ];
    for (text, expected) in cases {
        let path = write(dir.path(), "bad.yaml", text);
        let out = check(&[&path], &[]);
        assert!(!out.ok);
        assert!(out.stdout.is_empty(), "{}", out.stdout);
        let prefix = format!("error: config file {path}: ");
        assert!(out.stderr.starts_with(&prefix), "{prefix:?} in\n{}", out.stderr);
        assert!(out.stderr.contains(expected), "{expected:?} in\n{}", out.stderr);
    }
}

/// Stages, exporter options and filters are built as `run` builds them, so a config that passes
/// here does not fail there.
#[test]
fn bad_stages_and_exporter_options_fail_with_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let kinds = "trackedObjects:\n  apps/v1.Deployment: {}\n";
    let cases = [
        (
            "pipeline:\n  sanitisers: [metadata, no-such-stage]\n",
            "pipeline.sanitisers[1]: no pipeline stage is registered under the name `no-such-stage`",
        ),
        (
            "pipeline:\n  options:\n    redact: {keepEnvs: true}\n",
            "pipeline.options.redact: pipeline stage `redact`: bad options: `redact`: unknown field `keepEnvs`",
        ),
        (
            "export:\n  objectStore: {aws_no_such_option: x}\n",
            "export.objectStore: unknown object store options: aws_no_such_option",
        ),
    ];
    for (extra, expected) in cases {
        let path = write(dir.path(), "bad.yaml", &format!("{kinds}{extra}"));
        let out = check(&[&path], &[]);
        assert!(!out.ok, "{extra} was accepted");
        assert!(out.stdout.is_empty(), "{}", out.stdout);
        let prefix = format!("error: config file {path}: ");
        assert!(out.stderr.starts_with(&prefix), "{prefix:?} in\n{}", out.stderr);
        assert!(out.stderr.contains(expected), "{expected:?} in\n{}", out.stderr);
    }
}

#[test]
fn a_missing_file_is_named() {
    let out = check(&["no/such/tracer.yaml"], &[]);
    assert!(!out.ok);
    assert!(out.stderr.starts_with("error: config file no/such/tracer.yaml: cannot read it: "), "{}", out.stderr);
}

#[test]
fn the_environment_applies_as_it_does_for_run() {
    let file = "examples/deployments-and-volcano.yaml";
    let env = [("SK_TRACER_RETENTION__MAX_AGE", "6h"), ("SK_TRACER_SERVER__PORT", "9100")];
    let out = check(&[file], &env);
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.contains("  maxAge: 6h\n") && out.stdout.contains("  port: 9100\n"), "{}", out.stdout);

    let out = check(&["--no-env", file], &env);
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.contains("  maxAge: 24h\n") && out.stdout.contains("  port: 8080\n"), "{}", out.stdout);

    let out = check(&[file], &[("SK_TRACER_SERVER__PORT", "eighty")]);
    assert!(!out.ok);
    assert!(
        out.stderr
            .starts_with("error: environment variable SK_TRACER_SERVER__PORT: server.port: expected a whole number"),
        "{}",
        out.stderr
    );
}

#[test]
fn prints_the_security_settings_without_reading_their_files() {
    let out = check(
        &["examples/deployments-and-volcano.yaml"],
        &[
            ("SK_TRACER_SERVER__AUTH__TOKEN_FILE", "/var/run/secrets/sk-tracer/token/token"),
            ("SK_TRACER_SERVER__TLS__CERT_FILE", "/tls/tls.crt"),
            ("SK_TRACER_SERVER__TLS__KEY_FILE", "/tls/tls.key"),
            ("SK_TRACER_SERVER__MAX_CONCURRENT_EXPORTS", "3"),
            // The export client's own variables in the same shell are not config.
            ("SK_TRACER_TOKEN_FILE", "/home/me/token"),
            ("SK_TRACER_CA_FILE", "/home/me/ca.pem"),
        ],
    );
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains(
            "  auth:\n    tokenFile: /var/run/secrets/sk-tracer/token/token\n  tls:\n    certFile: /tls/tls.crt\n    keyFile: /tls/tls.key\n  maxConcurrentExports: 3\n"
        ),
        "{}",
        out.stdout
    );
    let out = check(&["examples/deployments-and-volcano.yaml"], &[("SK_TRACER_SERVER__MAX_CONCURRENT_EXPORTS", "0")]);
    assert!(!out.ok);
    assert!(out.stderr.contains("server.maxConcurrentExports: must be at least 1"), "{}", out.stderr);
}

#[test]
fn ha_is_checked_and_settable_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "ha.yaml",
        "trackedObjects:\n  apps/v1.Deployment: {}\nha:\n  lease: {name: sk-tracer, duration: 10s, renew: 12s}\n",
    );
    let out = check(&[&bad], &[]);
    assert!(!out.ok);
    assert!(out.stderr.contains(&format!("config file {bad}: ha.lease.renew: must be shorter")), "{}", out.stderr);

    // As the ha component turns it on: the Lease's name from the environment.
    let plain = write(dir.path(), "plain.yaml", "trackedObjects:\n  apps/v1.Deployment: {}\n");
    let out = check(&[&plain], &[("SK_TRACER_HA__LEASE__NAME", "sk-tracer")]);
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout.contains("ha:\n  lease:\n    name: sk-tracer\n    duration: 15s\n    renew: 10s\n    retry: 2s\n"),
        "{}",
        out.stdout
    );
}
