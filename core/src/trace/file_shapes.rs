//! The shapes that trace files have taken, as every SimKube release and this tracer wrote them,
//! read into the one model.
//!
//! Writers differed in what they left out and how they spelled it:
//! - the config's pod-template path: `podSpecTemplatePath` (one string, the documented v1 form,
//!   `nil` where the writer had none) or `podSpecTemplatePaths` (a list, possibly `nil` or empty);
//!   SimKube's v2 config may leave both out, and its reader then applies built-in defaults;
//! - `trackLifecycle` is left out when false;
//! - a pod lifecycle is `{start_ts, end_ts}` (the documented v1 form) or SimKube's externally
//!   tagged `{"Running": start}`, `{"Finished": [start, end]}` or `"Empty"`;
//! - simkube-v2's index is `{gvk: {ns/name: hash}}`, and its lifecycle table is keyed by
//!   `[gvk, ns/name]`; the first version-2 writers used v1's flat `{ns/name: hash}` and `ns/name`
//!   keys instead.
//!
//! Anything else is still refused, with its location: a wrong type, an unknown field, a lifecycle
//! that is none of the above.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::{PodLifecycle, TraceEvent};
use crate::gvk::Gvk;
use crate::pod_template_path::PodTemplatePath;
use crate::tracer_config::{TracerConfig, TrackedObjectConfig};

/// One kind's entry in a trace file's config.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileTrackedObject {
    #[serde(default)]
    pod_spec_template_path: Option<PodTemplatePath>,
    #[serde(default)]
    pod_spec_template_paths: Option<Vec<PodTemplatePath>>,
    #[serde(default)]
    track_lifecycle: Option<bool>,
    #[serde(default)]
    skip_owned: Option<bool>,
}

/// The config as a trace file carries it, before missing paths are filled in.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct FileConfig {
    #[serde(default)]
    tracked_objects: BTreeMap<Gvk, FileTrackedObject>,
}

impl FileConfig {
    /// The config with every kind's paths: those the file gives (a non-empty list wins over the
    /// single path, as in SimKube's reader), else `defaults` for the kind, else none ("no path").
    pub(super) fn resolve(self, defaults: fn(&Gvk) -> Option<Vec<PodTemplatePath>>) -> TracerConfig {
        let tracked_objects = self
            .tracked_objects
            .into_iter()
            .map(|(gvk, entry)| {
                let paths = match (entry.pod_spec_template_paths, entry.pod_spec_template_path) {
                    (Some(paths), _) if !paths.is_empty() => paths,
                    (_, Some(path)) => vec![path],
                    _ => defaults(&gvk).unwrap_or_default(),
                };
                let cfg = TrackedObjectConfig {
                    pod_spec_template_paths: paths,
                    track_lifecycle: entry.track_lifecycle.unwrap_or(false),
                    skip_owned: entry.skip_owned.unwrap_or(false),
                };
                (gvk, cfg)
            })
            .collect();
        TracerConfig { tracked_objects }
    }
}

/// A pod lifecycle in any of the forms writers used. `None` for SimKube's `Empty`, a pod that
/// never started, which the model has no entry for.
pub(super) struct FileLifecycle(pub(super) Option<PodLifecycle>);

const LIFECYCLE_FORMS: &str =
    "a pod lifecycle: {start_ts, end_ts}, {\"Running\": start}, {\"Finished\": [start, end]} or \"Empty\"";

impl<'de> Deserialize<'de> for FileLifecycle {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LifecycleVisitor)
    }
}

struct LifecycleVisitor;

impl<'de> Visitor<'de> for LifecycleVisitor {
    type Value = FileLifecycle;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(LIFECYCLE_FORMS)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        match v {
            "Empty" => Ok(FileLifecycle(None)),
            other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some(first) = map.next_key::<String>()? else {
            return Err(de::Error::invalid_length(0, &self));
        };
        let lifecycle = match first.as_str() {
            "Running" => {
                let start: i64 = map.next_value()?;
                PodLifecycle { start_ts: start, end_ts: None }
            }
            "Finished" => {
                let (start, end): (i64, i64) = map.next_value()?;
                PodLifecycle { start_ts: start, end_ts: Some(end) }
            }
            "Empty" => {
                map.next_value::<de::IgnoredAny>()?;
                return only_entry(map, &self).map(|()| FileLifecycle(None));
            }
            "start_ts" | "end_ts" => return plain(first, map),
            other => return Err(de::Error::unknown_field(other, &["start_ts", "end_ts", "Running", "Finished"])),
        };
        only_entry(map, &self)?;
        Ok(FileLifecycle(Some(lifecycle)))
    }
}

/// An externally tagged enum has exactly one entry.
fn only_entry<'de, A: MapAccess<'de>>(mut map: A, expected: &dyn de::Expected) -> Result<(), A::Error> {
    match map.next_key::<de::IgnoredAny>()? {
        None => Ok(()),
        Some(_) => Err(de::Error::invalid_length(2, expected)),
    }
}

/// The documented v1 form, `{start_ts, end_ts}`, whose first key has been read.
fn plain<'de, A: MapAccess<'de>>(first: String, mut map: A) -> Result<FileLifecycle, A::Error> {
    let (mut start, mut end): (Option<i64>, Option<Option<i64>>) = (None, None);
    let mut key = Some(first);
    while let Some(k) = key {
        match k.as_str() {
            "start_ts" if start.is_none() => start = Some(map.next_value()?),
            "end_ts" if end.is_none() => end = Some(map.next_value()?),
            "start_ts" | "end_ts" => return Err(de::Error::custom(format_args!("duplicate field `{k}`"))),
            other => return Err(de::Error::unknown_field(other, &["start_ts", "end_ts"])),
        }
        key = map.next_key()?;
    }
    let start_ts = start.ok_or_else(|| de::Error::missing_field("start_ts"))?;
    Ok(FileLifecycle(Some(PodLifecycle { start_ts, end_ts: end.flatten() })))
}

/// Lifecycles by pod hash, with `Empty` entries left out.
pub(super) type FileLifecycles = BTreeMap<u64, Vec<FileLifecycle>>;

pub(super) fn lifecycles(by_hash: FileLifecycles) -> BTreeMap<u64, Vec<PodLifecycle>> {
    by_hash.into_iter().map(|(hash, lcs)| (hash, lcs.into_iter().filter_map(|lc| lc.0).collect())).collect()
}

/// An owner in simkube-v2's lifecycle table: `[gvk, ns/name]`, or `ns/name` as the first
/// version-2 writers keyed it.
pub(super) enum FileOwner {
    Kinded(String, String),
    Name(String),
}

impl<'de> Deserialize<'de> for FileOwner {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct OwnerVisitor;
        impl<'de> Visitor<'de> for OwnerVisitor {
            type Value = FileOwner;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an owner: [gvk, ns/name] or ns/name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FileOwner, E> {
                Ok(FileOwner::Name(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FileOwner, A::Error> {
                let gvk: String = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let name: String = seq.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                Ok(FileOwner::Kinded(gvk, name))
            }
        }
        d.deserialize_any(OwnerVisitor)
    }
}

// Ordered so that a file's entries land in a map; the order itself is not used.
impl PartialEq for FileOwner {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}
impl Eq for FileOwner {}
impl PartialOrd for FileOwner {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for FileOwner {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.parts().cmp(&other.parts())
    }
}

impl fmt::Display for FileOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileOwner::Kinded(gvk, name) => write!(f, "[{gvk}, {name}]"),
            FileOwner::Name(name) => f.write_str(name),
        }
    }
}

/// simkube-v2's lifecycle table. Its keys are arrays, which an error's location cannot show, so an
/// error in an owner's lifecycles names the owner in its message.
#[derive(Default)]
pub(super) struct FileLifecycleTable(pub(super) BTreeMap<FileOwner, FileLifecycles>);

impl<'de> Deserialize<'de> for FileLifecycleTable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TableVisitor;
        impl<'de> Visitor<'de> for TableVisitor {
            type Value = FileLifecycleTable;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map from owners to their lifecycles by pod hash")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FileLifecycleTable, A::Error> {
                let mut table = BTreeMap::new();
                while let Some(owner) = map.next_key::<FileOwner>()? {
                    let lifecycles: FileLifecycles =
                        map.next_value().map_err(|e| de::Error::custom(format_args!("owner {owner}: {e}")))?;
                    table.insert(owner, lifecycles);
                }
                Ok(FileLifecycleTable(table))
            }
        }
        d.deserialize_map(TableVisitor)
    }
}

impl FileOwner {
    fn parts(&self) -> (Option<&str>, &str) {
        match self {
            FileOwner::Kinded(gvk, name) => (Some(gvk), name),
            FileOwner::Name(name) => (None, name),
        }
    }
}

/// An entry of simkube-v2's index: a kind's `{ns/name: hash}`, or one object's hash where the
/// index is flat.
pub(super) enum FileIndexEntry {
    Kind(BTreeMap<String, u64>),
    Hash(u64),
}

impl<'de> Deserialize<'de> for FileIndexEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = FileIndexEntry;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an index entry: {ns/name: hash} under a kind, or a hash")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<FileIndexEntry, E> {
                Ok(FileIndexEntry::Hash(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FileIndexEntry, A::Error> {
                Deserialize::deserialize(de::value::MapAccessDeserializer::new(map)).map(FileIndexEntry::Kind)
            }
        }
        d.deserialize_any(EntryVisitor)
    }
}

/// For each namespaced name of a tracked kind in the events, its kind; `None` where two tracked
/// kinds share the name.
pub(super) fn kinds_by_name(config: &TracerConfig, events: &[TraceEvent]) -> BTreeMap<String, Option<Gvk>> {
    let mut kinds: BTreeMap<String, Option<Gvk>> = BTreeMap::new();
    for obj in events.iter().flat_map(|e| e.applied_objs.iter().chain(&e.deleted_objs)) {
        let Some(id) = obj.identity() else { continue };
        if config.get(&id.gvk).is_none() {
            continue;
        }
        kinds
            .entry(id.namespaced_name())
            .and_modify(|k| {
                if k.as_ref() != Some(&id.gvk) {
                    *k = None;
                }
            })
            .or_insert(Some(id.gvk));
    }
    kinds
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracer_config::default_pod_template_paths;
    use serde_json::json;

    fn config(v: serde_json::Value) -> Result<TracerConfig, String> {
        let bytes = rmp_serde::to_vec_named(&v).unwrap();
        rmp_serde::from_slice::<FileConfig>(&bytes)
            .map(|c| c.resolve(default_pod_template_paths))
            .map_err(|e| e.to_string())
    }

    fn paths(c: &TracerConfig, gvk: &str) -> Vec<String> {
        c.tracked_objects[&gvk.parse().unwrap()].pod_spec_template_paths.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn every_spelling_of_the_paths_resolves() {
        let c = config(json!({"trackedObjects": {
            "apps/v1.Deployment": {"podSpecTemplatePath": "/spec/template", "trackLifecycle": true},
            "apps/v1.StatefulSet": {"podSpecTemplatePaths": ["/spec/template"]},
            "apps/v1.DaemonSet": {},
            "batch/v1.Job": {"podSpecTemplatePaths": null, "podSpecTemplatePath": null},
            "batch/v1.CronJob": {"podSpecTemplatePaths": []},
            "batch.volcano.sh/v1alpha1.Job": {"podSpecTemplatePath": "/spec/tasks/*/template"},
            "example.com/v1.Thing": {"trackLifecycle": false},
            "example.com/v1.Both": {"podSpecTemplatePath": "/old", "podSpecTemplatePaths": ["/new"]},
        }}))
        .unwrap();
        assert_eq!(paths(&c, "apps/v1.Deployment"), ["/spec/template"]);
        assert!(c.tracked_objects[&"apps/v1.Deployment".parse().unwrap()].track_lifecycle);
        assert_eq!(paths(&c, "apps/v1.StatefulSet"), ["/spec/template"]);
        assert_eq!(paths(&c, "apps/v1.DaemonSet"), ["/spec/template"]);
        assert_eq!(paths(&c, "batch/v1.Job"), ["/spec/template"]);
        assert_eq!(paths(&c, "batch/v1.CronJob"), ["/spec/jobTemplate/spec/template"]);
        assert_eq!(paths(&c, "batch.volcano.sh/v1alpha1.Job"), ["/spec/tasks/*/template"]);
        assert!(paths(&c, "example.com/v1.Thing").is_empty(), "a custom kind without a path has none");
        assert_eq!(paths(&c, "example.com/v1.Both"), ["/new"]);
    }

    #[test]
    fn wrong_types_and_unknown_fields_are_still_refused() {
        let err = config(json!({"trackedObjects": {"apps/v1.Deployment": {"podSpecTemplatePaths": 5}}})).unwrap_err();
        assert!(err.contains("invalid type"), "{err}");
        let err = config(json!({"trackedObjects": {"apps/v1.Deployment": {"colour": 5}}})).unwrap_err();
        assert!(err.contains("colour"), "{err}");
        let err =
            config(json!({"trackedObjects": {"apps/v1.Deployment": {"podSpecTemplatePath": "spec"}}})).unwrap_err();
        assert!(err.contains("must start with `/`"), "{err}");
    }

    fn lifecycle(v: serde_json::Value) -> Result<Option<PodLifecycle>, String> {
        let bytes = rmp_serde::to_vec_named(&v).unwrap();
        rmp_serde::from_slice::<FileLifecycle>(&bytes).map(|l| l.0).map_err(|e| e.to_string())
    }

    #[test]
    fn every_form_of_a_lifecycle_reads() {
        let done = Some(PodLifecycle { start_ts: 5, end_ts: Some(9) });
        let running = Some(PodLifecycle { start_ts: 5, end_ts: None });
        assert_eq!(lifecycle(json!({"start_ts": 5, "end_ts": 9})), Ok(done));
        assert_eq!(lifecycle(json!({"end_ts": 9, "start_ts": 5})), Ok(done));
        assert_eq!(lifecycle(json!({"start_ts": 5, "end_ts": null})), Ok(running));
        assert_eq!(lifecycle(json!({"start_ts": 5})), Ok(running));
        assert_eq!(lifecycle(json!({"Finished": [5, 9]})), Ok(done));
        assert_eq!(lifecycle(json!({"Running": 5})), Ok(running));
        assert_eq!(lifecycle(json!("Empty")), Ok(None));
    }

    #[test]
    fn anything_else_is_not_a_lifecycle() {
        for bad in [
            json!({"Paused": 5}),
            json!("Stopped"),
            json!({"Running": 5, "Finished": [5, 9]}),
            json!({"Finished": [5]}),
            json!({"Running": "soon"}),
            json!({"end_ts": 9}),
            json!({"start_ts": 5, "start_ts2": 6}),
            json!({}),
            json!(7),
        ] {
            assert!(lifecycle(bad.clone()).is_err(), "{bad} was read as a lifecycle");
        }
    }

    #[test]
    fn owners_and_index_entries_of_both_generations() {
        let owners: BTreeMap<FileOwner, u8> = rmp_serde::from_slice(
            &rmp_serde::to_vec(&BTreeMap::from([(("apps/v1.Deployment", "demo/web"), 1)])).unwrap(),
        )
        .unwrap();
        assert!(owners.contains_key(&FileOwner::Kinded("apps/v1.Deployment".into(), "demo/web".into())));
        let owners: BTreeMap<FileOwner, u8> =
            rmp_serde::from_slice(&rmp_serde::to_vec(&BTreeMap::from([("demo/web", 1)])).unwrap()).unwrap();
        assert!(owners.contains_key(&FileOwner::Name("demo/web".into())));

        let nested: BTreeMap<String, FileIndexEntry> =
            rmp_serde::from_slice(&rmp_serde::to_vec(&json!({"apps/v1.Deployment": {"demo/web": 7}})).unwrap())
                .unwrap();
        assert!(matches!(&nested["apps/v1.Deployment"], FileIndexEntry::Kind(m) if m["demo/web"] == 7));
        let flat: BTreeMap<String, FileIndexEntry> =
            rmp_serde::from_slice(&rmp_serde::to_vec(&json!({"demo/web": 7})).unwrap()).unwrap();
        assert!(matches!(flat["demo/web"], FileIndexEntry::Hash(7)));
        assert!(rmp_serde::from_slice::<BTreeMap<String, FileIndexEntry>>(
            &rmp_serde::to_vec(&json!({"demo/web": "seven"})).unwrap()
        )
        .is_err());
    }
}
