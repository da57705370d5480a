use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use proptest::prelude::*;

use super::*;

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn load(text: &str) -> Result<Config, ConfigError> {
    let f = file(text);
    Loader::new().file(f.path()).load()
}

/// Loads `text` expecting an error, and checks that the message names the file.
fn err(text: &str) -> String {
    let f = file(text);
    let e = Loader::new().file(f.path()).load().unwrap_err().to_string();
    assert!(e.starts_with(&format!("config file {}: ", f.path().display())), "the message names the file: {e}");
    e
}

fn assert_err(text: &str, expected: &[&str]) {
    let e = err(text);
    for part in expected {
        assert!(e.contains(part), "for\n{text}\nexpected {part:?} in\n{e}");
    }
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

const DEPLOYMENT: &str = "trackedObjects:\n  apps/v1.Deployment: {}\n";

#[test]
fn the_documented_example_loads() {
    let c = load(
        "trackedObjects:\n  apps/v1.Deployment:\n    podSpecTemplatePath: /spec/template\n  batch.volcano.sh/v1alpha1.Job:\n    podSpecTemplatePath: /spec/tasks/*/template\n    trackLifecycle: true\n",
    )
    .unwrap();
    let volcano = &c.tracer.tracked_objects[&"batch.volcano.sh/v1alpha1.Job".parse().unwrap()];
    assert_eq!(volcano.pod_spec_template_paths[0].as_str(), "/spec/tasks/*/template");
    assert!(volcano.track_lifecycle);
    assert!(!c.tracer.tracked_objects[&"apps/v1.Deployment".parse().unwrap()].track_lifecycle);
}

#[test]
fn every_section_has_its_defaults() {
    let c = load(DEPLOYMENT).unwrap();
    assert_eq!(c.pipeline.sanitisers, ["metadata", "status", "node-name", "redact"]);
    assert_eq!(c.pipeline.pod_hash_sanitisers, ["pod-hash"]);
    assert_eq!(c.retention.max_age, Duration::from_secs(24 * 3600));
    assert_eq!(c.retention.max_bytes, 2 << 30);
    assert_eq!(c.server.port, 8080);
    assert_eq!(c.server.bind.to_string(), "127.0.0.1");
    assert_eq!((c.server.auth.as_ref(), c.server.tls.as_ref()), (None, None), "open and plain unless configured");
    assert_eq!(c.server.max_concurrent_exports, 2);
    let deployment = &c.tracer.tracked_objects[&"apps/v1.Deployment".parse().unwrap()];
    assert!(!deployment.track_lifecycle && !deployment.skip_owned);
}

#[test]
fn built_in_kinds_default_their_paths_and_lists_are_accepted() {
    let c = load("trackedObjects:\n  apps/v1.Deployment: {}\n  batch/v1.CronJob:\n  v1.Pod:\n    skipOwned: true\n  example.com/v1.Multi:\n    podSpecTemplatePaths: [/spec/a, /spec/b]\n").unwrap();
    let paths = |k: &str| {
        c.tracer.tracked_objects[&k.parse().unwrap()]
            .pod_spec_template_paths
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(paths("apps/v1.Deployment"), ["/spec/template"]);
    assert_eq!(paths("batch/v1.CronJob"), ["/spec/jobTemplate/spec/template"]);
    assert_eq!(paths("v1.Pod"), [""]);
    assert_eq!(paths("example.com/v1.Multi"), ["/spec/a", "/spec/b"]);
    assert!(c.tracer.tracked_objects[&"v1.Pod".parse().unwrap()].skip_owned);
}

#[test]
fn sizes_and_durations_take_the_usual_forms() {
    for (written, bytes) in [("2GiB", 2u64 << 30), ("512MiB", 512 << 20), ("1G", 1_000_000_000), ("1048576", 1 << 20)] {
        let c = load(&format!("{DEPLOYMENT}retention:\n  maxBytes: {written}\n  maxAge: 1h 30m\n")).unwrap();
        assert_eq!(c.retention.max_bytes, bytes, "{written}");
        assert_eq!(c.retention.max_age, Duration::from_secs(5400));
    }
    let c = load(&format!("{DEPLOYMENT}server:\n  port: 9000\n  bind: \"::\"\n")).unwrap();
    assert_eq!((c.server.port, c.server.bind.to_string().as_str()), (9000, "::"));
}

#[test]
fn unknown_fields_list_the_allowed_ones() {
    assert_err(
        "trackedObjects:\n  apps/v1.Deployment:\n    colour: red\n",
        &["trackedObjects.\"apps/v1.Deployment\".colour: unknown field `colour` (allowed: `podSpecTemplatePath`, `podSpecTemplatePaths`, `trackLifecycle`, `skipOwned`)"],
    );
    assert_err(&format!("{DEPLOYMENT}colour: red\n"), &["colour: unknown field `colour` (allowed: `trackedObjects`"]);
    assert_err(
        &format!("{DEPLOYMENT}retention:\n  maxage: 1h\n"),
        &["retention.maxage: unknown field `maxage` (allowed: `maxAge`, `maxBytes`)"],
    );
    assert_err(
        &format!("{DEPLOYMENT}server:\n  host: x\n"),
        &["server.host: unknown field `host` (allowed: `port`, `bind`, `auth`, `tls`, `maxConcurrentExports`, `shutdownTimeout`, `readinessGrace`)"],
    );
    assert_err(
        &format!("{DEPLOYMENT}pipeline:\n  sanitizers: []\n"),
        &["pipeline.sanitizers: unknown field `sanitizers` (allowed: `sanitisers`"],
    );
}

#[test]
fn server_security_settings_load_print_and_are_checked() {
    let c = load(&format!(
        "{DEPLOYMENT}server:\n  auth:\n    tokenFile: /var/run/secrets/sk-tracer/token\n  tls:\n    certFile: /tls/tls.crt\n    keyFile: /tls/tls.key\n  maxConcurrentExports: 4\n"
    ))
    .unwrap();
    assert_eq!(c.server.auth.as_ref().unwrap().token_file, Path::new("/var/run/secrets/sk-tracer/token"));
    let tls = c.server.tls.as_ref().unwrap();
    assert_eq!((tls.cert_file.to_str(), tls.key_file.to_str()), (Some("/tls/tls.crt"), Some("/tls/tls.key")));
    assert_eq!(c.server.max_concurrent_exports, 4);
    let yaml = c.to_yaml();
    for line in [
        "  auth:\n    tokenFile: /var/run/secrets/sk-tracer/token\n",
        "  tls:\n    certFile: /tls/tls.crt\n    keyFile: /tls/tls.key\n",
        "  maxConcurrentExports: 4\n",
    ] {
        assert!(yaml.contains(line), "{line:?} in\n{yaml}");
    }
    assert_eq!(load(&yaml).unwrap(), c);

    assert_err(
        &format!("{DEPLOYMENT}server:\n  maxConcurrentExports: 0\n"),
        &["server.maxConcurrentExports: must be at least 1"],
    );
    assert_eq!(c.server.shutdown_timeout, std::time::Duration::from_secs(25), "below the 30 s grace period");
    assert!(yaml.contains("  shutdownTimeout: 25s\n"), "{yaml}");
    let longer = load(&format!("{DEPLOYMENT}server:\n  shutdownTimeout: 2m\n")).unwrap();
    assert_eq!(longer.server.shutdown_timeout, std::time::Duration::from_secs(120));
    assert_err(
        &format!("{DEPLOYMENT}server:\n  shutdownTimeout: 0s\n"),
        &["server.shutdownTimeout: must be at least 1s"],
    );
    assert_eq!(c.server.readiness_grace, std::time::Duration::from_secs(10));
    assert!(yaml.contains("  readinessGrace: 10s\n"), "{yaml}");
    let patient = load(&format!("{DEPLOYMENT}server:\n  readinessGrace: 1m\n")).unwrap();
    assert_eq!(patient.server.readiness_grace, std::time::Duration::from_secs(60));
    assert_err(
        &format!("{DEPLOYMENT}server:\n  readinessGrace: 500ms\n"),
        &["server.readinessGrace: must be at least 1s"],
    );
    assert_err(
        &format!("{DEPLOYMENT}server:\n  auth:\n    tokenFile: ''\n"),
        &["server.auth.tokenFile: must name a file"],
    );
    assert_err(&format!("{DEPLOYMENT}server:\n  auth: {{}}\n"), &["server.auth: missing field `tokenFile`"]);
    assert_err(
        &format!("{DEPLOYMENT}server:\n  auth:\n    token: abc\n"),
        &["unknown field `token` (allowed: `tokenFile`)"],
    );
    assert_err(&format!("{DEPLOYMENT}server:\n  tls:\n    certFile: /c\n"), &["server.tls: missing field `keyFile`"]);
    assert_err(
        &format!("{DEPLOYMENT}server:\n  tls:\n    certFile: /c\n    keyFile: ''\n"),
        &["server.tls.keyFile: must name a file"],
    );
}

#[test]
#[allow(clippy::result_large_err)]
fn server_security_settings_come_from_the_environment_and_client_variables_are_left_alone() {
    let f = file(DEPLOYMENT);
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("SK_TRACER_SERVER__AUTH__TOKEN_FILE", "/secret/token");
        jail.set_env("SK_TRACER_SERVER__MAX_CONCURRENT_EXPORTS", "3");
        // The export client's own variables, set in the same shell, are not config keys.
        jail.set_env("SK_TRACER_TOKEN_FILE", "/home/me/token");
        jail.set_env("SK_TRACER_CA_FILE", "/home/me/ca.pem");
        jail.set_env("SK_TRACER_URL", "https://tracer:8080");
        let c = Loader::new().file(f.path()).env().load().unwrap();
        assert_eq!(c.server.auth.unwrap().token_file, Path::new("/secret/token"));
        assert_eq!(c.server.max_concurrent_exports, 3);
        Ok(())
    });
}

#[test]
fn malformed_gvk_keys_say_the_expected_form() {
    for (key, shown) in [
        ("Deployment", "trackedObjects.Deployment"),
        ("apps/v1/Deployment", "trackedObjects.\"apps/v1/Deployment\""),
        ("apps.v1.Deployment", "trackedObjects.\"apps.v1.Deployment\""),
        ("5", "trackedObjects.\"5\""),
    ] {
        assert_err(
            &format!("trackedObjects:\n  {key}: {{}}\n"),
            &[&format!("{shown}: `{key}` is not a GVK"), "expected `<group>/<version>.<Kind>`"],
        );
    }
    assert_err(
        "trackedObjects:\n  apps/v1.deployment: {}\n",
        &["the kind `deployment` is not valid", "UpperCamelCase"],
    );
}

#[test]
fn path_errors_name_the_field_and_the_problem() {
    let key = "trackedObjects.\"example.com/v1.Thing\"";
    let thing = "trackedObjects:\n  example.com/v1.Thing:\n";
    assert_err(
        &format!("{thing}    trackLifecycle: true\n"),
        &[&format!("{key}: example.com/v1.Thing is not a built-in kind, so it needs podSpecTemplatePath")],
    );
    assert_err(
        &format!("{thing}    podSpecTemplatePath: \"\"\n"),
        &[&format!("{key}.podSpecTemplatePath: empty path")],
    );
    assert_err(
        &format!("{thing}    podSpecTemplatePath: spec/template\n"),
        &[&format!("{key}.podSpecTemplatePath: pod-template path `spec/template` must start with `/`")],
    );
    assert_err(
        &format!("{thing}    podSpecTemplatePath: /spec/~2\n"),
        &[
            &format!("{key}.podSpecTemplatePath: pod-template path `/spec/~2` has a bad escape"),
            "`~` must be followed by `0` or `1`",
        ],
    );
    assert_err(
        &format!("{thing}    podSpecTemplatePaths: [/a, b]\n"),
        &[&format!("{key}.podSpecTemplatePaths[1]: pod-template path `b` must start with `/`")],
    );
    assert_err(
        &format!("{thing}    podSpecTemplatePaths: [/a, /a]\n"),
        &[&format!("{key}.podSpecTemplatePaths[1]: `/a` is listed twice")],
    );
    assert_err(
        &format!("{thing}    podSpecTemplatePaths: []\n"),
        &[&format!("{key}.podSpecTemplatePaths: the list of paths is empty")],
    );
    assert_err(
        &format!("{thing}    podSpecTemplatePath: /a\n    podSpecTemplatePaths: [/b]\n"),
        &[&format!("{key}: give either podSpecTemplatePath or podSpecTemplatePaths, not both")],
    );
    // The whole object is a Pod's template, and is what the normalised config prints for it.
    assert!(load("trackedObjects:\n  v1.Pod:\n    podSpecTemplatePath: \"\"\n").is_ok());
}

#[test]
fn wrong_types_say_what_was_expected_and_found() {
    let deployment = "trackedObjects:\n  apps/v1.Deployment:\n";
    let cases: &[(&str, &str)] = &[
        (
            "    trackLifecycle: \"yes\"\n",
            "trackedObjects.\"apps/v1.Deployment\".trackLifecycle: expected a boolean, found the string \"yes\"",
        ),
        (
            "    skipOwned: 1\n",
            "trackedObjects.\"apps/v1.Deployment\".skipOwned: expected a boolean, found the number `1`",
        ),
        ("    podSpecTemplatePath: 5\n", "podSpecTemplatePath: expected a string, found the number `5`"),
        ("    podSpecTemplatePaths: /a\n", "podSpecTemplatePaths: expected a list, found the string \"/a\""),
    ];
    for (body, expected) in cases {
        assert_err(&format!("{deployment}{body}"), &[expected]);
    }
    assert_err(
        "trackedObjects:\n  apps/v1.Deployment: 3\n",
        &["trackedObjects.\"apps/v1.Deployment\": expected a map of settings", "found the number `3`"],
    );
    assert_err("trackedObjects: [apps/v1.Deployment]\n", &["trackedObjects: expected a map of settings, found a list"]);
    assert_err("- apps/v1.Deployment\n", &["the top level must be a map with `trackedObjects:`"]);
    assert_err(
        &format!("{DEPLOYMENT}server:\n  port: 70000\n"),
        &["server.port: the number `70000` is not valid here: expected a whole number from 0 to 65535"],
    );
    assert_err(
        &format!("{DEPLOYMENT}server:\n  port: \"8080\"\n"),
        &["server.port: expected a whole number from 0 to 65535, found the string \"8080\""],
    );
    assert_err(
        &format!("{DEPLOYMENT}server:\n  bind: localhost\n"),
        &["server.bind: `localhost` is not an IP address"],
    );
    assert_err(
        &format!("{DEPLOYMENT}retention:\n  maxAge: soon\n"),
        &["retention.maxAge: `soon` is not a duration", "e.g. `24h`"],
    );
    assert_err(&format!("{DEPLOYMENT}retention:\n  maxAge: 3600\n"), &["retention.maxAge: `3600` has no unit"]);
    assert_err(
        &format!("{DEPLOYMENT}retention:\n  maxBytes: 2 parsecs\n"),
        &["retention.maxBytes: `2 parsecs`: unknown unit `parsecs`"],
    );
    assert_err(&format!("{DEPLOYMENT}retention:\n  maxBytes: -5\n"), &["retention.maxBytes: `-5` is negative"]);
    assert_err(
        &format!("{DEPLOYMENT}retention:\n  maxBytes: 1.5\n"),
        &["retention.maxBytes: `1.5` is not a whole number of bytes"],
    );
    assert_err(&format!("{DEPLOYMENT}retention:\n  maxBytes: 0\n"), &["retention.maxBytes: must be more than zero"]);
    assert_err(
        &format!("{DEPLOYMENT}retention: 5\n"),
        &["retention: expected a map of settings, found the number `5`"],
    );
    assert_err(
        &format!("{DEPLOYMENT}pipeline:\n  sanitisers: metadata\n"),
        &["pipeline.sanitisers: expected a list, found the string \"metadata\""],
    );
    assert_err(
        &format!("{DEPLOYMENT}pipeline:\n  sanitisers: [metadata, 1]\n"),
        &["pipeline.sanitisers[1]: expected a string, found the number `1`"],
    );
}

#[test]
fn pipeline_stage_names_must_be_present_and_distinct() {
    assert_err(
        &format!("{DEPLOYMENT}pipeline:\n  sanitisers: [metadata, metadata]\n"),
        &["pipeline.sanitisers: `metadata` is listed twice"],
    );
    assert_err(
        &format!("{DEPLOYMENT}pipeline:\n  sanitisers: [metadata, '']\n"),
        &["pipeline.sanitisers: entry 1 is an empty stage name"],
    );
    // Names are checked against the registered plugins when the pipeline is built, not here.
    assert_eq!(
        load(&format!("{DEPLOYMENT}pipeline:\n  sanitisers: [custom]\n")).unwrap().pipeline.sanitisers,
        ["custom"]
    );
    assert!(load(&format!("{DEPLOYMENT}pipeline:\n  sanitisers: []\n")).unwrap().pipeline.sanitisers.is_empty());
}

#[test]
fn scheduled_exports_are_checked() {
    let cases = [
        ("- {every: 0s, window: 1h, to: a}\n", "exports[0].every: must be longer than zero"),
        ("- {every: 1h, window: 1h, to: ''}\n", "exports[0].to: a destination is required"),
        (
            "- {every: 1h, window: 1h, to: a}\n- {every: 1h, window: 1h, to: a, format: v9}\n",
            "exports[1].format: unknown value `v9` (allowed: `v1`, `simkube-v2`)",
        ),
        ("- {every: 1h, window: 1h}\n", "exports[0]: missing field `to`"),
    ];
    for (body, expected) in cases {
        assert_err(&format!("{DEPLOYMENT}exports:\n{body}"), &[expected]);
    }
}

#[test]
fn a_scheduled_transform_is_read_and_parsed_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.skel");
    std::fs::write(&good, "remove(status);\n").unwrap();
    let c =
        load(&format!("{DEPLOYMENT}exports:\n- {{every: 1h, window: 1h, to: a, transform: '{}'}}\n", good.display()))
            .unwrap();
    assert_eq!(c.exports[0].program.as_deref(), Some("remove(status);\n"));
    assert!(c.to_yaml().contains(&format!("transform: {}", good.display())), "{}", c.to_yaml());
    let bad = dir.path().join("bad.skel");
    std::fs::write(&bad, "remove(status)").unwrap();
    let text =
        |p: &Path| format!("{DEPLOYMENT}exports:\n- {{every: 1h, window: 1h, to: a, transform: '{}'}}\n", p.display());
    assert_err(&text(&bad), &["exports[0].transform: ", "bad.skel: line 1, column 15: expected `;`"]);
    assert_err(&text(&dir.path().join("missing.skel")), &["exports[0].transform: cannot read the SKEL program"]);
}

#[test]
fn yaml_syntax_errors_have_line_and_column() {
    assert_err("trackedObjects:\n  apps/v1.Deployment: {\n    x: [1\n", &["YAML syntax error: ", "at line 4 column 1"]);
    assert_err("trackedObjects:\n\tapps/v1.Deployment: {}\n", &["YAML syntax error: ", "at line 2 column 1"]);
    assert_err(
        "trackedObjects:\n  apps/v1.Deployment: *nope\n",
        &["YAML syntax error: unknown anchor at line 2 column 23"],
    );
    assert_err(&format!("{DEPLOYMENT}---\n{DEPLOYMENT}"), &["YAML syntax error: ", "more than one document"]);
}

#[test]
fn duplicate_keys_are_refused_not_silently_merged() {
    assert_err(
        "trackedObjects:\n  apps/v1.Deployment: {}\n  apps/v1.Deployment:\n    trackLifecycle: true\n",
        &["trackedObjects: duplicate key \"apps/v1.Deployment\" at line 2 column 3 (each key may appear only once)"],
    );
    assert_err(&format!("{DEPLOYMENT}{DEPLOYMENT}"), &["duplicate key \"trackedObjects\""]);
}

#[test]
fn nothing_to_trace_is_an_error() {
    for text in ["", "# only a comment\n", "trackedObjects:\n", "trackedObjects: {}\n", "server:\n  port: 9000\n"] {
        assert_err(text, &["trackedObjects: no kinds to trace: name at least one, e.g. `apps/v1.Deployment: {}`"]);
    }
}

#[test]
fn a_missing_or_unreadable_file_is_named() {
    let e = Loader::new().file("/no/such/config.yaml").load().unwrap_err().to_string();
    assert!(e.starts_with("config file /no/such/config.yaml: cannot read it: No such file"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let e = Loader::new().file(dir.path()).load().unwrap_err().to_string();
    assert!(e.starts_with(&format!("config file {}: cannot read it: ", dir.path().display())), "{e}");
}

#[test]
// The closure's error type is figment's own, which the jail fixes.
#[allow(clippy::result_large_err)]
fn environment_then_overrides_win_over_the_file() {
    let f = file("trackedObjects:\n  apps/v1.Deployment: {}\nretention:\n  maxAge: 1h\nserver:\n  port: 9000\n");
    figment::Jail::expect_with(|jail| {
        jail.clear_env();
        jail.set_env("SK_TRACER_RETENTION__MAX_AGE", "90m");
        jail.set_env("SK_TRACER_RETENTION__MAX_BYTES", "512MiB");
        jail.set_env("SK_TRACER_SERVER__PORT", "9100");
        jail.set_env("SK_TRACER_SERVER__BIND", "0.0.0.0");
        jail.set_env("SK_TRACER_PIPELINE__SANITISERS", "[metadata, status]");
        jail.set_env("SK_TRACER_CONFIG", "ignored: it names the file on the command line");
        let c = Loader::new().file(f.path()).env().load().unwrap();
        assert_eq!(c.retention.max_age, Duration::from_secs(5400));
        assert_eq!(c.retention.max_bytes, 512 << 20);
        assert_eq!((c.server.port, c.server.bind.to_string().as_str()), (9100, "0.0.0.0"));
        assert_eq!(c.pipeline.sanitisers, ["metadata", "status"]);

        // Without `.env()` the environment is not consulted.
        assert_eq!(Loader::new().file(f.path()).load().unwrap().server.port, 9000);

        // Overrides take any `Serialize` value and win over both.
        #[derive(serde::Serialize)]
        struct Server {
            port: u16,
        }
        #[derive(serde::Serialize)]
        struct Flags {
            server: Server,
        }
        let c = Loader::new().file(f.path()).env().overrides(Flags { server: Server { port: 9200 } }).load().unwrap();
        assert_eq!(c.server.port, 9200);
        assert_eq!(c.retention.max_age, Duration::from_secs(5400));
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)]
fn environment_errors_name_the_variable() {
    let f = file(DEPLOYMENT);
    let cases = [
        ("SK_TRACER_SERVER__PORT", "abc", "environment variable SK_TRACER_SERVER__PORT: server.port: expected a whole number from 0 to 65535, found the string \"abc\""),
        ("SK_TRACER_RETENTION__MAXAGE", "1h", "environment variable SK_TRACER_RETENTION__MAXAGE: retention.maxage: unknown field `maxage` (allowed: `maxAge`, `maxBytes`)"),
        ("SK_TRACER_RETENTION__MAX_AGES", "1h", "environment variable SK_TRACER_RETENTION__MAX_AGES: retention.maxAges: unknown field `maxAges`"),
        ("SK_TRACER_RETENTION__MAX_AGE", "3600", "environment variable SK_TRACER_RETENTION__MAX_AGE: retention.maxAge: `3600` has no unit"),
        ("SK_TRACER_COLOUR", "red", "environment variable SK_TRACER_COLOUR: colour: unknown field `colour`"),
    ];
    figment::Jail::expect_with(|jail| {
        for (var, value, expected) in cases {
            jail.clear_env();
            jail.set_env(var, value);
            let e = Loader::new().file(f.path()).env().load().unwrap_err().to_string();
            assert!(e.starts_with(expected), "{var}={value}: expected {expected:?}, got\n{e}");
        }
        Ok(())
    });
}

#[test]
fn override_errors_name_the_command_line() {
    let f = file(DEPLOYMENT);
    let e = Loader::new()
        .file(f.path())
        .overrides(serde_json::json!({"server": {"port": "x"}}))
        .load()
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("command line: server.port: expected a whole number"), "{e}");
}

#[test]
fn the_normalised_config_prints_and_reloads() {
    let c = Loader::new().file(examples().join("tracer-config.yaml")).load().unwrap();
    let yaml = c.to_yaml();
    assert!(yaml.contains("  apps/v1.Deployment:\n    podSpecTemplatePaths:\n    - /spec/template\n"), "{yaml}");
    assert!(yaml.contains("  v1.Pod:\n    podSpecTemplatePaths:\n    - ''\n"), "{yaml}");
    assert!(yaml.contains("  maxAge: 24h\n  maxBytes: 2GiB\n"), "{yaml}");
    let again = load(&yaml).unwrap();
    assert_eq!(again, c);
    assert_eq!(again.to_yaml(), yaml);
}

#[test]
fn the_shipped_examples_load() {
    let c = Loader::new().file(examples().join("deployments-and-volcano.yaml")).load().unwrap();
    let kinds: Vec<String> = c.tracer.tracked_objects.keys().map(|k| k.to_string()).collect();
    assert_eq!(kinds, ["apps/v1.Deployment", "batch.volcano.sh/v1alpha1.Job"]);

    let c = Loader::new().file(examples().join("tracer-config.yaml")).load().unwrap();
    for kind in ["apps/v1.Deployment", "apps/v1.StatefulSet", "batch/v1.Job", "batch/v1.CronJob", "v1.Pod"] {
        assert!(c.tracer.get(&kind.parse().unwrap()).is_some(), "{kind}");
    }
    let cron = c.tracer.get(&"batch/v1.CronJob".parse().unwrap()).unwrap();
    assert!(cron.track_lifecycle);
    assert!(c.tracer.get(&"v1.Pod".parse().unwrap()).unwrap().skip_owned);
    let volcano = c.tracer.get(&"batch.volcano.sh/v1alpha1.Job".parse().unwrap()).unwrap();
    assert_eq!(volcano.pod_spec_template_paths[0].as_str(), "/spec/tasks/*/template");

    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/config.yaml");
    Loader::new().file(deploy).load().unwrap();
}

/// Pieces that config files are made of, valid and not, for the no-panic property.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("trackedObjects:".to_string()),
        Just("apps/v1.Deployment:".to_string()),
        Just("example.com/v1.Thing:".to_string()),
        Just("v1.Pod:".to_string()),
        Just("podSpecTemplatePath:".to_string()),
        Just("podSpecTemplatePaths:".to_string()),
        Just("trackLifecycle:".to_string()),
        Just("skipOwned:".to_string()),
        Just("retention:".to_string()),
        Just("maxAge:".to_string()),
        Just("maxBytes:".to_string()),
        Just("server:".to_string()),
        Just("port:".to_string()),
        Just("pipeline:".to_string()),
        Just("sanitisers:".to_string()),
        Just("exports:".to_string()),
        Just("- ".to_string()),
        Just("\n".to_string()),
        Just("\n  ".to_string()),
        Just("\n    ".to_string()),
        Just(" ".to_string()),
        Just("{}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("/spec/~".to_string()),
        Just("/spec/*/template".to_string()),
        Just("''".to_string()),
        Just("&a".to_string()),
        Just("*a".to_string()),
        Just("!!binary".to_string()),
        "[ -~]{0,6}",
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|n| n.to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_input_gives_a_config_or_an_error_naming_the_file(parts in prop::collection::vec(fragment(), 0..24)) {
        let f = file(&parts.concat());
        match Loader::new().file(f.path()).load() {
            Ok(c) => prop_assert!(!c.tracer.tracked_objects.is_empty()),
            Err(e) => {
                let e = e.to_string();
                prop_assert!(e.starts_with(&format!("config file {}: ", f.path().display())), "{}", e);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_do_not_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut f = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
        f.write_all(&bytes).unwrap();
        let _ = Loader::new().file(f.path()).load();
    }
}

#[test]
fn checkpoints_have_defaults_and_checked_values() {
    let c = load(&format!("{DEPLOYMENT}checkpoint:\n  to: /var/lib/sk-tracer\n")).unwrap();
    let cp = c.checkpoint.clone().unwrap();
    assert_eq!((cp.to.as_str(), cp.every, cp.keep), ("/var/lib/sk-tracer", std::time::Duration::from_secs(300), 2));
    assert!(c.to_yaml().contains("checkpoint:\n  to: /var/lib/sk-tracer\n  every: 5m\n  keep: 2\n"), "{}", c.to_yaml());
    assert!(load(DEPLOYMENT).unwrap().checkpoint.is_none(), "off unless configured");
    assert_err(&format!("{DEPLOYMENT}checkpoint:\n  to: ''\n"), &["checkpoint.to", "is empty"]);
    assert_err(&format!("{DEPLOYMENT}checkpoint:\n  to: /x\n  every: 0s\n"), &["checkpoint.every", "at least 1s"]);
    assert_err(&format!("{DEPLOYMENT}checkpoint:\n  to: /x\n  keep: 0\n"), &["checkpoint.keep", "at least 1"]);
    assert_err(&format!("{DEPLOYMENT}checkpoint:\n  every: 1m\n"), &["checkpoint", "to"]);
}

#[test]
fn ha_has_defaults_and_checked_values() {
    let c = load(&format!("{DEPLOYMENT}ha:\n  lease:\n    name: sk-tracer\n")).unwrap();
    let ha = c.ha.clone().unwrap();
    assert_eq!(
        (ha.lease.duration, ha.lease.renew, ha.lease.retry),
        (Duration::from_secs(15), Duration::from_secs(10), Duration::from_secs(2))
    );
    assert_eq!((ha.lease.namespace, ha.identity), (None, None), "found at run time");
    assert!(load(DEPLOYMENT).unwrap().ha.is_none(), "off unless configured");
    let ha = |lease: &str| format!("{DEPLOYMENT}ha:\n  lease: {{name: l, {lease}}}\n");
    assert_err(&format!("{DEPLOYMENT}ha:\n  lease:\n    name: Not_A_Name\n"), &["ha.lease.name", "`Not_A_Name`"]);
    assert_err(&ha("namespace: a.b"), &["ha.lease.namespace", "`a.b`"]);
    assert_err(&ha("duration: 10s, renew: 10s"), &["ha.lease.renew", "shorter than ha.lease.duration"]);
    assert_err(&ha("retry: 10s"), &["ha.lease.retry", "shorter than ha.lease.renew"]);
    assert_err(&ha("duration: 0s"), &["ha.lease.duration", "at least 1s"]);
    assert_err(&ha("durations: 1s"), &["durations"]);
    assert_err(&format!("{DEPLOYMENT}ha:\n  lease: {{name: l}}\n  identity: ' '\n"), &["ha.identity", "empty"]);
    assert_err(&format!("{DEPLOYMENT}ha:\n  identity: a\n"), &["ha", "lease"]);
}
