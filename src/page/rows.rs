//! The page's rows: one per recorded object, with a mark per create, update and delete and the
//! lifecycles of the pods it owns. Built the same way from a trace file and from a window of the
//! live store, so that the page draws both alike.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use sk_core::trace::{MetadataRef, ObjectIdentity};
use sk_core::{PodLifecycle, TraceIdentity};

/// What happened to an object at a mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Op {
    #[serde(rename = "c")]
    Create,
    #[serde(rename = "u")]
    Update,
    #[serde(rename = "d")]
    Delete,
}

/// `[ts, op]`: short, since a large trace has a hundred thousand of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Mark(pub i64, pub Op);

/// `[pod hash in hex, start, end or null while it runs]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pod(pub String, pub i64, pub Option<i64>);

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// `apps/v1.Deployment`.
    pub kind: String,
    /// Empty for a cluster-scoped object.
    pub namespace: String,
    pub name: String,
    /// Those of its latest version seen.
    pub labels: BTreeMap<String, String>,
    /// Whether it existed before the first moment shown, without a mark saying when it appeared.
    pub alive_at_start: bool,
    pub marks: Vec<Mark>,
    pub pods: Vec<Pod>,
    /// For a page that holds the whole trace: each mark's version (`null` for a deletion).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versions: Option<Vec<Option<serde_json::Value>>>,
    #[serde(skip)]
    alive: bool,
}

/// Collects rows from changes given in time order.
pub struct RowsBuilder {
    rows: BTreeMap<ObjectIdentity, Row>,
    keep_versions: bool,
    /// Objects alive before the first moment shown that get a row only if they change.
    alive_before: HashSet<ObjectIdentity>,
}

fn labels_of(meta: MetadataRef<'_>) -> BTreeMap<String, String> {
    meta.labels().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

impl RowsBuilder {
    /// With `keep_versions`, every version's JSON is kept beside its mark.
    pub fn new(keep_versions: bool) -> Self {
        RowsBuilder { rows: BTreeMap::new(), keep_versions, alive_before: HashSet::new() }
    }

    fn row(&mut self, id: &ObjectIdentity) -> &mut Row {
        let keep = self.keep_versions;
        let alive = self.alive_before.contains(id);
        self.rows.entry(id.clone()).or_insert_with(|| Row {
            kind: id.gvk.to_string(),
            namespace: id.namespace.clone(),
            name: id.name.clone(),
            labels: BTreeMap::new(),
            alive_at_start: false,
            marks: Vec::new(),
            pods: Vec::new(),
            versions: keep.then(Vec::new),
            alive,
        })
    }

    /// An object that existed before the first moment shown.
    pub fn alive_at_start(&mut self, id: &ObjectIdentity, meta: MetadataRef<'_>) {
        let row = self.row(id);
        row.alive_at_start = true;
        row.alive = true;
        row.labels = labels_of(meta);
    }

    /// An object that existed before the first moment shown, given a row only if it changes.
    pub fn alive_before(&mut self, id: &ObjectIdentity) {
        self.alive_before.insert(id.clone());
    }

    /// A version recorded at `ts`: a create if the object was not alive, else an update.
    /// `version` is its JSON, kept when the builder keeps versions.
    pub fn applied(
        &mut self,
        ts: i64,
        id: &ObjectIdentity,
        meta: MetadataRef<'_>,
        version: impl FnOnce() -> Option<serde_json::Value>,
    ) {
        let row = self.row(id);
        let op = if row.alive { Op::Update } else { Op::Create };
        row.alive = true;
        row.labels = labels_of(meta);
        row.marks.push(Mark(ts, op));
        if let Some(versions) = &mut row.versions {
            versions.push(version());
        }
    }

    pub fn deleted(&mut self, ts: i64, id: &ObjectIdentity) {
        let row = self.row(id);
        row.alive = false;
        row.marks.push(Mark(ts, Op::Delete));
        if let Some(versions) = &mut row.versions {
            versions.push(None);
        }
    }

    /// The rows, ordered by kind, namespace and name, each with the lifecycles of its pods that
    /// `keep` accepts; an object alive before that did not change gets a row if it has such pods.
    /// An owner named without its kind (as v1 files name some) is matched by namespace and name.
    pub fn finish(
        mut self,
        lifecycles: &BTreeMap<TraceIdentity, BTreeMap<u64, Vec<PodLifecycle>>>,
        keep: impl Fn(&PodLifecycle) -> bool,
    ) -> Vec<Row> {
        let mut by_name: HashMap<String, Vec<ObjectIdentity>> = HashMap::new();
        for id in self.rows.keys().chain(self.alive_before.iter()) {
            by_name.entry(id.namespaced_name()).or_default().push(id.clone());
        }
        for (owner, by_hash) in lifecycles {
            let Some(candidates) = by_name.get(&owner.name) else { continue };
            let Some(id) = candidates.iter().find(|id| owner.gvk.as_ref().is_none_or(|g| *g == id.gvk)) else {
                continue;
            };
            let pods: Vec<Pod> = by_hash
                .iter()
                .flat_map(|(hash, lcs)| {
                    lcs.iter().filter(|lc| keep(lc)).map(move |lc| Pod(format!("{hash:016x}"), lc.start_ts, lc.end_ts))
                })
                .collect();
            if pods.is_empty() {
                continue;
            }
            let row = self.row(id);
            row.pods.extend(pods);
            row.pods.sort_by_key(|p| (p.1, p.2.unwrap_or(i64::MAX)));
        }
        self.rows.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sk_core::trace::EncodedObject;

    use super::*;

    fn obj(name: &str, image: &str) -> (ObjectIdentity, EncodedObject, serde_json::Value) {
        let v = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"namespace": "d", "name": name, "labels": {"app": name}},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}});
        (ObjectIdentity::of(&v).unwrap(), EncodedObject::from_json(&v), v)
    }

    #[test]
    fn marks_say_create_update_delete_and_pods_go_to_their_owner() {
        let mut b = RowsBuilder::new(true);
        let (id, enc, v) = obj("web", "nginx:1");
        b.applied(10, &id, enc.metadata(), || Some(v.clone()));
        let (_, enc2, v2) = obj("web", "nginx:2");
        b.applied(20, &id, enc2.metadata(), || Some(v2.clone()));
        b.deleted(30, &id);
        let (old, old_enc, _) = obj("old", "x");
        b.alive_at_start(&old, old_enc.metadata());
        b.applied(40, &old, old_enc.metadata(), || None);

        let owner = TraceIdentity::new(id.gvk.clone(), "d/web");
        let unknown_kind = TraceIdentity { gvk: None, name: "d/old".into() };
        let lifecycles = BTreeMap::from([
            (owner, BTreeMap::from([(0xab, vec![PodLifecycle { start_ts: 12, end_ts: Some(25) }])])),
            (
                unknown_kind,
                BTreeMap::from([(
                    1,
                    vec![PodLifecycle { start_ts: 1, end_ts: Some(2) }, PodLifecycle { start_ts: 3, end_ts: None }],
                )]),
            ),
        ]);
        let rows = b.finish(&lifecycles, |lc| lc.start_ts != 1);
        assert_eq!(rows.len(), 2);
        let (old, web) = (&rows[0], &rows[1]);
        assert_eq!((web.name.as_str(), web.kind.as_str()), ("web", "apps/v1.Deployment"));
        assert_eq!(web.marks, [Mark(10, Op::Create), Mark(20, Op::Update), Mark(30, Op::Delete)]);
        assert_eq!(web.pods, [Pod("00000000000000ab".into(), 12, Some(25))]);
        let versions = web.versions.as_ref().unwrap();
        assert_eq!(
            versions[1].as_ref().unwrap().pointer("/spec/template/spec/containers/0/image"),
            Some(&json!("nginx:2"))
        );
        assert_eq!(versions[2], None);
        assert!(old.alive_at_start);
        assert_eq!(old.marks, [Mark(40, Op::Update)], "alive before: its first mark is an update");
        assert_eq!(old.pods, [Pod("0000000000000001".into(), 3, None)], "kept by the caller's test only");
        assert_eq!(old.labels["app"], "old");
        let json = serde_json::to_value(web).unwrap();
        assert_eq!(json["marks"], json!([[10, "c"], [20, "u"], [30, "d"]]));
    }
}
