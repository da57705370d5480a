//! `export`: where local exports may go, which filters every export applies, the object stores'
//! settings, and each exporter's own section (`export.<exporter name>`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportConfig {
    /// Exports to `file://` URLs and plain paths are written under this directory only; without
    /// it, local exports are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_dir: Option<PathBuf>,
    /// Filters applied to every export, in the request's shape
    /// (e.g. `excluded_namespaces: [kube-system]`).
    #[serde(default)]
    pub filters: BTreeMap<String, serde_json::Value>,
    /// An S3-compatible endpoint (e.g. `http://minio.storage:9000`); plain HTTP is allowed for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_endpoint: Option<String>,
    /// Per-request timeout for object stores; retries stop after it too.
    #[serde(default = "default_request_timeout", with = "crate::duration")]
    pub request_timeout: std::time::Duration,
    /// Object-store settings by `object_store`'s key names (`aws_region`, `google_service_account`,
    /// `azure_storage_account_name`...), over the environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub object_store: BTreeMap<String, String>,
    /// Every other key: an exporter's own options, under the exporter's name. Which exporters
    /// exist is known only once plugins are linked, so the names and options are checked where
    /// the exporters are built (`check-config` and `run` alike), not here.
    #[serde(flatten)]
    pub exporters: BTreeMap<String, serde_json::Value>,
}

fn default_request_timeout() -> std::time::Duration {
    std::time::Duration::from_secs(60)
}

impl ExportConfig {
    pub fn filters_map(&self) -> serde_json::Map<String, serde_json::Value> {
        self.filters.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

impl Default for ExportConfig {
    fn default() -> Self {
        ExportConfig {
            local_dir: None,
            filters: BTreeMap::new(),
            s3_endpoint: None,
            request_timeout: default_request_timeout(),
            object_store: BTreeMap::new(),
            exporters: BTreeMap::new(),
        }
    }
}
