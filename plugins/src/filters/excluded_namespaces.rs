//! `excluded_namespaces: [ns, ...]`: leaves out every object in these namespaces.

use serde_json::Value;
use sk_core::export::{BoxedFilter, FilterPlugin};
use sk_core::export::{Candidate, ObjectFilter};
use sk_core::TracerConfig;

/// Sorted: a search costs a few comparisons of short names, where hashing would cost more.
struct ExcludedNamespaces(Vec<String>);

impl ObjectFilter for ExcludedNamespaces {
    fn keep(&self, obj: &Candidate<'_>) -> bool {
        self.0.binary_search_by(|ns| ns.as_str().cmp(&obj.id().namespace)).is_err()
    }
}

fn build(options: &Value, _: &TracerConfig) -> Result<BoxedFilter, String> {
    let names: Vec<String> =
        serde_json::from_value(options.clone()).map_err(|e| format!("expected a list of namespace names: {e}"))?;
    if let Some(empty) = names.iter().position(String::is_empty) {
        return Err(format!("entry {empty} is an empty namespace name"));
    }
    let mut names = names;
    names.sort();
    names.dedup();
    Ok(Box::new(ExcludedNamespaces(names)))
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
    use crate::filters::test_support::{candidate, stored};

    #[test]
    fn leaves_out_listed_namespaces_only() {
        let f = build(&serde_json::json!(["z", "kube-system", "a", "kube-system"]), &TracerConfig::default()).unwrap();
        let in_ns = |ns: &str| {
            stored(serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": ns, "name": "a"}}))
        };
        for ns in ["kube-system", "a", "z"] {
            assert!(!f.keep(&candidate(&in_ns(ns))), "{ns}");
        }
        for ns in ["default", "kube", "kube-system2", ""] {
            assert!(f.keep(&candidate(&in_ns(ns))), "{ns}");
        }
        assert!(build(&serde_json::json!("kube-system"), &TracerConfig::default()).is_err());
        assert!(build(&serde_json::json!([""]), &TracerConfig::default()).err().unwrap().contains("empty"));
    }
}
