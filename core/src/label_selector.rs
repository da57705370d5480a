//! Kubernetes label selectors (`matchLabels` and `matchExpressions`), validated as the apiserver
//! validates them and matched with its semantics.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SelectorError {
    #[error("label selector: operator `{operator}` on key `{key}` needs at least one value")]
    MissingValues { key: String, operator: String },
    #[error("label selector: operator `{operator}` on key `{key}` takes no values")]
    UnexpectedValues { key: String, operator: String },
    #[error(
        "label selector: unknown operator `{operator}` on key `{key}` (expected In, NotIn, Exists or DoesNotExist)"
    )]
    UnknownOperator { key: String, operator: String },
    #[error("label selector: empty key")]
    EmptyKey,
}

/// A selector as written in requests and configs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelectorSpec {
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub match_expressions: Vec<ExpressionSpec>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpressionSpec {
    pub key: String,
    pub operator: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A validated selector. The empty selector matches everything, as in Kubernetes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    pub fn new(spec: &LabelSelectorSpec) -> Result<Self, SelectorError> {
        let mut requirements = Vec::new();
        for (k, v) in &spec.match_labels {
            if k.is_empty() {
                return Err(SelectorError::EmptyKey);
            }
            requirements.push(Requirement::Equals(k.clone(), v.clone()));
        }
        for e in &spec.match_expressions {
            if e.key.is_empty() {
                return Err(SelectorError::EmptyKey);
            }
            let err_missing = || SelectorError::MissingValues { key: e.key.clone(), operator: e.operator.clone() };
            let err_unexpected =
                || SelectorError::UnexpectedValues { key: e.key.clone(), operator: e.operator.clone() };
            let req = match e.operator.as_str() {
                "In" if e.values.is_empty() => return Err(err_missing()),
                "NotIn" if e.values.is_empty() => return Err(err_missing()),
                "Exists" | "DoesNotExist" if !e.values.is_empty() => return Err(err_unexpected()),
                "In" => Requirement::In(e.key.clone(), e.values.clone()),
                "NotIn" => Requirement::NotIn(e.key.clone(), e.values.clone()),
                "Exists" => Requirement::Exists(e.key.clone()),
                "DoesNotExist" => Requirement::DoesNotExist(e.key.clone()),
                _ => return Err(SelectorError::UnknownOperator { key: e.key.clone(), operator: e.operator.clone() }),
            };
            requirements.push(req);
        }
        Ok(LabelSelector { requirements })
    }

    /// Whether labels satisfy every requirement. `NotIn` matches objects without the key, as in
    /// Kubernetes.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sel(json: serde_json::Value) -> Result<LabelSelector, SelectorError> {
        LabelSelector::new(&serde_json::from_value(json).unwrap())
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn validates_like_the_apiserver() {
        let in_without_values = sel(serde_json::json!({"matchExpressions": [{"key": "a", "operator": "In"}]}));
        assert_eq!(in_without_values, Err(SelectorError::MissingValues { key: "a".into(), operator: "In".into() }));
        let exists_with_values =
            sel(serde_json::json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}));
        assert!(matches!(exists_with_values, Err(SelectorError::UnexpectedValues { .. })));
        let unknown = sel(serde_json::json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}));
        assert!(unknown.unwrap_err().to_string().contains("unknown operator `Gt`"));
        assert!(serde_json::from_value::<LabelSelectorSpec>(serde_json::json!({"matchLabel": {}})).is_err());
    }

    #[test]
    fn matches_each_operator() {
        let s = sel(serde_json::json!({"matchLabels": {"app": "web"}, "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["a", "b"]},
            {"key": "env", "operator": "NotIn", "values": ["prod"]},
            {"key": "team", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"}]}))
        .unwrap();
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "a"), ("team", "x")])));
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "b"), ("team", "x"), ("env", "dev")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "c"), ("team", "x")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "a"), ("team", "x"), ("env", "prod")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "a")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "a"), ("team", "x"), ("legacy", "")])));
        assert!(!s.matches(&labels(&[("app", "api"), ("tier", "a"), ("team", "x")])));
        assert!(sel(serde_json::json!({})).unwrap().matches(&labels(&[])));
    }

    fn arb_labels() -> impl Strategy<Value = BTreeMap<String, String>> {
        prop::collection::btree_map("[abc]", "[xyz]", 0..3)
    }

    fn arb_expr() -> impl Strategy<Value = ExpressionSpec> {
        (
            "[abc]",
            prop_oneof![Just("In"), Just("NotIn"), Just("Exists"), Just("DoesNotExist")],
            prop::collection::vec("[xyz]", 1..3),
        )
            .prop_map(|(key, op, values)| {
                let values = if op.ends_with("In") { values } else { vec![] };
                ExpressionSpec { key, operator: op.into(), values }
            })
    }

    proptest! {
        /// Selector semantics as the Kubernetes documentation states them: a selector is the AND
        /// of its requirements; `matchLabels {k: v}` is `k In [v]`; `NotIn` and `DoesNotExist`
        /// are the complements of `In` and `Exists`.
        #[test]
        fn semantics_match_the_kubernetes_definition(l in arb_labels(), exprs in prop::collection::vec(arb_expr(), 0..4), ml in arb_labels()) {
            let spec = LabelSelectorSpec { match_labels: ml.clone(), match_expressions: exprs.clone() };
            let s = LabelSelector::new(&spec).unwrap();
            let each = exprs.iter().all(|e| {
                let one = LabelSelector::new(&LabelSelectorSpec { match_expressions: vec![e.clone()], ..Default::default() }).unwrap();
                one.matches(&l)
            });
            let as_in = ml.iter().all(|(k, v)| {
                let e = ExpressionSpec { key: k.clone(), operator: "In".into(), values: vec![v.clone()] };
                LabelSelector::new(&LabelSelectorSpec { match_expressions: vec![e], ..Default::default() }).unwrap().matches(&l)
            });
            prop_assert_eq!(s.matches(&l), each && as_in);
            for e in &exprs {
                let complement = match e.operator.as_str() { "In" => "NotIn", "NotIn" => "In", "Exists" => "DoesNotExist", _ => "Exists" };
                let a = LabelSelector::new(&LabelSelectorSpec { match_expressions: vec![e.clone()], ..Default::default() }).unwrap();
                let b = LabelSelector::new(&LabelSelectorSpec { match_expressions: vec![ExpressionSpec { operator: complement.into(), ..e.clone() }], ..Default::default() }).unwrap();
                prop_assert_ne!(a.matches(&l), b.matches(&l));
            }
        }
    }
}
