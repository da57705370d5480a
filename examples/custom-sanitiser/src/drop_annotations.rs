//! `drop-annotations`: removes the configured annotation keys from recorded objects and their pod
//! templates (a team's tooling annotations that change on every deploy, say). A key ending in `*`
//! matches every key with that prefix.
//!
//! ```yaml
//! pipeline:
//!   sanitisers: [metadata, status, node-name, drop-annotations]
//!   options:
//!     drop-annotations: {keys: ["ci.example.com/*", "owner-email"]}
//! ```

use serde::Deserialize;
use serde_json::Value;
use sk_core::pipeline::{Sanitiser, SanitiserPlugin};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    keys: Vec<String>,
}

struct DropAnnotations {
    exact: Vec<String>,
    prefixes: Vec<String>,
}

impl DropAnnotations {
    fn drops(&self, key: &str) -> bool {
        self.exact.iter().any(|k| k == key) || self.prefixes.iter().any(|p| key.starts_with(p.as_str()))
    }

    fn clean(&self, obj: &mut Value) {
        let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else { return };
        let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) else { return };
        annotations.retain(|k, _| !self.drops(k));
        if annotations.is_empty() {
            meta.remove("annotations");
        }
    }
}

impl Sanitiser for DropAnnotations {
    fn sanitise_object(&self, obj: &mut Value) {
        self.clean(obj);
    }

    fn sanitise_template(&self, template: &mut Value) {
        self.clean(template);
    }
}

fn build(options: &Value) -> Result<Box<dyn Sanitiser>, String> {
    if options.is_null() {
        return Err("needs options: {keys: [annotation keys, or prefixes ending in *]}".into());
    }
    let options: Options =
        serde_json::from_value(options.clone()).map_err(|e| format!("expected {{keys: [...]}}: {e}"))?;
    let (prefixes, exact): (Vec<String>, Vec<String>) = options.keys.into_iter().partition(|k| k.ends_with('*'));
    let prefixes = prefixes.into_iter().map(|p| p.trim_end_matches('*').to_string()).collect();
    Ok(Box::new(DropAnnotations { exact, prefixes }))
}

inventory::submit! {
    SanitiserPlugin {
        name: "drop-annotations",
        describe: "removes the annotation keys (or key prefixes ending in *) given in its options",
        build,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sk_core::pipeline::SanitiserChain;

    #[test]
    fn drops_exact_keys_and_prefixes_and_refuses_bad_options() {
        let names = vec!["metadata".to_string(), "drop-annotations".to_string()];
        let options = json!({"drop-annotations": {"keys": ["ci.example.com/*", "owner-email"]}});
        let chain = SanitiserChain::build(&names, options.as_object().unwrap()).unwrap();
        let mut obj = json!({"metadata": {"name": "web", "uid": "u", "annotations": {
            "ci.example.com/build": "42", "ci.example.com/commit": "abc", "owner-email": "a@b", "team": "payments"}}});
        let cfg =
            sk_core::TrackedObjectConfig { pod_spec_template_paths: vec![], track_lifecycle: false, skip_owned: false };
        chain.sanitise_tracked(&mut obj, &cfg).unwrap();
        assert_eq!(obj, json!({"metadata": {"name": "web", "annotations": {"team": "payments"}}}));

        let bad = json!({"drop-annotations": {"keys": 3}});
        let err = SanitiserChain::build(&names, bad.as_object().unwrap()).err().unwrap().to_string();
        assert!(err.contains("drop-annotations") && err.contains("expected {keys: [...]}"), "{err}");
        let none = serde_json::Map::new();
        assert!(SanitiserChain::build(&names, &none).err().unwrap().to_string().contains("needs options"));
    }
}
