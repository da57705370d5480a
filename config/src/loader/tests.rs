use std::io::Write;

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

fn err(text: &str) -> String {
    let f = file(text);
    let e = Loader::new().file(f.path()).load().unwrap_err().to_string();
    assert!(e.contains(&f.path().display().to_string()), "the message names the file: {e}");
    e
}

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
    assert_eq!(c.pipeline.sanitisers, ["metadata", "status", "node-name"]);
    assert_eq!(c.retention.max_bytes, 2 << 30);
    assert_eq!(c.server.port, 8080);
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
fn every_bad_input_gets_a_message_naming_key_and_problem() {
    let cases = [
        (
            "trackedObjects:\n  apps/v1.Deployment:\n    colour: red\n",
            "trackedObjects.\"apps/v1.Deployment\".colour: unknown field `colour` (allowed: `podSpecTemplatePath`",
        ),
        (
            "trackedObjects:\n  Deployment: {}\n",
            "trackedObjects.Deployment: `Deployment` is not a GVK: expected `<group>/<version>.<Kind>`",
        ),
        (
            "trackedObjects:\n  example.com/v1.Thing: {}\n",
            "example.com/v1.Thing is not a built-in kind, so it needs podSpecTemplatePath",
        ),
        (
            "trackedObjects:\n  example.com/v1.Thing:\n    podSpecTemplatePath: \"\"\n",
            "podSpecTemplatePath: empty path",
        ),
        ("trackedObjects:\n  example.com/v1.Thing:\n    podSpecTemplatePath: spec/template\n", "must start with `/`"),
        ("trackedObjects:\n  example.com/v1.Thing:\n    podSpecTemplatePath: /spec/~2\n", "bad escape"),
        (
            "trackedObjects:\n  example.com/v1.Thing:\n    podSpecTemplatePath: /a\n    podSpecTemplatePaths: [/b]\n",
            "not both",
        ),
        (
            "trackedObjects:\n  apps/v1.Deployment:\n    trackLifecycle: \"yes\"\n",
            "trackLifecycle: expected a boolean, found string \"yes\"",
        ),
        (
            "trackedObjects:\n  apps/v1.Deployment: {\n    x: [1\n",
            "YAML syntax error: did not find expected ',' or ']' at line 4 column 1",
        ),
        (
            "trackedObjects:\n  apps/v1.Deployment: {}\n  apps/v1.Deployment: {}\n",
            "duplicate entry with key \"apps/v1.Deployment\"",
        ),
        ("trackedObjects: {}\n", "trackedObjects is empty"),
        ("trackedObjects:\n  apps/v1.Deployment: {}\nretention:\n  maxAge: soon\n", "retention.maxAge"),
        ("trackedObjects:\n  apps/v1.Deployment: {}\nretention:\n  maxBytes: 2 parsecs\n", "unknown unit `parsecs`"),
        ("trackedObjects:\n  apps/v1.Deployment: {}\nserver:\n  port: 70000\n", "server.port"),
        (
            "trackedObjects:\n  apps/v1.Deployment: {}\npipeline:\n  sanitisers: [metadata, metadata]\n",
            "pipeline.sanitisers: `metadata` is listed twice",
        ),
        ("trackedObjects:\n  apps/v1.Deployment: {}\ncolour: red\n", "colour: unknown field `colour`"),
        (
            "trackedObjects:\n  apps/v1.Deployment: {}\nexports:\n- {every: 0s, window: 1h, to: a}\n",
            "exports[0].every: must be longer than zero",
        ),
        (
            "trackedObjects:\n  apps/v1.Deployment: {}\nexports:\n- {every: 1h, window: 1h, to: ''}\n",
            "exports[0].to: a destination is required",
        ),
        (
            "trackedObjects:\n  apps/v1.Deployment: {}\nexports:\n- {every: 1h, window: 1h, to: a, format: v9}\n",
            "exports[0].format",
        ),
    ];
    for (text, expected) in cases {
        let e = err(text);
        assert!(e.contains(expected), "for\n{text}\nexpected {expected:?} in\n{e}");
    }
}

#[test]
fn a_missing_file_is_named() {
    let e = Loader::new().file("/no/such/config.yaml").load().unwrap_err().to_string();
    assert!(e.starts_with("config file /no/such/config.yaml: No such file"), "{e}");
}

#[test]
// The closure's error type is figment's own, which the jail fixes.
#[allow(clippy::result_large_err)]
fn environment_then_overrides_win_over_the_file() {
    let f = file("trackedObjects:\n  apps/v1.Deployment: {}\nretention:\n  maxAge: 1h\nserver:\n  port: 9000\n");
    figment::Jail::expect_with(|jail| {
        jail.set_env("SK_TRACER_RETENTION__MAX_AGE", "90m");
        jail.set_env("SK_TRACER_SERVER__PORT", "9100");
        jail.set_env("SK_TRACER_CONFIG", "ignored: it names the file on the command line");
        let c =
            Loader::new().file(f.path()).env().overrides(serde_json::json!({"server": {"port": 9200}})).load().unwrap();
        assert_eq!(c.retention.max_age, std::time::Duration::from_secs(5400));
        assert_eq!(c.server.port, 9200);
        jail.set_env("SK_TRACER_RETENTION__MAX_AGES", "1h");
        let e = Loader::new().file(f.path()).env().load().unwrap_err().to_string();
        assert!(e.contains("SK_TRACER_") && e.contains("unknown field `maxAges`"), "{e}");
        Ok(())
    });
}

#[test]
fn the_normalised_config_prints_and_reloads() {
    let c = load("trackedObjects:\n  apps/v1.Deployment: {}\n  batch.volcano.sh/v1alpha1.Job:\n    podSpecTemplatePath: /spec/tasks/*/template\n    trackLifecycle: true\n").unwrap();
    let yaml = c.to_yaml();
    assert!(yaml.contains("podSpecTemplatePaths:\n    - /spec/template"), "{yaml}");
    assert_eq!(load(&yaml).unwrap(), c);
}

#[test]
fn the_shipped_examples_load() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    for name in ["deployments-and-volcano.yaml", "tracer-config.yaml"] {
        let c = Loader::new().file(dir.join(name)).load().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!c.tracer.tracked_objects.is_empty());
    }
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/config.yaml");
    Loader::new().file(deploy).load().unwrap();
}
