//! The sanitiser stage: a plugin that removes from recorded objects what would make a trace lie
//! or leak (server-set noise, status, node placement, secrets), and what differs between a real pod
//! and the pod a simulator creates from the same template.

use serde_json::Value;

use crate::tracer_config::TrackedObjectConfig;

/// A sanitiser edits objects in place. Both hooks must be idempotent: templates are sanitised when
/// their object is recorded and again when a pod's hash is computed from its template form.
pub trait Sanitiser: Send + Sync {
    /// Cleans a whole object of a tracked kind (a Pod included) before it is recorded.
    fn sanitise_object(&self, _obj: &mut Value) {}

    /// Cleans one pod template, `{"metadata": {...}, "spec": {...}}`: one found at a configured
    /// pod-template path of a recorded object, or the template form of a running pod.
    fn sanitise_template(&self, _template: &mut Value) {}
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StageError {
    #[error("no pipeline stage is registered under the name `{name}` (registered: {registered})")]
    Unknown { name: String, registered: String },
    #[error("pipeline stage `{name}`: bad options: {message}")]
    BadOptions { name: String, message: String },
}

/// The registration of a sanitiser: submit one with `inventory::submit!` from the plugin's file.
pub struct SanitiserPlugin {
    /// The name configs use, in kebab-case.
    pub name: &'static str,
    /// One line for `sk-tracer plugins`.
    pub describe: &'static str,
    /// Builds the stage from its options (`null` when the config gives none).
    pub build: fn(&Value) -> Result<Box<dyn Sanitiser>, String>,
}

inventory::collect!(SanitiserPlugin);

impl SanitiserPlugin {
    /// Every registered sanitiser, sorted by name.
    pub fn all() -> Vec<&'static SanitiserPlugin> {
        let mut all: Vec<_> = inventory::iter::<SanitiserPlugin>.into_iter().collect();
        all.sort_by_key(|p| p.name);
        all
    }

    pub fn find(name: &str) -> Option<&'static SanitiserPlugin> {
        inventory::iter::<SanitiserPlugin>.into_iter().find(|p| p.name == name)
    }
}

/// Sanitisers in the configured order.
#[derive(Default)]
pub struct SanitiserChain {
    stages: Vec<(&'static str, Box<dyn Sanitiser>)>,
}

impl SanitiserChain {
    /// Builds the named stages in order; `options` gives each stage its options by name.
    pub fn build(names: &[String], options: &serde_json::Map<String, Value>) -> Result<Self, StageError> {
        let mut stages = Vec::with_capacity(names.len());
        for name in names {
            let plugin = SanitiserPlugin::find(name).ok_or_else(|| StageError::Unknown {
                name: name.clone(),
                registered: SanitiserPlugin::all().iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
            })?;
            let opts = options.get(name).unwrap_or(&Value::Null);
            let stage =
                (plugin.build)(opts).map_err(|message| StageError::BadOptions { name: name.clone(), message })?;
            stages.push((plugin.name, stage));
        }
        Ok(SanitiserChain { stages })
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.stages.iter().map(|(n, _)| *n).collect()
    }

    /// Cleans a tracked object and every pod template found at its configured paths. A path that
    /// does not fit the object (a `*` on a non-array) is reported and that path's templates are left
    /// as they are; the object is still recorded.
    pub fn sanitise_tracked(
        &self,
        obj: &mut Value,
        cfg: &TrackedObjectConfig,
    ) -> Result<(), crate::pod_template_path::PathError> {
        for (_, s) in &self.stages {
            s.sanitise_object(obj);
        }
        let mut first_error = None;
        for path in &cfg.pod_spec_template_paths {
            if let Err(e) = path.for_each_mut(obj, |t| self.sanitise_template(t)) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    pub fn sanitise_template(&self, template: &mut Value) {
        for (_, s) in &self.stages {
            s.sanitise_template(template);
        }
    }
}
