//! Export filters: plugins that decide which objects an export leaves out.

use serde_json::{Map, Value};

use crate::object_filter::{Candidate, ObjectFilter};
use crate::tracer_config::TracerConfig;

use super::ExportRequestError;

/// A filter ready to use in an export, shared by the export's threads.
pub type BoxedFilter = Box<dyn ObjectFilter + Send + Sync>;

/// The registration of an export filter: submit one with `inventory::submit!`.
pub struct FilterPlugin {
    /// The plugin's name, in kebab-case.
    pub name: &'static str,
    /// The key of the request's (and the config's) `filters` map that configures it, in
    /// snake_case as SimKube's API spells it; `None` for a filter that every export applies.
    pub request_key: Option<&'static str>,
    /// One line for `sk-tracer plugins`.
    pub describe: &'static str,
    /// Builds the filter from its options (`null` for filters without a key).
    pub build: fn(&Value, &TracerConfig) -> Result<BoxedFilter, String>,
}

inventory::collect!(FilterPlugin);

impl FilterPlugin {
    pub fn all() -> Vec<&'static FilterPlugin> {
        let mut all: Vec<_> = inventory::iter::<FilterPlugin>.into_iter().collect();
        all.sort_by_key(|p| p.name);
        all
    }
}

/// Keeps an object only if every filter keeps it.
#[derive(Default)]
pub struct AllOf(Vec<BoxedFilter>);

impl ObjectFilter for AllOf {
    fn keep(&self, obj: &Candidate<'_>) -> bool {
        self.0.iter().all(|f| f.keep(obj))
    }
}

impl AllOf {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Builds the filters an export applies: every filter without a key, plus those named by the
/// config's filters (applied to every export) and the request's.
pub fn build_filters(
    configured: &Map<String, Value>,
    requested: &Map<String, Value>,
    config: &TracerConfig,
) -> Result<AllOf, ExportRequestError> {
    let plugins = FilterPlugin::all();
    let known = || plugins.iter().filter_map(|p| p.request_key).collect::<Vec<_>>().join(", ");
    let mut filters = Vec::new();
    for p in plugins.iter().filter(|p| p.request_key.is_none()) {
        filters.push(
            (p.build)(&Value::Null, config).map_err(|e| ExportRequestError::Invalid(format!("{}: {e}", p.name)))?,
        );
    }
    for (key, options) in configured.iter().chain(requested) {
        let plugin = plugins
            .iter()
            .find(|p| p.request_key == Some(key.as_str()))
            .ok_or_else(|| ExportRequestError::Invalid(format!("unknown filter `{key}` (known: {})", known())))?;
        let filter =
            (plugin.build)(options, config).map_err(|e| ExportRequestError::Invalid(format!("filters.{key}: {e}")))?;
        filters.push(filter);
    }
    Ok(AllOf(filters))
}
