//! Pod-template paths: RFC 6901 JSON Pointers extended with `*`.
//!
//! A `*` segment applies the rest of the path to every element of the array, or every value of the
//! map, found at that point, which is how a kind with several pod templates is described: a
//! Volcano job's `/spec/tasks/*/template` (an array), a PyTorchJob's
//! `/spec/pytorchReplicaSpecs/*/template` (a map keyed by replica type). SimKube's `*` covers
//! arrays only. `*` on a scalar is a type error; a missing key, an index past the end of an array,
//! or `null` along the way yields no match.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathParseError {
    #[error("pod-template path `{0}` must start with `/` (or be empty for the whole object)")]
    NoLeadingSlash(String),
    #[error("pod-template path `{path}` has a bad escape in segment `{segment}`: `~` must be followed by `0` or `1`")]
    BadEscape { path: String, segment: String },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    #[error("pod-template path `{path}`: `*` at `{at}` needs an array or a map, found {found}")]
    WildcardOnScalar { path: String, at: String, found: &'static str },
    #[error("pod-template path `{path}`: segment `{segment}` at `{at}` needs an object or array, found {found}")]
    NotAContainer { path: String, segment: String, at: String, found: &'static str },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Segment {
    Key(String),
    Wildcard,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PodTemplatePath {
    raw: String,
    segments: Vec<Segment>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// RFC 6901 array indices: decimal digits without leading zeros.
fn array_index(key: &str) -> Option<usize> {
    if key.is_empty() || (key.len() > 1 && key.starts_with('0')) || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse().ok()
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl PodTemplatePath {
    /// The empty pointer: the whole object (a bare Pod is its own template).
    pub fn root() -> Self {
        PodTemplatePath { raw: String::new(), segments: Vec::new() }
    }

    pub fn parse(path: &str) -> Result<Self, PathParseError> {
        if path.is_empty() {
            return Ok(Self::root());
        }
        let rest = path.strip_prefix('/').ok_or_else(|| PathParseError::NoLeadingSlash(path.to_string()))?;
        let segments = rest
            .split('/')
            .map(|seg| {
                if seg == "*" {
                    return Ok(Segment::Wildcard);
                }
                let mut key = String::with_capacity(seg.len());
                let mut chars = seg.chars();
                while let Some(c) = chars.next() {
                    if c != '~' {
                        key.push(c);
                        continue;
                    }
                    match chars.next() {
                        Some('0') => key.push('~'),
                        Some('1') => key.push('/'),
                        _ => {
                            return Err(PathParseError::BadEscape { path: path.to_string(), segment: seg.to_string() })
                        }
                    }
                }
                Ok(Segment::Key(key))
            })
            .collect::<Result<_, _>>()?;
        Ok(PodTemplatePath { raw: path.to_string(), segments })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// Every value the path reaches, in document order.
    pub fn find<'a>(&self, doc: &'a Value) -> Result<Vec<&'a Value>, PathError> {
        let mut out = Vec::new();
        self.walk(doc, 0, &mut String::new(), &mut out)?;
        Ok(out)
    }

    fn walk<'a>(&self, v: &'a Value, i: usize, at: &mut String, out: &mut Vec<&'a Value>) -> Result<(), PathError> {
        let Some(seg) = self.segments.get(i) else {
            out.push(v);
            return Ok(());
        };
        let len = at.len();
        match (seg, v) {
            (_, Value::Null) => {}
            (Segment::Wildcard, Value::Array(items)) => {
                for (n, item) in items.iter().enumerate() {
                    at.push_str(&format!("/{n}"));
                    self.walk(item, i + 1, at, out)?;
                    at.truncate(len);
                }
            }
            (Segment::Wildcard, Value::Object(map)) => {
                for (k, child) in map {
                    at.push('/');
                    at.push_str(&escape(k));
                    self.walk(child, i + 1, at, out)?;
                    at.truncate(len);
                }
            }
            (Segment::Wildcard, other) => return Err(self.wildcard_on_scalar(at, other)),
            (Segment::Key(k), Value::Object(map)) => {
                if let Some(child) = map.get(k) {
                    at.push('/');
                    at.push_str(&escape(k));
                    self.walk(child, i + 1, at, out)?;
                    at.truncate(len);
                }
            }
            (Segment::Key(k), Value::Array(items)) => {
                if let Some(child) = array_index(k).and_then(|n| items.get(n)) {
                    at.push('/');
                    at.push_str(k);
                    self.walk(child, i + 1, at, out)?;
                    at.truncate(len);
                }
            }
            (Segment::Key(k), other) => return Err(self.not_a_container(k, at, other)),
        }
        Ok(())
    }

    /// Calls `f` on every value the path reaches and returns how many there were. The document is
    /// checked first, so a type error leaves it untouched.
    pub fn for_each_mut(&self, doc: &mut Value, mut f: impl FnMut(&mut Value)) -> Result<usize, PathError> {
        let count = self.find(doc)?.len();
        if count > 0 {
            Self::walk_mut(&self.segments, doc, &mut f);
        }
        Ok(count)
    }

    fn walk_mut(segments: &[Segment], v: &mut Value, f: &mut impl FnMut(&mut Value)) {
        let Some((seg, rest)) = segments.split_first() else {
            f(v);
            return;
        };
        match (seg, v) {
            (Segment::Wildcard, Value::Array(items)) => {
                for item in items {
                    Self::walk_mut(rest, item, f);
                }
            }
            (Segment::Wildcard, Value::Object(map)) => {
                for child in map.values_mut() {
                    Self::walk_mut(rest, child, f);
                }
            }
            (Segment::Key(k), Value::Object(map)) => {
                if let Some(child) = map.get_mut(k) {
                    Self::walk_mut(rest, child, f);
                }
            }
            (Segment::Key(k), Value::Array(items)) => {
                if let Some(child) = array_index(k).and_then(|n| items.get_mut(n)) {
                    Self::walk_mut(rest, child, f);
                }
            }
            // `find` has already rejected type errors; null and scalars hold no match.
            _ => {}
        }
    }

    fn wildcard_on_scalar(&self, at: &str, found: &Value) -> PathError {
        PathError::WildcardOnScalar {
            path: self.raw.clone(),
            at: if at.is_empty() { "/".into() } else { at.to_string() },
            found: type_name(found),
        }
    }

    fn not_a_container(&self, segment: &str, at: &str, found: &Value) -> PathError {
        PathError::NotAContainer {
            path: self.raw.clone(),
            segment: segment.to_string(),
            at: if at.is_empty() { "/".into() } else { at.to_string() },
            found: type_name(found),
        }
    }
}

impl fmt::Display for PodTemplatePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl FromStr for PodTemplatePath {
    type Err = PathParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for PodTemplatePath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for PodTemplatePath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn p(s: &str) -> PodTemplatePath {
        s.parse().unwrap()
    }

    fn volcano() -> Value {
        json!({"spec": {"tasks": [
            {"name": "ps", "template": {"spec": {"containers": [{"name": "a"}]}}},
            {"name": "worker", "template": {"spec": {"containers": [{"name": "b"}]}}},
            {"name": "no-template"}
        ]}})
    }

    #[test]
    fn plain_pointer_finds_one_value() {
        let doc = json!({"spec": {"template": {"spec": {"x": 1}}}});
        assert_eq!(p("/spec/template").find(&doc).unwrap(), vec![&doc["spec"]["template"]]);
        assert_eq!(PodTemplatePath::root().find(&doc).unwrap(), vec![&doc]);
    }

    #[test]
    fn wildcard_applies_to_every_element_and_skips_absent_keys() {
        let doc = volcano();
        let found = p("/spec/tasks/*/template").find(&doc).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[1]["spec"]["containers"][0]["name"], "b");
    }

    #[test]
    fn absent_segments_and_null_yield_no_match() {
        let doc = json!({"spec": {"tasks": null}, "list": [1]});
        assert!(p("/spec/template").find(&doc).unwrap().is_empty());
        assert!(p("/nope/deeper/*").find(&doc).unwrap().is_empty());
        assert!(p("/spec/tasks/*/template").find(&doc).unwrap().is_empty());
        assert!(p("/list/5").find(&doc).unwrap().is_empty());
        assert!(p("/list/-").find(&doc).unwrap().is_empty());
        assert!(p("/list/01").find(&doc).unwrap().is_empty());
    }

    #[test]
    fn wildcard_on_a_map_applies_to_every_value() {
        let doc = json!({"spec": {"pytorchReplicaSpecs": {
            "Master": {"replicas": 1, "template": {"spec": {"containers": [{"name": "pytorch", "image": "m"}]}}},
            "Worker": {"replicas": 3, "template": {"spec": {"containers": [{"name": "pytorch", "image": "w"}]}}},
            "Extra": {"replicas": 0}
        }}});
        let found = p("/spec/pytorchReplicaSpecs/*/template").find(&doc).unwrap();
        let mut images: Vec<&str> =
            found.iter().map(|t| t["spec"]["containers"][0]["image"].as_str().unwrap()).collect();
        images.sort();
        assert_eq!(images, ["m", "w"]);
    }

    #[test]
    fn wildcard_on_a_scalar_is_a_type_error_naming_path_and_type() {
        let doc = json!({"spec": {"tasks": "none"}});
        let err = p("/spec/tasks/*/template").find(&doc).unwrap_err();
        assert_eq!(
            err,
            PathError::WildcardOnScalar {
                path: "/spec/tasks/*/template".into(),
                at: "/spec/tasks".into(),
                found: "a string"
            }
        );
        assert!(err.to_string().contains("needs an array or a map, found a string"), "{err}");
    }

    #[test]
    fn key_on_a_scalar_is_a_type_error() {
        let doc = json!({"spec": "text"});
        let err = p("/spec/template").find(&doc).unwrap_err();
        assert!(matches!(err, PathError::NotAContainer { found: "a string", .. }), "{err}");
    }

    #[test]
    fn escapes_follow_rfc_6901() {
        let doc = json!({"a/b": {"m~n": 7}});
        assert_eq!(p("/a~1b/m~0n").find(&doc).unwrap(), vec![&json!(7)]);
        assert_eq!(
            "/a~2b".parse::<PodTemplatePath>().unwrap_err(),
            PathParseError::BadEscape { path: "/a~2b".into(), segment: "a~2b".into() }
        );
        assert!(matches!("/trailing~".parse::<PodTemplatePath>(), Err(PathParseError::BadEscape { .. })));
        assert!(matches!("spec/template".parse::<PodTemplatePath>(), Err(PathParseError::NoLeadingSlash(_))));
    }

    #[test]
    fn mutation_reaches_every_match_and_type_errors_change_nothing() {
        let mut doc = volcano();
        let n = p("/spec/tasks/*/template/spec")
            .for_each_mut(&mut doc, |spec| {
                spec["nodeName"] = json!("cleared");
            })
            .unwrap();
        assert_eq!(n, 2);
        assert_eq!(doc["spec"]["tasks"][0]["template"]["spec"]["nodeName"], "cleared");
        assert_eq!(doc["spec"]["tasks"][2].get("template"), None);

        let mut mixed = json!({"a": [{"b": [1]}, {"b": "not a container"}]});
        let before = mixed.clone();
        let err = p("/a/*/b/*").for_each_mut(&mut mixed, |v| *v = json!(0)).unwrap_err();
        assert!(matches!(err, PathError::WildcardOnScalar { ref at, .. } if at == "/a/1/b"), "{err}");
        assert_eq!(mixed, before);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i32>().prop_map(|n| json!(n)),
            "[a-c]{0,2}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 40, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-c~/]{1,2}|0|1", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn arb_segments() -> impl Strategy<Value = Vec<Option<String>>> {
        prop::collection::vec(prop::option::weighted(0.8, "[a-c~/]{1,2}|0|1"), 0..4)
    }

    fn render(segments: &[Option<String>]) -> String {
        segments
            .iter()
            .map(|s| match s {
                Some(k) => format!("/{}", escape(k)),
                None => "/*".into(),
            })
            .collect()
    }

    proptest! {
        #[test]
        fn parse_then_display_round_trips(segments in arb_segments()) {
            let raw = render(&segments);
            let path = p(&raw);
            prop_assert_eq!(path.to_string(), raw.clone());
            prop_assert_eq!(p(&path.to_string()), path);
        }

        #[test]
        fn without_wildcards_it_agrees_with_serde_json_pointer(doc in arb_json(), keys in prop::collection::vec("[a-c~/]{1,2}|0|1", 0..4)) {
            let raw: String = keys.iter().map(|k| format!("/{}", escape(k))).collect();
            let ours = p(&raw).find(&doc);
            let theirs = doc.pointer(&raw).filter(|v| !v.is_null());
            match ours {
                Ok(found) => {
                    let found: Vec<_> = found.into_iter().filter(|v| !v.is_null()).collect();
                    prop_assert_eq!(found.first().copied(), theirs);
                    prop_assert!(found.len() <= 1);
                }
                // A type error means some prefix was a scalar, so the plain pointer finds nothing.
                Err(_) => prop_assert_eq!(theirs, None),
            }
        }

        #[test]
        fn mutation_visits_exactly_what_find_returns(doc in arb_json(), segments in arb_segments()) {
            let path = p(&render(&segments));
            let mut copy = doc.clone();
            match path.find(&doc) {
                Ok(found) => {
                    let n = path.for_each_mut(&mut copy, |v| *v = json!("MARK")).unwrap();
                    prop_assert_eq!(n, found.len());
                    if n > 0 {
                        let after = path.find(&copy).unwrap();
                        prop_assert!(after.iter().all(|v| **v == json!("MARK")));
                    }
                }
                Err(e) => {
                    prop_assert_eq!(path.for_each_mut(&mut copy, |v| *v = json!("MARK")).unwrap_err(), e);
                    prop_assert_eq!(copy, doc);
                }
            }
        }
    }
}
