//! `labelSelector` and `fieldSelector` query parameters.

use std::collections::BTreeMap;

use serde_json::Value;
use sk_core::label_selector::{LabelSelector, LabelSelectorSpec};

use crate::status::ApiError;

#[derive(Default)]
pub struct Selectors {
    labels: Option<LabelSelector>,
    /// `(field, value, equal)`; only `metadata.name` and `metadata.namespace` are supported.
    fields: Vec<(String, String, bool)>,
}

impl Selectors {
    pub fn parse(label: Option<&str>, field: Option<&str>) -> Result<Self, ApiError> {
        let labels = match label.filter(|s| !s.is_empty()) {
            Some(s) => {
                let spec = LabelSelectorSpec::parse_kubectl(s)
                    .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
                Some(LabelSelector::new(&spec).map_err(|e| ApiError::bad_request(e.to_string()))?)
            }
            None => None,
        };
        let mut fields = Vec::new();
        for part in field.unwrap_or("").split(',').filter(|p| !p.is_empty()) {
            let (k, v, eq) = if let Some((k, v)) = part.split_once("!=") {
                (k, v, false)
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (k, v, true)
            } else {
                return Err(ApiError::bad_request(format!("invalid field selector: {part}")));
            };
            if !matches!(k, "metadata.name" | "metadata.namespace") {
                return Err(ApiError::bad_request(format!("field label not supported: {k}")));
            }
            fields.push((k.to_string(), v.to_string(), eq));
        }
        Ok(Selectors { labels, fields })
    }

    /// Whether every object matches without looking at it.
    pub fn is_empty(&self) -> bool {
        self.labels.is_none() && self.fields.is_empty()
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let meta = obj.get("metadata");
        let get = |f: &str| meta.and_then(|m| m.get(f)).and_then(Value::as_str).unwrap_or("");
        let fields_ok = self.fields.iter().all(|(k, v, eq)| {
            let actual = get(k.trim_start_matches("metadata."));
            (actual == v) == *eq
        });
        let labels_ok = self.labels.as_ref().is_none_or(|s| {
            let labels: BTreeMap<String, String> = meta
                .and_then(|m| m.get("labels"))
                .and_then(Value::as_object)
                .map(|l| l.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
                .unwrap_or_default();
            s.matches(&labels)
        });
        fields_ok && labels_ok
    }
}
