//! `excluded_labels: [LabelSelector, ...]`: leaves out every object that any selector matches,
//! with full LabelSelector semantics (matchLabels, and matchExpressions with In, NotIn, Exists,
//! DoesNotExist).

use serde_json::Value;
use sk_core::export::{BoxedFilter, FilterPlugin};
use sk_core::export::{Candidate, ObjectFilter};
use sk_core::label_selector::{LabelSelector, LabelSelectorSpec};
use sk_core::TracerConfig;

struct ExcludedLabels(Vec<LabelSelector>);

impl ObjectFilter for ExcludedLabels {
    fn keep(&self, obj: &Candidate<'_>) -> bool {
        let meta = obj.metadata();
        !self.0.iter().any(|s| s.matches_with(|key| meta.label(key)))
    }
}

fn build(options: &Value, _: &TracerConfig) -> Result<BoxedFilter, String> {
    let specs: Vec<LabelSelectorSpec> =
        serde_json::from_value(options.clone()).map_err(|e| format!("expected a list of label selectors: {e}"))?;
    let selectors = specs
        .iter()
        .enumerate()
        .map(|(i, s)| LabelSelector::new(s).map_err(|e| format!("[{i}]: {e}")))
        .collect::<Result<_, _>>()?;
    Ok(Box::new(ExcludedLabels(selectors)))
}

inventory::submit! {
    FilterPlugin {
        name: "excluded-labels",
        request_key: Some("excluded_labels"),
        describe: "leaves out objects matching any of the listed label selectors",
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::test_support::{candidate, stored};
    use serde_json::json;

    fn pod(labels: Value) -> sk_core::store::StoredObject {
        stored(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "d", "name": "a", "labels": labels}}),
        )
    }

    #[test]
    fn leaves_out_what_any_selector_matches() {
        let f = build(
            &json!([{"matchLabels": {"app": "noise"}}, {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["batch"]}]}]),
            &TracerConfig::default(),
        )
        .unwrap();
        assert!(!f.keep(&candidate(&pod(json!({"app": "noise"})))));
        assert!(!f.keep(&candidate(&pod(json!({"tier": "batch"})))));
        assert!(f.keep(&candidate(&pod(json!({"app": "web", "tier": "front"})))));
        assert!(
            f.keep(&candidate(&stored(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "unlabelled"}}))))
        );
    }

    #[test]
    fn malformed_selectors_are_refused_with_their_position() {
        let err = build(
            &json!([{"matchLabels": {}}, {"matchExpressions": [{"key": "a", "operator": "In"}]}]),
            &TracerConfig::default(),
        )
        .err()
        .unwrap();
        assert!(err.starts_with("[1]: ") && err.contains("needs at least one value"), "{err}");
        let err = build(&json!([{"matchExpressions": [{"key": "a", "operator": "Near"}]}]), &TracerConfig::default())
            .err()
            .unwrap();
        assert!(err.contains("unknown operator `Near`"), "{err}");
    }
}
