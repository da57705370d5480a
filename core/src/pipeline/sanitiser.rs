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

    /// The fields of an object that `sanitise_object` may read or change, as paths of keys
    /// (`&["status"]`, `&["metadata", "annotations"]`): a field outside them and their parents
    /// reaches the next stage as it came. `None`, the default, says it may touch anything.
    fn touches(&self) -> Option<&[&[&str]]> {
        None
    }

    /// Fields that `sanitise_object` removes whatever they hold, its other changes not depending
    /// on them. With [`Sanitiser::touches`], this tells the ingest loop which changes cannot
    /// change what is recorded, and so need not be sanitised at all (see
    /// [`SanitiserChain::ignored`]).
    fn discards(&self) -> &[&[&str]] {
        &[]
    }
}

/// Fields of an object that the recorded form does not depend on: a change to them alone
/// records nothing. Top-level fields and fields of `metadata` only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IgnoredFields {
    pub top: Vec<String>,
    pub metadata: Vec<String>,
}

/// Whether one path lies inside the other (or they are the same).
fn overlaps(a: &[&str], b: &[&str]) -> bool {
    a.iter().zip(b).all(|(x, y)| x == y)
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
    ignored: IgnoredFields,
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
        let ignored = Self::ignored_by(&stages);
        Ok(SanitiserChain { stages, ignored })
    }

    /// A field is ignored when a stage discards it and every stage before that one says it
    /// touches nothing there: what reaches the discarding stage does not depend on the field,
    /// and nothing after it sees the field.
    fn ignored_by(stages: &[(&'static str, Box<dyn Sanitiser>)]) -> IgnoredFields {
        let mut ignored = IgnoredFields::default();
        for (k, (_, stage)) in stages.iter().enumerate() {
            for path in stage.discards() {
                let untouched_before =
                    stages[..k].iter().all(|(_, s)| s.touches().is_some_and(|t| t.iter().all(|p| !overlaps(p, path))));
                if !untouched_before {
                    continue;
                }
                match path {
                    [field] if !ignored.top.iter().any(|f| f == field) => ignored.top.push(field.to_string()),
                    ["metadata", field] if !ignored.metadata.iter().any(|f| f == field) => {
                        ignored.metadata.push(field.to_string())
                    }
                    _ => {}
                }
            }
        }
        ignored
    }

    /// The fields whose changes alone cannot change what this chain records.
    pub fn ignored(&self) -> &IgnoredFields {
        &self.ignored
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A stage that says what it touches and discards, and does nothing.
    struct Declares(Option<&'static [&'static [&'static str]]>, &'static [&'static [&'static str]]);

    impl Sanitiser for Declares {
        fn touches(&self) -> Option<&[&[&str]]> {
            self.0
        }

        fn discards(&self) -> &[&[&str]] {
            self.1
        }
    }

    fn ignored(stages: Vec<Declares>) -> IgnoredFields {
        let stages: Vec<(&'static str, Box<dyn Sanitiser>)> =
            stages.into_iter().map(|s| ("test", Box::new(s) as Box<dyn Sanitiser>)).collect();
        SanitiserChain::ignored_by(&stages)
    }

    const STATUS: &[&[&str]] = &[&["status"]];
    const MANAGED: &[&[&str]] = &[&["metadata", "managedFields"]];

    #[test]
    fn a_field_is_ignored_only_if_nothing_before_its_discarding_stage_may_touch_it() {
        let both = ignored(vec![Declares(Some(MANAGED), MANAGED), Declares(Some(STATUS), STATUS)]);
        assert_eq!(both, IgnoredFields { top: vec!["status".into()], metadata: vec!["managedFields".into()] });
        // A stage that may touch anything, first: it could copy status elsewhere.
        let unknown_first = ignored(vec![Declares(None, &[]), Declares(Some(STATUS), STATUS)]);
        assert_eq!(unknown_first, IgnoredFields::default());
        // After the discarding stage, it sees no status at all.
        let unknown_after = ignored(vec![Declares(Some(STATUS), STATUS), Declares(None, &[])]);
        assert_eq!(unknown_after.top, ["status"]);
        // A stage before that touches all of metadata may read managedFields.
        let metadata_first = ignored(vec![Declares(Some(&[&["metadata"]]), &[]), Declares(Some(MANAGED), MANAGED)]);
        assert_eq!(metadata_first, IgnoredFields::default());
        // Deeper paths are not used: the fingerprint sees two levels.
        let deep = ignored(vec![Declares(Some(&[&["spec", "x"]]), &[&["spec", "x"]])]);
        assert_eq!(deep, IgnoredFields::default());
    }
}
