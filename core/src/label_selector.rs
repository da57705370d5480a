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
    #[error("label selector: `{key}` is not a valid label key: {reason}")]
    InvalidKey { key: String, reason: String },
    #[error("label selector: `{value}` (for key `{key}`) is not a valid label value: {reason}")]
    InvalidValue { key: String, value: String, reason: String },
}

/// A label name or value: at most 63 characters, alphanumerics, `-`, `_` and `.`, beginning and
/// ending with an alphanumeric (Kubernetes' "qualified name" part).
fn check_name(text: &str) -> Result<(), String> {
    if text.len() > 63 {
        return Err(format!("{} characters, at most 63 are allowed", text.len()));
    }
    if let Some(c) = text.chars().find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c))) {
        return Err(format!("`{c}` is not allowed (alphanumerics, `-`, `_` and `.` are)"));
    }
    let edge_ok = |c: Option<char>| c.is_none_or(|c| c.is_ascii_alphanumeric());
    if !edge_ok(text.chars().next()) || !edge_ok(text.chars().last()) {
        return Err("must begin and end with an alphanumeric character".into());
    }
    Ok(())
}

/// `[prefix/]name`, the prefix a DNS subdomain (lower case, at most 253 characters).
fn check_key(key: &str) -> Result<(), SelectorError> {
    let invalid = |reason: String| SelectorError::InvalidKey { key: key.to_string(), reason };
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if name.is_empty() {
        return Err(if key.is_empty() { SelectorError::EmptyKey } else { invalid("the name part is empty".into()) });
    }
    check_name(name).map_err(|r| invalid(format!("its name part: {r}")))?;
    if let Some(prefix) = prefix {
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if prefix.len() > 253 || !prefix.split('.').all(label_ok) {
            return Err(invalid(
                "its prefix must be a DNS subdomain (lower-case alphanumerics, `-` and `.`, at most 253 characters)"
                    .into(),
            ));
        }
    }
    Ok(())
}

fn check_value(key: &str, value: &str) -> Result<(), SelectorError> {
    check_name(value).map_err(|reason| SelectorError::InvalidValue { key: key.into(), value: value.into(), reason })
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

impl LabelSelectorSpec {
    /// Parses kubectl's selector syntax: comma-separated requirements `k=v`, `k==v`, `k!=v`,
    /// `k in (a,b)`, `k notin (a,b)`, `k` (exists) and `!k` (does not exist).
    pub fn parse_kubectl(text: &str) -> Result<Self, String> {
        let mut spec = LabelSelectorSpec::default();
        let mut expr = |key: &str, operator: &str, values: Vec<String>| {
            spec.match_expressions.push(ExpressionSpec { key: key.to_string(), operator: operator.into(), values });
        };
        for part in split_top_level(text) {
            let part = part.trim();
            let bad = || {
                format!(
                    "`{part}` is not a label requirement (try `k=v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`)"
                )
            };
            if part.is_empty() {
                return Err(format!("empty requirement in selector `{text}`"));
            }
            if let Some((k, v)) = part.split_once("!=") {
                expr(k.trim(), "NotIn", vec![v.trim().to_string()]);
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                expr(k.trim(), "In", vec![v.trim().to_string()]);
            } else if let Some(k) = part.strip_prefix('!') {
                expr(k.trim(), "DoesNotExist", vec![]);
            } else if let Some((k, rest)) = part.split_once(char::is_whitespace) {
                let rest = rest.trim();
                let (op, set) = if let Some(set) = rest.strip_prefix("notin") {
                    ("NotIn", set)
                } else if let Some(set) = rest.strip_prefix("in") {
                    ("In", set)
                } else {
                    return Err(bad());
                };
                let set = set.trim().strip_prefix('(').and_then(|s| s.strip_suffix(')')).ok_or_else(bad)?;
                let values: Vec<String> =
                    set.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
                expr(k, op, values);
            } else if part.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c)) {
                expr(part, "Exists", vec![]);
            } else {
                return Err(bad());
            }
        }
        LabelSelector::new(&spec).map_err(|e| e.to_string())?;
        Ok(spec)
    }
}

/// Splits at commas outside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
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
            check_key(k)?;
            check_value(k, v)?;
            requirements.push(Requirement::Equals(k.clone(), v.clone()));
        }
        for e in &spec.match_expressions {
            check_key(&e.key)?;
            for v in &e.values {
                check_value(&e.key, v)?;
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
        self.matches_with(|key| labels.get(key).map(String::as_str))
    }

    /// [`LabelSelector::matches`] for labels held any way: `label` answers a key's value.
    pub fn matches_with<'l>(&self, label: impl Fn(&str) -> Option<&'l str>) -> bool {
        let one_of = |vs: &[String], v: &str| vs.iter().any(|x| x == v);
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => label(k) == Some(v.as_str()),
            Requirement::In(k, vs) => label(k).is_some_and(|v| one_of(vs, v)),
            Requirement::NotIn(k, vs) => label(k).is_none_or(|v| !one_of(vs, v)),
            Requirement::Exists(k) => label(k).is_some(),
            Requirement::DoesNotExist(k) => label(k).is_none(),
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
    fn keys_and_values_are_checked_as_the_apiserver_checks_them() {
        let key = |k: &str| sel(serde_json::json!({"matchLabels": {k: "v"}}));
        let value = |v: &str| sel(serde_json::json!({"matchLabels": {"k": v}}));
        for ok in ["app", "app.kubernetes.io/name", "a_b.c-d", "x/Y9", &"a".repeat(63)] {
            assert!(key(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("", "empty key"),
            ("-app", "begin and end"),
            ("app ", "` ` is not allowed"),
            ("Example.com/app", "DNS subdomain"),
            ("example.com/", "name part is empty"),
            ("a/b/c", "`/` is not allowed"),
            (&"a".repeat(64), "at most 63"),
        ] {
            let e = key(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(value("").is_ok(), "an empty value is valid");
        assert!(value("v1.2_beta-3").is_ok());
        let e = value("a b").unwrap_err().to_string();
        assert!(e.contains("`a b` (for key `k`) is not a valid label value"), "{e}");
        let e =
            sel(serde_json::json!({"matchExpressions": [{"key": "k", "operator": "In", "values": ["ok", "_bad"]}]}));
        assert!(matches!(e, Err(SelectorError::InvalidValue { .. })), "{e:?}");
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

    #[test]
    fn parses_kubectl_syntax() {
        let spec =
            LabelSelectorSpec::parse_kubectl("app=web, tier in (a, b),env!=prod,team,!legacy,x notin (y)").unwrap();
        let s = LabelSelector::new(&spec).unwrap();
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "b"), ("team", "t")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "b"), ("team", "t"), ("x", "y")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "b"), ("team", "t"), ("env", "prod")])));
        assert_eq!(spec.match_expressions.len(), 6);
        assert!(LabelSelectorSpec::parse_kubectl("tier in ()").unwrap_err().contains("needs at least one value"));
        assert!(LabelSelectorSpec::parse_kubectl("a=b,,c").unwrap_err().contains("empty requirement"));
        assert!(LabelSelectorSpec::parse_kubectl("tier within (a)")
            .unwrap_err()
            .contains("is not a label requirement"));
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

    /// The selector in kubectl's syntax.
    fn to_kubectl(spec: &LabelSelectorSpec) -> String {
        let mut parts: Vec<String> = spec.match_labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for e in &spec.match_expressions {
            parts.push(match e.operator.as_str() {
                "In" => format!("{} in ({})", e.key, e.values.join(", ")),
                "NotIn" => format!("{} notin ({})", e.key, e.values.join(",")),
                "Exists" => e.key.clone(),
                _ => format!("!{}", e.key),
            });
        }
        parts.join(",")
    }

    proptest! {
        /// kubectl's syntax says the same as the structured form.
        #[test]
        fn kubectl_syntax_selects_like_the_structured_form(l in arb_labels(), exprs in prop::collection::vec(arb_expr(), 1..4), ml in arb_labels()) {
            let spec = LabelSelectorSpec { match_labels: ml, match_expressions: exprs };
            let parsed = LabelSelectorSpec::parse_kubectl(&to_kubectl(&spec)).unwrap();
            prop_assert_eq!(LabelSelector::new(&parsed).unwrap().matches(&l), LabelSelector::new(&spec).unwrap().matches(&l));
        }

        /// Whatever the text, parsing gives a selector or a message, never a panic.
        #[test]
        fn any_text_parses_or_is_refused(text in ".{0,40}") {
            let _ = LabelSelectorSpec::parse_kubectl(&text);
        }

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
