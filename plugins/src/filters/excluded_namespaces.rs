//! `excluded_namespaces: [ns, ...]`: leaves out every object in these namespaces.

use std::collections::HashSet;

use serde_json::Value;
use sk_core::export::{BoxedFilter, FilterPlugin};
use sk_core::store::{ObjectFilter, StoredObject};
use sk_core::TracerConfig;

struct ExcludedNamespaces(HashSet<String>);

impl ObjectFilter for ExcludedNamespaces {
    fn keep(&self, obj: &StoredObject) -> bool {
        !self.0.contains(&obj.id.namespace)
    }
}

fn build(options: &Value, _: &TracerConfig) -> Result<BoxedFilter, String> {
    let names: Vec<String> =
        serde_json::from_value(options.clone()).map_err(|e| format!("expected a list of namespace names: {e}"))?;
    if let Some(empty) = names.iter().position(String::is_empty) {
        return Err(format!("entry {empty} is an empty namespace name"));
    }
    Ok(Box::new(ExcludedNamespaces(names.into_iter().collect())))
}

inventory::submit! {
    FilterPlugin {
        name: "excluded-namespaces",
        request_key: Some("excluded_namespaces"),
        describe: "leaves out objects in the listed namespaces",
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::test_support::stored;

    #[test]
    fn leaves_out_listed_namespaces_only() {
        let f = build(&serde_json::json!(["kube-system"]), &TracerConfig::default()).unwrap();
        assert!(!f.keep(&stored(serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "kube-system", "name": "a"}}))));
        assert!(f.keep(&stored(
            serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "default", "name": "a"}})
        )));
        assert!(build(&serde_json::json!("kube-system"), &TracerConfig::default()).is_err());
        assert!(build(&serde_json::json!([""]), &TracerConfig::default()).err().unwrap().contains("empty"));
    }
}
