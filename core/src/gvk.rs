//! Group/version/kind identifiers, written `group/version.Kind` (`v1.Pod` for the core group).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GvkError {
    #[error("`{0}` is not a GVK: expected `<group>/<version>.<Kind>` (or `<version>.<Kind>` for the core group, e.g. `v1.Pod`)")]
    Malformed(String),
    #[error("`{input}` is not a GVK: the {part} `{value}` is not valid ({why})")]
    BadPart { input: String, part: &'static str, value: String, why: &'static str },
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gvk {
    /// Empty for the core API group.
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    pub fn new(group: &str, version: &str, kind: &str) -> Self {
        Gvk { group: group.into(), version: version.into(), kind: kind.into() }
    }

    /// The `apiVersion` field of objects of this kind.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The GVK of a Kubernetes object given as JSON, from its `apiVersion` and `kind`.
    pub fn of_object(obj: &serde_json::Value) -> Option<Gvk> {
        let api_version = obj.get("apiVersion")?.as_str()?;
        let kind = obj.get("kind")?.as_str()?;
        Some(Self::from_api_version(api_version, kind))
    }

    pub fn from_api_version(api_version: &str, kind: &str) -> Gvk {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        Gvk::new(group, version, kind)
    }

    pub fn is_core_pod(&self) -> bool {
        self.group.is_empty() && self.version == "v1" && self.kind == "Pod"
    }
}

impl fmt::Display for Gvk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.api_version(), self.kind)
    }
}

fn is_dns_label_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'
}

impl FromStr for Gvk {
    type Err = GvkError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let malformed = || GvkError::Malformed(input.to_string());
        let bad = |part, value: &str, why| GvkError::BadPart {
            input: input.to_string(),
            part,
            value: value.to_string(),
            why,
        };
        // The kind follows the last dot of the version part; groups contain dots themselves.
        let (group, rest) = match input.split_once('/') {
            Some((g, rest)) => {
                if g.is_empty() {
                    return Err(bad("group", g, "empty; write `v1.Kind` for the core group"));
                }
                (g, rest)
            }
            None => ("", input),
        };
        let (version, kind) = rest.split_once('.').ok_or_else(malformed)?;
        if version.is_empty() || kind.is_empty() || kind.contains(['.', '/']) {
            return Err(malformed());
        }
        if !group.chars().all(is_dns_label_char) || group.starts_with(['.', '-']) || group.ends_with(['.', '-']) {
            return Err(bad("group", group, "must be a lowercase DNS subdomain"));
        }
        if !version.starts_with('v') || !version.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            return Err(bad("version", version, "must look like `v1`, `v1beta1` or `v1alpha1`"));
        }
        if !kind.starts_with(|c: char| c.is_ascii_uppercase()) || !kind.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad("kind", kind, "must be an UpperCamelCase name such as `Deployment`"));
        }
        Ok(Gvk::new(group, version, kind))
    }
}

impl Serialize for Gvk {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Gvk {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_grouped_and_core_kinds() {
        let d: Gvk = "apps/v1.Deployment".parse().unwrap();
        assert_eq!(d, Gvk::new("apps", "v1", "Deployment"));
        assert_eq!(d.to_string(), "apps/v1.Deployment");
        let v: Gvk = "batch.volcano.sh/v1alpha1.Job".parse().unwrap();
        assert_eq!(v, Gvk::new("batch.volcano.sh", "v1alpha1", "Job"));
        assert_eq!(v.api_version(), "batch.volcano.sh/v1alpha1");
        let p: Gvk = "v1.Pod".parse().unwrap();
        assert!(p.is_core_pod());
        assert_eq!(p.to_string(), "v1.Pod");
    }

    #[test]
    fn rejects_malformed_keys_with_a_reason() {
        for bad in [
            "",
            "Deployment",
            "apps/v1",
            "apps/v1.",
            "/v1.Pod",
            "apps/V1.Deployment",
            "apps/v1.deployment",
            "Apps/v1.Deployment",
            "apps/v1.Deploy-ment",
            "apps/v1.Deployment.extra",
        ] {
            let err = bad.parse::<Gvk>().unwrap_err();
            assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn reads_the_gvk_of_an_object() {
        let obj = serde_json::json!({"apiVersion": "batch/v1", "kind": "Job"});
        assert_eq!(Gvk::of_object(&obj), Some(Gvk::new("batch", "v1", "Job")));
        let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod"});
        assert!(Gvk::of_object(&pod).unwrap().is_core_pod());
        assert_eq!(Gvk::of_object(&serde_json::json!({})), None);
    }
}
