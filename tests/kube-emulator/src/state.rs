//! The objects, their resource versions, and the history that watches replay.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{json, Map, Value};
use tokio::sync::broadcast;

use crate::kinds::KindSpec;
use crate::status::ApiError;

/// Watch events kept for re-watches; older ones are compacted away, and a watch from before them
/// gets 410 Gone as from a real apiserver. Enough for the benchmark's large scale (a million
/// changes) to be replayed with room to spare; what it holds is the changes' JSON.
const HISTORY: usize = 2_000_000;

/// One change as the history keeps it: the object as JSON, since the history holds every version
/// of every object, and a parsed `Value` takes several times the space of its JSON.
#[derive(Debug)]
pub struct Change {
    pub rv: u64,
    pub kind_key: String,
    pub event_type: &'static str,
    pub json: Bytes,
    /// Empty for a cluster-scoped object.
    pub namespace: String,
    /// The object before a MODIFIED or DELETED change: a watch with a selector turns a change that
    /// makes an object stop (or start) matching into DELETED (or ADDED), as the apiserver does.
    pub prev: Option<Bytes>,
}

impl Change {
    pub fn object(&self) -> Value {
        // The bytes were serialised from a Value by `record`.
        serde_json::from_slice(&self.json).unwrap_or_default()
    }

    pub fn prev_object(&self) -> Option<Value> {
        self.prev.as_ref().map(|p| serde_json::from_slice(p).unwrap_or_default())
    }
}

fn to_json(obj: &Value) -> Bytes {
    Bytes::from(serde_json::to_vec(obj).unwrap_or_default())
}

/// Objects as stored: the JSON their last change was recorded with, parsed when read. A parsed
/// `Value` takes ten times the space of its JSON (every map a B-tree node), and the benchmark's
/// large scale holds a quarter of a million objects; the next change's `prev` shares these bytes.
type Objects = BTreeMap<(String, String), Bytes>;

pub fn parsed(json: &Bytes) -> Arc<Value> {
    // The bytes were serialised from a Value by `record`.
    Arc::new(serde_json::from_slice(json).unwrap_or_default())
}

pub struct State {
    pub kinds: Vec<KindSpec>,
    objects: HashMap<String, Objects>,
    rv: u64,
    history: VecDeque<Arc<Change>>,
    /// Changes at or below this resource version are no longer in the history.
    compacted_rv: u64,
    tx: broadcast::Sender<Arc<Change>>,
    uids: u64,
    /// While set (a request with `dryRun=All`), writes are checked and answered but not stored.
    dry_run: bool,
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

fn meta(obj: &Value, field: &str) -> Option<String> {
    obj.get("metadata")?.get(field)?.as_str().map(str::to_string)
}

/// Whether two objects are equal but for server-managed metadata: a write that changes nothing
/// else is a no-op, with no new resource version and no event. Compared in place, without copies.
fn same_content(a: &Value, b: &Value) -> bool {
    const SERVER_SET: [&str; 3] = ["resourceVersion", "managedFields", "generation"];
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else { return a == b };
    let fields_equal = |x: &serde_json::Map<String, Value>, y: &serde_json::Map<String, Value>, skip: &[&str]| {
        let mine = |m: &serde_json::Map<String, Value>| m.keys().filter(|k| !skip.contains(&k.as_str())).count();
        mine(x) == mine(y) && x.iter().filter(|(k, _)| !skip.contains(&k.as_str())).all(|(k, v)| y.get(k) == Some(v))
    };
    if !fields_equal(a, b, &["metadata"]) {
        return false;
    }
    match (a.get("metadata").and_then(Value::as_object), b.get("metadata").and_then(Value::as_object)) {
        (Some(x), Some(y)) => fields_equal(x, y, &SERVER_SET),
        (x, y) => x == y,
    }
}

/// The `fieldsV1` form of a value: every field as `f:<name>`, list items that have a name as
/// `k:{"name":...}`, leaves as `{}`.
fn fields_v1(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out: Map<String, Value> = m.iter().map(|(k, x)| (format!("f:{k}"), fields_v1(x))).collect();
            if !out.is_empty() {
                out.insert(".".into(), json!({}));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Object(
            items
                .iter()
                .filter_map(|item| {
                    let key = item.get("name").or_else(|| item.get("type")).or_else(|| item.get("containerPort"))?;
                    Some((format!("k:{{\"name\":{key}}}"), fields_v1(item)))
                })
                .collect(),
        ),
        _ => json!({}),
    }
}

/// A write renews the time of its own manager's entry only, as the apiserver does: the entries of
/// managers that did not write now keep the times of their own last writes.
fn keep_unwritten_times(fields: &mut Value, current: &Value, written: Option<&str>) {
    let Some(before) = current.pointer("/metadata/managedFields").and_then(Value::as_array) else { return };
    let Some(entries) = fields.as_array_mut() else { return };
    let subresource = |e: &Value| e.get("subresource").and_then(Value::as_str).map(str::to_string);
    for entry in entries.iter_mut().filter(|e| subresource(e).as_deref() != written) {
        let same = |o: &&Value| subresource(o) == subresource(entry) && o.get("manager") == entry.get("manager");
        if let Some(time) = before.iter().find(same).and_then(|o| o.get("time")).cloned() {
            entry["time"] = time;
        }
    }
}

impl State {
    pub fn new(kinds: Vec<KindSpec>) -> Self {
        // Deep enough that a watcher keeps up with bulk writes (a benchmark's load); one that falls
        // further behind is closed and re-watches, as from a real apiserver.
        let (tx, _) = broadcast::channel(1 << 20);
        State {
            kinds,
            objects: HashMap::new(),
            rv: 1,
            history: VecDeque::new(),
            compacted_rv: 0,
            tx,
            uids: 0,
            dry_run: false,
        }
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn compacted_rv(&self) -> u64 {
        self.compacted_rv
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.tx.subscribe()
    }

    pub fn kind_by_plural(&self, group: &str, version: &str, plural: &str) -> Option<&KindSpec> {
        self.kinds.iter().find(|k| k.group == group && k.version == version && k.plural == plural)
    }

    pub fn kind_by_gvk(&self, api_version: &str, kind: &str) -> Option<KindSpec> {
        self.kinds.iter().find(|k| k.api_version() == api_version && k.kind == kind).cloned()
    }

    /// Changes after `rv`, or `None` if some of them were compacted away.
    pub fn history_since(&self, rv: u64) -> Option<Vec<Arc<Change>>> {
        if rv < self.compacted_rv {
            return None;
        }
        Some(self.history.iter().filter(|c| c.rv > rv).cloned().collect())
    }

    /// Forgets the history: the next watch from an older resource version gets 410 Gone.
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted_rv = self.rv;
    }

    pub fn list(&self, kind: &KindSpec, namespace: Option<&str>) -> Vec<Arc<Value>> {
        self.list_where(kind, namespace, |_| true)
    }

    /// The JSON of a kind's objects in (namespace, name) order, in one namespace or all, from just
    /// after `after`: every listing's one walk of the map.
    fn in_scope<'a>(
        &'a self,
        kind: &KindSpec,
        namespace: Option<&'a str>,
        after: Option<&(String, String)>,
    ) -> impl Iterator<Item = &'a Bytes> + 'a {
        use std::ops::Bound;
        let start = (namespace.unwrap_or_default().to_string(), String::new());
        let lower = match after {
            Some(a) if *a >= start => Bound::Excluded(a.clone()),
            _ => Bound::Included(start),
        };
        self.objects
            .get(&kind.key())
            .into_iter()
            .flat_map(move |objs| objs.range((lower.clone(), Bound::Unbounded)))
            .take_while(move |((ns, _), _)| namespace.is_none_or(|want| ns == want))
            .map(|(_, json)| json)
    }

    /// Objects of a kind from just after `after`, each parsed as the caller takes it: a page of a
    /// long list parses its page, not the list.
    pub fn list_after<'a>(
        &'a self,
        kind: &KindSpec,
        namespace: Option<&'a str>,
        after: Option<&(String, String)>,
    ) -> impl Iterator<Item = Arc<Value>> + 'a {
        self.in_scope(kind, namespace, after).map(parsed)
    }

    /// Objects of a kind as JSON, unparsed: shared bytes, for a caller that parses them one at a
    /// time after letting go of the state.
    pub fn list_json(&self, kind: &KindSpec, namespace: Option<&str>) -> Vec<Bytes> {
        self.in_scope(kind, namespace, None).cloned().collect()
    }

    /// Objects whose JSON passes `keep`, parsed: a test of the bytes spares parsing the others.
    pub fn list_where(
        &self,
        kind: &KindSpec,
        namespace: Option<&str>,
        keep: impl Fn(&[u8]) -> bool,
    ) -> Vec<Arc<Value>> {
        self.in_scope(kind, namespace, None).filter(|json| keep(json)).map(parsed).collect()
    }

    pub fn get(&self, kind: &KindSpec, namespace: &str, name: &str) -> Result<Arc<Value>, ApiError> {
        self.objects
            .get(&kind.key())
            .and_then(|o| o.get(&(namespace.to_string(), name.to_string())))
            .map(parsed)
            .ok_or_else(|| ApiError::not_found(format!("{}.{}", kind.plural, kind.group).trim_end_matches('.'), name))
    }

    fn stored_json(&self, kind: &KindSpec, namespace: &str, name: &str) -> Option<Bytes> {
        let objects = self.objects.get(&kind.key())?;
        objects.get(&(namespace.to_string(), name.to_string())).cloned()
    }

    pub fn count_of(&self, kind: &KindSpec) -> usize {
        self.objects.get(&kind.key()).map_or(0, BTreeMap::len)
    }

    pub fn count(&self) -> usize {
        self.objects.values().map(BTreeMap::len).sum()
    }

    /// Records a change; returns the JSON it holds of `object`, for the object's next change.
    fn record(&mut self, kind: &KindSpec, event_type: &'static str, object: &Value, prev: Option<Bytes>) -> Bytes {
        let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default().to_string();
        let json = to_json(object);
        let change =
            Arc::new(Change { rv: self.rv, kind_key: kind.key(), event_type, json: json.clone(), namespace, prev });
        self.history.push_back(change.clone());
        if self.history.len() > HISTORY {
            if let Some(old) = self.history.pop_front() {
                self.compacted_rv = old.rv;
            }
        }
        // No receivers is fine: nobody watches.
        let _ = self.tx.send(change);
        json
    }

    /// Runs `f` as a dry run: what it writes is answered as if stored, and nothing changes.
    pub fn dry_run<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let (rv, uids) = (self.rv, self.uids);
        self.dry_run = true;
        let out = f(self);
        self.dry_run = false;
        (self.rv, self.uids) = (rv, uids);
        out
    }

    fn next_uid(&mut self) -> String {
        self.uids += 1;
        let n = self.uids;
        format!("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", (n >> 16) as u32, n & 0xffff, (n >> 8) & 0xfff, n & 0xfff, n)
    }

    fn generated_name(&mut self, prefix: &str) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        self.uids += 1;
        let mut n = self.uids.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let suffix: String = (0..5)
            .map(|_| {
                let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
                n /= ALPHABET.len() as u64;
                c
            })
            .collect();
        format!("{prefix}{suffix}")
    }

    /// `metadata.managedFields` as the apiserver writes it: one entry for the manager of the
    /// object's metadata and spec, one for the status subresource's writer (the controllers, or
    /// the kubelet for pods), each naming every field it owns. On a real cluster this is often
    /// larger than the spec, and every write sends it again.
    fn managed_fields(kind: &KindSpec, obj: &Value, manager: &str) -> Value {
        let meta: Map<String, Value> = ["labels", "annotations", "ownerReferences"]
            .iter()
            .filter_map(|f| Some((format!("f:{f}"), fields_v1(obj.get("metadata")?.get(*f)?))))
            .collect();
        let mut owned = Map::new();
        owned.insert("f:metadata".into(), Value::Object(meta));
        if let Some(spec) = obj.get("spec") {
            owned.insert("f:spec".into(), fields_v1(spec));
        }
        let entry = |manager: &str, fields: Value, subresource: Option<&str>| {
            let mut e = json!({"manager": manager, "operation": "Update", "apiVersion": kind.api_version(),
                               "time": now_rfc3339(), "fieldsType": "FieldsV1", "fieldsV1": fields});
            if let Some(sub) = subresource {
                e["subresource"] = json!(sub);
            }
            e
        };
        let mut entries = vec![entry(manager, Value::Object(owned), None)];
        if let Some(status) = obj.get("status") {
            let writer = if kind.kind == "Pod" { "kubelet" } else { "kube-controller-manager" };
            entries.push(entry(writer, json!({"f:status": fields_v1(status)}), Some("status")));
        }
        Value::Array(entries)
    }

    pub fn create(
        &mut self,
        kind: &KindSpec,
        namespace: &str,
        mut obj: Value,
        manager: &str,
    ) -> Result<Arc<Value>, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body is not a JSON object"));
        }
        let name = match (meta(&obj, "name"), meta(&obj, "generateName")) {
            (Some(n), _) if !n.is_empty() => n,
            (_, Some(prefix)) => self.generated_name(&prefix),
            _ => return Err(ApiError::invalid(format!("{} is invalid: metadata.name: Required value", kind.kind))),
        };
        let ns = if kind.namespaced { namespace.to_string() } else { String::new() };
        if kind.namespaced && ns.is_empty() {
            return Err(ApiError::invalid("metadata.namespace: Required value"));
        }
        let key = (ns.clone(), name.clone());
        if self.objects.get(&kind.key()).is_some_and(|o| o.contains_key(&key)) {
            return Err(ApiError::new(409, "AlreadyExists", format!("{} \"{name}\" already exists", kind.plural)));
        }
        self.rv += 1;
        let uid = self.next_uid();
        let o = obj.as_object_mut().ok_or_else(|| ApiError::bad_request("not an object"))?;
        o.insert("apiVersion".into(), kind.api_version().into());
        o.insert("kind".into(), kind.kind.clone().into());
        let m = o.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
        if let Some(m) = m.as_object_mut() {
            m.insert("name".into(), name.into());
            if kind.namespaced {
                m.insert("namespace".into(), ns.into());
            }
            m.insert("uid".into(), uid.into());
            m.insert("resourceVersion".into(), self.rv.to_string().into());
            m.insert("generation".into(), 1.into());
            m.insert("creationTimestamp".into(), now_rfc3339().into());
        }
        let fields = Self::managed_fields(kind, &obj, manager);
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("managedFields".into(), fields);
        }
        let obj = Arc::new(obj);
        if self.dry_run {
            return Ok(obj);
        }
        let json = self.record(kind, "ADDED", &obj, None);
        self.objects.entry(kind.key()).or_default().insert(key, json);
        Ok(obj)
    }

    /// Replaces an object. `status_only` is the `/status` subresource: only the status changes.
    /// Otherwise the status is kept, as for kinds whose status is a subresource.
    pub fn update(
        &mut self,
        kind: &KindSpec,
        namespace: &str,
        name: &str,
        mut obj: Value,
        status_only: bool,
        manager: &str,
    ) -> Result<Arc<Value>, ApiError> {
        let ns = if kind.namespaced { namespace } else { "" };
        let current = self.get(kind, ns, name)?;
        if let Some(rv) = meta(&obj, "resourceVersion") {
            if rv != meta(&current, "resourceVersion").unwrap_or_default() {
                return Err(ApiError::new(
                    409,
                    "Conflict",
                    format!("Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again", kind.plural),
                ));
            }
        }
        if status_only {
            let status = obj.get("status").cloned();
            obj = (*current).clone();
            match status {
                Some(s) => obj["status"] = s,
                None => {
                    if let Some(o) = obj.as_object_mut() {
                        o.remove("status");
                    }
                }
            }
        } else if let Some(status) = current.get("status") {
            obj["status"] = status.clone();
        }
        let o = obj.as_object_mut().ok_or_else(|| ApiError::bad_request("the body is not a JSON object"))?;
        o.insert("apiVersion".into(), kind.api_version().into());
        o.insert("kind".into(), kind.kind.clone().into());
        let m = o.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
        if let (Some(m), Some(cur)) = (m.as_object_mut(), current.get("metadata")) {
            for f in ["name", "namespace", "uid", "creationTimestamp", "generation", "managedFields"] {
                match cur.get(f) {
                    Some(v) => m.insert(f.into(), v.clone()),
                    None => m.remove(f),
                };
            }
        }
        if same_content(&obj, &current) {
            return Ok(current);
        }
        self.rv += 1;
        let spec_changed = obj.get("spec") != current.get("spec");
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("resourceVersion".into(), self.rv.to_string().into());
            if spec_changed {
                let g = m.get("generation").and_then(Value::as_i64).unwrap_or(1);
                m.insert("generation".into(), (g + 1).into());
            }
        }
        // The metadata and spec stay with the manager that wrote them last; a status write
        // renews only the status entry.
        let spec_manager = if status_only {
            current.pointer("/metadata/managedFields/0/manager").and_then(Value::as_str).unwrap_or(manager).to_string()
        } else {
            manager.to_string()
        };
        let mut fields = Self::managed_fields(kind, &obj, &spec_manager);
        keep_unwritten_times(&mut fields, &current, if status_only { Some("status") } else { None });
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("managedFields".into(), fields);
        }
        let obj = Arc::new(obj);
        if self.dry_run {
            return Ok(obj);
        }
        let prev = self.stored_json(kind, ns, name);
        let json = self.record(kind, "MODIFIED", &obj, prev);
        self.objects.entry(kind.key()).or_default().insert((ns.to_string(), name.to_string()), json);
        Ok(obj)
    }

    pub fn delete(&mut self, kind: &KindSpec, namespace: &str, name: &str) -> Result<Arc<Value>, ApiError> {
        let ns = if kind.namespaced { namespace } else { "" };
        if self.dry_run {
            return self.get(kind, ns, name);
        }
        let removed = self
            .objects
            .get_mut(&kind.key())
            .and_then(|o| o.remove(&(ns.to_string(), name.to_string())))
            .ok_or_else(|| ApiError::not_found(&kind.plural, name))?;
        self.rv += 1;
        let mut obj = Arc::unwrap_or_clone(parsed(&removed));
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.insert("resourceVersion".into(), self.rv.to_string().into());
            // Pods are deleted gracefully: their last state carries when the deletion was asked
            // for, its grace cut to nothing by the kubelet's final delete. Other kinds go at once,
            // with no deletion timestamp.
            if kind.kind == "Pod" {
                m.entry("deletionTimestamp").or_insert_with(|| now_rfc3339().into());
                m.insert("deletionGracePeriodSeconds".into(), 0.into());
            }
        }
        self.record(kind, "DELETED", &obj, Some(removed));
        Ok(Arc::new(obj))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn a_write_renews_only_its_own_managers_time() {
        let current = json!({"metadata": {"managedFields": [
            {"manager": "kubectl", "time": "2024-05-01T10:00:00Z"},
            {"manager": "kubelet", "subresource": "status", "time": "2024-05-01T10:00:01Z"}]}});
        let fresh = || {
            json!([{"manager": "kubectl", "time": "2024-05-01T11:00:00Z"},
                   {"manager": "kubelet", "subresource": "status", "time": "2024-05-01T11:00:00Z"},
                   {"manager": "new", "subresource": "status", "time": "2024-05-01T11:00:00Z"}])
        };
        let mut spec_write = fresh();
        super::keep_unwritten_times(&mut spec_write, &current, None);
        let times = |f: &serde_json::Value| f.as_array().unwrap().iter().map(|e| e["time"].clone()).collect::<Vec<_>>();
        assert_eq!(
            times(&spec_write),
            [json!("2024-05-01T11:00:00Z"), json!("2024-05-01T10:00:01Z"), json!("2024-05-01T11:00:00Z")]
        );
        let mut status_write = fresh();
        super::keep_unwritten_times(&mut status_write, &current, Some("status"));
        assert_eq!(
            times(&status_write),
            [json!("2024-05-01T10:00:00Z"), json!("2024-05-01T11:00:00Z"), json!("2024-05-01T11:00:00Z")]
        );
    }

    #[test]
    fn same_content_ignores_server_set_metadata_only() {
        let a = json!({"metadata": {"name": "a", "resourceVersion": "1", "generation": 1}, "spec": {"x": 1}});
        let b = json!({"metadata": {"name": "a", "resourceVersion": "7", "managedFields": []}, "spec": {"x": 1}});
        assert!(super::same_content(&a, &b));
        let c = json!({"metadata": {"name": "a", "labels": {}}, "spec": {"x": 1}});
        assert!(!super::same_content(&a, &c));
        let d = json!({"metadata": {"name": "a"}, "spec": {"x": 2}});
        assert!(!super::same_content(&a, &d));
        let e = json!({"metadata": {"name": "a"}, "spec": {"x": 1}, "status": {}});
        assert!(!super::same_content(&a, &e));
    }
}
