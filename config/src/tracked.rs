//! `trackedObjects`: normalising what the file says into the tracer's model.

use std::collections::BTreeMap;

use serde::Deserialize;
use sk_core::tracer_config::default_pod_template_paths;
use sk_core::{Gvk, PodTemplatePath, TracerConfig, TrackedObjectConfig};

use crate::ConfigError;

/// One tracked kind as written. An empty entry (`apps/v1.Deployment:`) is valid for built-in kinds.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawTrackedObject {
    pub pod_spec_template_path: Option<String>,
    pub pod_spec_template_paths: Option<Vec<String>>,
    #[serde(default)]
    pub track_lifecycle: bool,
    #[serde(default)]
    pub skip_owned: bool,
}

pub fn normalise(
    raw: BTreeMap<String, Option<RawTrackedObject>>,
    source_name: &str,
) -> Result<TracerConfig, ConfigError> {
    if raw.is_empty() {
        return Err(ConfigError::Whole {
            source_name: source_name.into(),
            message: "trackedObjects is empty: name at least one kind to trace, e.g. `apps/v1.Deployment: {}`".into(),
        });
    }
    let mut tracked = BTreeMap::new();
    for (key, entry) in raw {
        let invalid = |field: Option<&str>, message: String| ConfigError::Invalid {
            source_name: source_name.into(),
            key: crate::error::key_path(
                &[Some("trackedObjects"), Some(key.as_str()), field].into_iter().flatten().collect::<Vec<_>>(),
            ),
            message,
        };
        let gvk: Gvk = key.parse().map_err(|e: sk_core::gvk::GvkError| invalid(None, e.to_string()))?;
        let entry = entry.unwrap_or_default();
        let (field, written) = match (entry.pod_spec_template_path, entry.pod_spec_template_paths) {
            (Some(_), Some(_)) => {
                return Err(invalid(None, "give either podSpecTemplatePath or podSpecTemplatePaths, not both".into()))
            }
            (Some(one), None) => ("podSpecTemplatePath", Some(vec![one])),
            (None, Some(many)) => ("podSpecTemplatePaths", Some(many)),
            (None, None) => ("podSpecTemplatePath", None),
        };
        let paths = match written {
            Some(list) if list.is_empty() => return Err(invalid(Some(field), "the list of paths is empty".into())),
            Some(list) => list
                .iter()
                .map(|p| {
                    if p.is_empty() {
                        return Err(invalid(
                            Some(field),
                            "empty path (use `/spec/template`-style JSON pointers)".into(),
                        ));
                    }
                    PodTemplatePath::parse(p).map_err(|e| invalid(Some(field), e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => default_pod_template_paths(&gvk).ok_or_else(|| {
                invalid(
                    None,
                    format!("{gvk} is not a built-in kind, so it needs podSpecTemplatePath (e.g. /spec/template)"),
                )
            })?,
        };
        tracked.insert(
            gvk,
            TrackedObjectConfig {
                pod_spec_template_paths: paths,
                track_lifecycle: entry.track_lifecycle,
                skip_owned: entry.skip_owned,
            },
        );
    }
    Ok(TracerConfig { tracked_objects: tracked })
}
