//! `redact`: keeps secrets out of a trace that leaves the cluster. Container `env` values are
//! replaced (names kept, so a replayed pod has the same variables; `valueFrom` references kept, as
//! they name a Secret or ConfigMap key, not its content), and annotations whose keys match
//! configured patterns are removed. Optionally, container `command` and `args` are replaced too.
//!
//! A replaced value carries a short fingerprint of the original by default, so that a rollout
//! changing only an env value still records a change and a new pod hash: without it the trace
//! would say nothing happened. The fingerprint is 32 bits of a keyed XXH64, which tells equal values
//! apart from different ones but cannot be reversed; a guessable value can be confirmed by anyone
//! who knows the key, hence `fingerprintKey` and `fingerprint: false`.

use serde::Deserialize;
use serde_json::Value;
use sk_core::pipeline::{Sanitiser, SanitiserPlugin};
use xxhash_rust::xxh64::xxh64;

/// What replaces a redacted value, before its fingerprint.
pub const REDACTED: &str = "<redacted>";

/// Annotation keys that commonly carry credentials or whole copies of an object's spec (env
/// values included). Matched case-insensitively; `*` matches any run of characters.
const DEFAULT_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "*password*",
    "*passwd*",
    "*secret*",
    "*token*",
    "*credential*",
    "*apikey*",
    "*api-key*",
    "*private-key*",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Options {
    /// Replaces the default annotation patterns.
    #[serde(default)]
    annotations: Option<Vec<String>>,
    /// Extends the default (or given) annotation patterns.
    #[serde(default)]
    extra_annotations: Vec<String>,
    /// Env variables whose values are kept (exact names), e.g. `LOG_LEVEL`.
    #[serde(default)]
    keep_env: Vec<String>,
    /// Also replace every container's `command` and `args` entries.
    #[serde(default)]
    command_and_args: bool,
    /// Append a fingerprint of the original value to each replacement.
    #[serde(default = "yes")]
    fingerprint: bool,
    /// Keys the fingerprint, so that only those who know it can test a guess.
    #[serde(default)]
    fingerprint_key: String,
}

fn yes() -> bool {
    true
}

impl Default for Options {
    fn default() -> Self {
        Options {
            annotations: None,
            extra_annotations: Vec::new(),
            keep_env: Vec::new(),
            command_and_args: false,
            fingerprint: true,
            fingerprint_key: String::new(),
        }
    }
}

struct Redact {
    annotations: Vec<String>,
    keep_env: Vec<String>,
    command_and_args: bool,
    /// The key's seed when values are fingerprinted.
    fingerprint: Option<u64>,
}

/// `*` globs, case-insensitive; `pattern` is lower case.
fn glob_match(pattern: &str, text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

impl Redact {
    /// The replacement for `value`; a value already replaced stays as it is (sanitisers run again
    /// on templates when pod hashes are taken).
    fn replace(&self, value: &Value) -> Value {
        let text = match value {
            Value::String(s) if s.starts_with(REDACTED) => return value.clone(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match self.fingerprint {
            Some(seed) => Value::String(format!("{REDACTED}:{:08x}", xxh64(text.as_bytes(), seed) >> 32)),
            None => Value::String(REDACTED.into()),
        }
    }

    fn redact_metadata(&self, holder: &mut Value) {
        let Some(meta) = holder.get_mut("metadata").and_then(Value::as_object_mut) else { return };
        let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) else { return };
        annotations.retain(|key, _| !self.annotations.iter().any(|p| glob_match(p, key)));
        if annotations.is_empty() {
            meta.remove("annotations");
        }
    }

    fn redact_pod_spec(&self, spec: &mut Value) {
        for list in ["containers", "initContainers", "ephemeralContainers"] {
            let Some(containers) = spec.get_mut(list).and_then(Value::as_array_mut) else { continue };
            for c in containers {
                self.redact_container(c);
            }
        }
    }

    fn redact_container(&self, c: &mut Value) {
        if let Some(env) = c.get_mut("env").and_then(Value::as_array_mut) {
            for var in env {
                let keep =
                    var.get("name").and_then(Value::as_str).is_some_and(|n| self.keep_env.iter().any(|k| k == n));
                if keep {
                    continue;
                }
                if let Some(value) = var.get_mut("value") {
                    // An empty value says nothing and replaying it as empty is more faithful.
                    if value.as_str() != Some("") {
                        *value = self.replace(value);
                    }
                }
            }
        }
        if self.command_and_args {
            for field in ["command", "args"] {
                if let Some(items) = c.get_mut(field).and_then(Value::as_array_mut) {
                    items.iter_mut().for_each(|i| *i = self.replace(i));
                }
            }
        }
    }
}

impl Sanitiser for Redact {
    fn sanitise_object(&self, obj: &mut Value) {
        self.redact_metadata(obj);
        let is_pod = obj.get("kind").and_then(Value::as_str) == Some("Pod")
            && obj.get("apiVersion").and_then(Value::as_str) == Some("v1");
        if is_pod {
            if let Some(spec) = obj.get_mut("spec") {
                self.redact_pod_spec(spec);
            }
        }
    }

    fn sanitise_template(&self, template: &mut Value) {
        self.redact_metadata(template);
        if let Some(spec) = template.get_mut("spec") {
            self.redact_pod_spec(spec);
        }
    }

    fn touches(&self) -> Option<&[&[&str]]> {
        Some(&[&["apiVersion"], &["kind"], &["metadata", "annotations"], &["spec"]])
    }
}

fn build(options: &Value) -> Result<Box<dyn Sanitiser>, String> {
    let opts: Options = if options.is_null() {
        Options::default()
    } else {
        serde_json::from_value(options.clone()).map_err(|e| format!("`redact`: {e}"))?
    };
    let mut annotations =
        opts.annotations.unwrap_or_else(|| DEFAULT_ANNOTATIONS.iter().map(|s| s.to_string()).collect());
    annotations.extend(opts.extra_annotations);
    if let Some(bad) = annotations.iter().find(|p| p.trim().is_empty()) {
        return Err(format!("`redact`: an annotation pattern is empty (`{bad}`)"));
    }
    Ok(Box::new(Redact {
        annotations: annotations.iter().map(|p| p.to_ascii_lowercase()).collect(),
        keep_env: opts.keep_env,
        command_and_args: opts.command_and_args,
        fingerprint: opts.fingerprint.then(|| xxh64(opts.fingerprint_key.as_bytes(), 0)),
    }))
}

inventory::submit! {
    SanitiserPlugin {
        name: "redact",
        describe: "replaces container env values (names and valueFrom references kept) and removes annotations that may hold secrets",
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sanitisers::test_support::{deployment, pod};
    use serde_json::json;

    fn redact(options: Value) -> Box<dyn Sanitiser> {
        build(&options).unwrap()
    }

    #[test]
    fn globs() {
        assert!(glob_match("*token*", "example.com/API-Token"));
        assert!(glob_match(
            "kubectl.kubernetes.io/last-applied-configuration",
            "kubectl.kubernetes.io/last-applied-configuration"
        ));
        assert!(!glob_match("kubectl.kubernetes.io/last-applied", "kubectl.kubernetes.io/last-applied-configuration"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("ab*ba", "aba"), "the prefix and suffix may not overlap");
    }

    #[test]
    fn env_values_are_replaced_names_and_references_kept() {
        let mut t = json!({"metadata": {}, "spec": {
            "initContainers": [{"name": "init", "env": [{"name": "DB_PASSWORD", "value": "hunter2"}]}],
            "containers": [{"name": "app", "env": [
                {"name": "MODE", "value": "prod"},
                {"name": "EMPTY", "value": ""},
                {"name": "LOG_LEVEL", "value": "debug"},
                {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
                "envFrom": [{"secretRef": {"name": "all"}}],
                "args": ["--password=hunter2"]}]}});
        let r = redact(json!({"keepEnv": ["LOG_LEVEL"], "fingerprint": false}));
        r.sanitise_template(&mut t);
        assert_eq!(t["spec"]["initContainers"][0]["env"][0], json!({"name": "DB_PASSWORD", "value": REDACTED}));
        let env = &t["spec"]["containers"][0]["env"];
        assert_eq!(env[0], json!({"name": "MODE", "value": REDACTED}));
        assert_eq!(env[1], json!({"name": "EMPTY", "value": ""}));
        assert_eq!(env[2], json!({"name": "LOG_LEVEL", "value": "debug"}));
        assert_eq!(
            env[3],
            json!({"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}})
        );
        assert_eq!(t["spec"]["containers"][0]["envFrom"], json!([{"secretRef": {"name": "all"}}]));
        assert_eq!(t["spec"]["containers"][0]["args"], json!(["--password=hunter2"]), "args only when asked");
        let again = t.clone();
        r.sanitise_template(&mut t);
        assert_eq!(t, again, "idempotent");

        redact(json!({"commandAndArgs": true, "fingerprint": false})).sanitise_template(&mut t);
        assert_eq!(t["spec"]["containers"][0]["args"], json!([REDACTED]));
    }

    #[test]
    fn fingerprints_tell_changes_apart_without_the_value() {
        let env = |v: &str| json!({"spec": {"containers": [{"name": "c", "env": [{"name": "A", "value": v}]}]}});
        let value = |opts: Value, v: &str| {
            let mut t = env(v);
            let r = redact(opts);
            r.sanitise_template(&mut t);
            let once = t.clone();
            r.sanitise_template(&mut t);
            assert_eq!(t, once, "idempotent");
            t["spec"]["containers"][0]["env"][0]["value"].as_str().unwrap().to_string()
        };
        let a = value(Value::Null, "hunter2");
        assert!(a.starts_with("<redacted>:") && a.len() == "<redacted>:".len() + 8 && !a.contains("hunter2"), "{a}");
        assert_eq!(a, value(Value::Null, "hunter2"), "stable, so unchanged objects hash the same");
        assert_ne!(a, value(Value::Null, "hunter3"), "a changed value is a change");
        assert_ne!(a, value(json!({"fingerprintKey": "k"}), "hunter2"), "keyed");
    }

    #[test]
    fn pods_and_their_annotations_are_redacted_other_kinds_keep_their_spec() {
        let mut p = pod("web-7d9f8b-abcde", "node-1", "7d9f8b");
        p["metadata"]["annotations"] = json!({"vault.hashicorp.com/agent-inject-token": "s.abc", "team": "payments"});
        let r = redact(Value::Null);
        r.sanitise_object(&mut p);
        assert!(p["spec"]["containers"][0]["env"][0]["value"].as_str().unwrap().starts_with(REDACTED));
        assert_eq!(p["metadata"]["annotations"], json!({"team": "payments"}));

        let mut d = deployment();
        r.sanitise_object(&mut d);
        assert!(d["metadata"]["annotations"].get("kubectl.kubernetes.io/last-applied-configuration").is_none());
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"], "prod",
            "templates are their own step"
        );

        let mut thing = json!({"apiVersion": "example.com/v1", "kind": "Thing", "spec": {"containers": [{"env": [{"name": "A", "value": "x"}]}]}});
        let before = thing.clone();
        r.sanitise_object(&mut thing);
        assert_eq!(thing, before);
    }

    #[test]
    fn annotation_patterns_can_be_replaced_or_extended() {
        let mut t = json!({"metadata": {"annotations": {"my.org/db-dsn": "postgres://u:p@h", "x/token": "t"}}});
        redact(json!({"extraAnnotations": ["*-dsn"]})).sanitise_template(&mut t);
        assert!(t["metadata"].get("annotations").is_none(), "emptied annotations are removed");

        let mut t = json!({"metadata": {"annotations": {"my.org/db-dsn": "x", "x/token": "t"}}});
        redact(json!({"annotations": ["*-dsn"]})).sanitise_template(&mut t);
        assert_eq!(t["metadata"]["annotations"], json!({"x/token": "t"}));
    }

    #[test]
    fn bad_options_are_named() {
        assert!(build(&json!({"annotation": []})).err().unwrap().contains("unknown field `annotation`"));
        assert!(build(&json!({"keepEnv": "A"})).err().unwrap().contains("expected a sequence"));
        assert!(build(&json!({"annotations": [" "]})).err().unwrap().contains("empty"));
    }
}
