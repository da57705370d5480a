//! `export`: where local exports may go and which filters every export applies.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportConfig {
    /// Exports to `file://` URLs and plain paths are written under this directory only; without
    /// it, local exports are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_dir: Option<PathBuf>,
    /// Filters applied to every export, in the request's shape
    /// (e.g. `excluded_namespaces: [kube-system]`).
    #[serde(default)]
    pub filters: BTreeMap<String, serde_json::Value>,
}

impl ExportConfig {
    pub fn filters_map(&self) -> serde_json::Map<String, serde_json::Value> {
        self.filters.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}
