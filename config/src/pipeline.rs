//! `pipeline`: which sanitisers run, in which order, with which options.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ConfigError;

fn default_sanitisers() -> Vec<String> {
    ["metadata", "status", "node-name", "redact"].map(String::from).to_vec()
}

fn default_pod_hash() -> Vec<String> {
    vec!["pod-hash".to_string()]
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PipelineConfig {
    /// Applied, in order, to every recorded object and to its pod templates.
    #[serde(default = "default_sanitisers")]
    pub sanitisers: Vec<String>,
    /// Applied after `sanitisers` to a pod's template form before its hash is taken.
    #[serde(default = "default_pod_hash")]
    pub pod_hash_sanitisers: Vec<String>,
    /// Options by stage name, for stages that take them.
    #[serde(default)]
    pub options: BTreeMap<String, serde_json::Value>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            sanitisers: default_sanitisers(),
            pod_hash_sanitisers: default_pod_hash(),
            options: BTreeMap::new(),
        }
    }
}

impl PipelineConfig {
    pub(crate) fn validate(&self, source_name: &str) -> Result<(), ConfigError> {
        for (field, names) in [("sanitisers", &self.sanitisers), ("podHashSanitisers", &self.pod_hash_sanitisers)] {
            let invalid = |message: String| ConfigError::Invalid {
                source_name: source_name.into(),
                key: format!("pipeline.{field}"),
                message,
            };
            for (i, name) in names.iter().enumerate() {
                if name.trim().is_empty() {
                    return Err(invalid(format!("entry {i} is an empty stage name")));
                }
                if names[..i].contains(name) {
                    return Err(invalid(format!("`{name}` is listed twice")));
                }
            }
        }
        Ok(())
    }

    pub fn options_map(&self) -> serde_json::Map<String, serde_json::Value> {
        self.options.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}
