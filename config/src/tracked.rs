//! `trackedObjects`: normalising what the file says into the tracer's model.

use std::collections::BTreeMap;

use serde::Deserialize;
use sk_core::gvk::GvkError;
use sk_core::tracer_config::default_pod_template_paths;
use sk_core::{Gvk, PodTemplatePath, TracerConfig, TrackedObjectConfig};

use crate::error::quote_key;
use crate::ConfigError;

/// One tracked kind as written. An empty entry (`apps/v1.Deployment:` or `{}`) takes a built-in
/// kind's pod template, and declares any other kind to have none.
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

/// Where an error is: the kind's key and, below it, a field and maybe a list index.
struct At<'a> {
    source_name: &'a str,
    key: &'a str,
}

impl At<'_> {
    fn err(&self, field: Option<&str>, message: String) -> ConfigError {
        let mut key = format!("trackedObjects.{}", quote_key(self.key));
        if let Some(field) = field {
            key.push('.');
            key.push_str(field);
        }
        ConfigError::Invalid { source_name: self.source_name.into(), key, message }
    }
}

pub fn normalise(
    raw: Option<BTreeMap<String, Option<RawTrackedObject>>>,
    source_name: &str,
) -> Result<TracerConfig, ConfigError> {
    let raw = raw.unwrap_or_default();
    if raw.is_empty() {
        return Err(ConfigError::Invalid {
            source_name: source_name.into(),
            key: "trackedObjects".into(),
            message: "no kinds to trace: name at least one, e.g. `apps/v1.Deployment: {}`".into(),
        });
    }
    let mut tracked = BTreeMap::new();
    for (key, entry) in raw {
        let at = At { source_name, key: &key };
        let gvk: Gvk = key.parse().map_err(|e: GvkError| at.err(None, e.to_string()))?;
        let entry = entry.unwrap_or_default();
        let paths = match (entry.pod_spec_template_path, entry.pod_spec_template_paths) {
            (Some(_), Some(_)) => {
                return Err(at.err(None, "give either podSpecTemplatePath or podSpecTemplatePaths, not both".into()))
            }
            (Some(one), None) => vec![parse_path(&gvk, &one, &at, "podSpecTemplatePath".into())?],
            (None, Some(many)) => parse_paths(&gvk, &many, &at)?,
            // A kind without a pod template (a Spark application, whose operator builds its pods
            // from fields of its own) is recorded whole; its pods are keyed by their own specs.
            (None, None) => default_pod_template_paths(&gvk).unwrap_or_default(),
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

fn parse_paths(gvk: &Gvk, list: &[String], at: &At) -> Result<Vec<PodTemplatePath>, ConfigError> {
    // An empty list is how the normalised config (and a trace's) says a custom kind has no pod
    // template; for a built-in kind it can only be a mistake.
    if list.is_empty() {
        if default_pod_template_paths(gvk).is_none() {
            return Ok(Vec::new());
        }
        return Err(at.err(
            Some("podSpecTemplatePaths"),
            format!("the list of paths is empty: leave the key out for {gvk}'s built-in path"),
        ));
    }
    let mut paths: Vec<PodTemplatePath> = Vec::with_capacity(list.len());
    for (i, text) in list.iter().enumerate() {
        let field = format!("podSpecTemplatePaths[{i}]");
        let path = parse_path(gvk, text, at, field.clone())?;
        if paths.contains(&path) {
            return Err(at.err(Some(&field), format!("`{text}` is listed twice")));
        }
        paths.push(path);
    }
    Ok(paths)
}

fn parse_path(gvk: &Gvk, text: &str, at: &At, field: String) -> Result<PodTemplatePath, ConfigError> {
    // The empty pointer is the whole object: right for a Pod (and what the normalised config
    // prints for it), a mistake for anything else.
    if text.is_empty() && !gvk.is_core_pod() {
        return Err(at.err(
            Some(&field),
            "empty path: only a Pod is its own pod template; give the JSON pointer to the template, e.g. \
             /spec/template"
                .into(),
        ));
    }
    PodTemplatePath::parse(text).map_err(|e| at.err(Some(&field), e.to_string()))
}
