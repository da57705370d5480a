//! The normalised tracer config: which kinds are tracked and where their pod templates are.
//!
//! This is the form after loading and validation (see the `sk-config` crate): every tracked kind
//! has its pod-template paths filled in, or none for a kind without a pod template (its object is
//! recorded whole, and its pods' lifecycles are keyed by each pod's own spec). It is also the
//! first element of a v1 trace file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::gvk::Gvk;
use crate::pod_template_path::PodTemplatePath;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TracerConfig {
    pub tracked_objects: BTreeMap<Gvk, TrackedObjectConfig>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TrackedObjectConfig {
    /// Empty for a kind without a pod template.
    pub pod_spec_template_paths: Vec<PodTemplatePath>,
    #[serde(default)]
    pub track_lifecycle: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skip_owned: bool,
}

/// The pod-template paths of the built-in kinds, used when a config names such a kind without a
/// path. `None` for kinds that have no built-in default.
pub fn default_pod_template_paths(gvk: &Gvk) -> Option<Vec<PodTemplatePath>> {
    let path = match (gvk.group.as_str(), gvk.version.as_str(), gvk.kind.as_str()) {
        ("apps", "v1", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") | ("batch", "v1", "Job") => {
            "/spec/template"
        }
        ("batch", "v1", "CronJob") => "/spec/jobTemplate/spec/template",
        ("", "v1", "Pod") => "",
        _ => return None,
    };
    PodTemplatePath::parse(path).ok().map(|p| vec![p])
}

impl TrackedObjectConfig {
    /// Whether the kind names pod templates, from which a simulator creates pods that hash as
    /// the recorded ones did; without one, a lifecycle's hash is its pod's own spec's.
    pub fn has_pod_template(&self) -> bool {
        !self.pod_spec_template_paths.is_empty()
    }
}

impl TracerConfig {
    pub fn get(&self, gvk: &Gvk) -> Option<&TrackedObjectConfig> {
        self.tracked_objects.get(gvk)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_kinds_have_default_paths() {
        let path = |s: &str| default_pod_template_paths(&s.parse().unwrap()).map(|p| p[0].to_string());
        assert_eq!(path("apps/v1.Deployment").as_deref(), Some("/spec/template"));
        assert_eq!(path("batch/v1.CronJob").as_deref(), Some("/spec/jobTemplate/spec/template"));
        assert_eq!(path("v1.Pod").as_deref(), Some(""));
        assert_eq!(path("batch.volcano.sh/v1alpha1.Job"), None);
    }

    #[test]
    fn serialises_with_the_documented_camel_case_keys() {
        let mut cfg = TracerConfig::default();
        cfg.tracked_objects.insert(
            "apps/v1.Deployment".parse().unwrap(),
            TrackedObjectConfig {
                pod_spec_template_paths: vec!["/spec/template".parse().unwrap()],
                track_lifecycle: true,
                skip_owned: false,
            },
        );
        let json = serde_json::to_value(&cfg).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"trackedObjects": {"apps/v1.Deployment": {
                "podSpecTemplatePaths": ["/spec/template"], "trackLifecycle": true}}})
        );
        let back: TracerConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back, cfg);
    }
}
