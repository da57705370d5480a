//! Windows of the live store as the page shows them, read from a snapshot (so ingest never waits
//! for the page), and one object's version beside the one before it.

use sk_core::store::{Snapshot, StoredObject};
use sk_core::trace::ObjectIdentity;

use super::rows::{Row, RowsBuilder};

/// The rows of `[start, end)`: objects alive at `start` (without a mark), and a mark per change
/// inside. With `since`, only what changed at or after it: rows with a mark or a pod that started
/// or ended since, each with only its marks since; a page that follows the tracer asks for this.
pub fn window_rows(snapshot: &Snapshot, start: i64, end: i64, since: Option<i64>) -> Vec<Row> {
    let mut rows = RowsBuilder::new(false);
    // The state at `start`: the base with the changes before it laid over.
    let mut alive: std::collections::HashMap<&ObjectIdentity, &StoredObject> =
        snapshot.base.iter().map(|(id, obj)| (&**id, obj)).collect();
    let cut = since.map_or(start, |s| s.max(start));
    let mut events = snapshot.events().take_while(|ev| ev.ts < end).peekable();
    while let Some(ev) = events.next_if(|ev| ev.ts < cut) {
        for obj in &ev.applied {
            alive.insert(&obj.id, obj);
        }
        for id in &ev.deleted {
            alive.remove(&**id);
        }
    }
    for (id, obj) in alive {
        match since {
            None => rows.alive_at_start(id, obj.metadata()),
            // Following: only whether a later change is a create or an update.
            Some(_) => rows.alive_before(id),
        }
    }
    for ev in events {
        for obj in &ev.applied {
            rows.applied(ev.ts, &obj.id, obj.metadata(), || None);
        }
        for id in &ev.deleted {
            rows.deleted(ev.ts, id);
        }
    }
    let since = since.unwrap_or(i64::MIN);
    let touched = |lc: &sk_core::PodLifecycle| {
        lc.start_ts < end
            && lc.end_ts.is_none_or(|e| e >= start)
            && (since == i64::MIN || lc.start_ts >= since || lc.end_ts.is_some_and(|e| e >= since))
    };
    let mut rows = rows.finish(&snapshot.lifecycles(), touched);
    if since != i64::MIN {
        rows.retain(|r| !r.marks.is_empty() || !r.pods.is_empty());
    }
    rows
}

/// One version of an object and the one before it, as the page's detail shows them.
#[derive(Debug, PartialEq, serde::Serialize)]
pub struct VersionPair {
    /// When the version was recorded (the retained history's start for the base state).
    pub ts: i64,
    /// `null` when the object was deleted at `ts`.
    pub object: Option<serde_json::Value>,
    pub previous_ts: Option<i64>,
    pub previous: Option<serde_json::Value>,
}

/// The object's last change at or before `ts`, and the version before that change; `None` when
/// the snapshot holds nothing of it by then.
pub fn version_at(snapshot: &Snapshot, id: &ObjectIdentity, ts: i64) -> Option<VersionPair> {
    let decode = |o: &StoredObject| o.obj.to_json().ok();
    let mut current: Option<(i64, Option<&StoredObject>)> =
        snapshot.base.get(id).map(|o| (snapshot.base_ts.unwrap_or(ts), Some(o)));
    let mut previous: Option<(i64, Option<&StoredObject>)> = None;
    for ev in snapshot.events().take_while(|ev| ev.ts <= ts) {
        let change = if let Some(obj) = ev.applied.iter().rev().find(|o| *o.id == *id) {
            Some(obj)
        } else if ev.deleted.iter().any(|d| **d == *id) {
            None
        } else {
            continue;
        };
        if current.is_some_and(|(at, _)| at != ev.ts) {
            previous = current;
        }
        current = Some((ev.ts, change));
    }
    let (ts, object) = current?;
    let previous = previous.and_then(|(at, o)| Some((at, o?)));
    Some(VersionPair {
        ts,
        object: object.and_then(decode),
        previous_ts: previous.map(|(at, _)| at),
        previous: previous.and_then(|(_, o)| decode(o)),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sk_core::store::Store;
    use sk_core::trace::EncodedObject;
    use sk_core::{PodLifecycle, TraceIdentity};

    use super::*;
    use crate::page::rows::{Mark, Op, Pod};

    fn put(store: &Store, ts: i64, name: &str, image: &str) -> ObjectIdentity {
        let v = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": "d", "name": name},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}});
        let id = ObjectIdentity::of(&v).unwrap();
        store.apply(ts, id.clone(), EncodedObject::from_json(&v), sk_core::stable_hash(&v));
        id
    }

    #[test]
    fn a_window_shows_what_was_alive_and_marks_what_changed_inside() {
        let store = Store::new();
        let old = put(&store, 100, "old", "a");
        let web = put(&store, 110, "web", "nginx:1");
        put(&store, 120, "web", "nginx:2");
        store.delete(130, &old);
        put(&store, 140, "late", "x");
        let owner = TraceIdentity::new(web.gvk.clone(), "d/web");
        store.record_lifecycle("p1", owner.clone(), 7, PodLifecycle { start_ts: 111, end_ts: Some(121) });
        store.record_lifecycle("p2", owner, 8, PodLifecycle { start_ts: 122, end_ts: None });
        let snap = store.snapshot();

        let rows = window_rows(&snap, 115, 135, None);
        let names: Vec<_> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["old", "web"], "`late` comes after the window");
        assert!(rows.iter().all(|r| r.alive_at_start));
        assert_eq!(rows[0].marks, [Mark(130, Op::Delete)]);
        assert_eq!(rows[1].marks, [Mark(120, Op::Update)]);
        assert_eq!(rows[1].pods.len(), 2);

        let since = window_rows(&snap, 100, 200, Some(125));
        let names: Vec<_> = since.iter().map(|r| (r.name.as_str(), r.marks.clone())).collect();
        assert_eq!(names, [("late", vec![Mark(140, Op::Create)]), ("old", vec![Mark(130, Op::Delete)])]);
        let only_pods = window_rows(&snap, 100, 200, Some(122));
        let web_row = only_pods.iter().find(|r| r.name == "web").unwrap();
        assert_eq!(web_row.pods, [Pod(format!("{:016x}", 8), 122, None)], "the pod that started since");
    }

    #[test]
    fn a_version_comes_with_the_one_before() {
        let store = Store::new();
        let web = put(&store, 110, "web", "nginx:1");
        put(&store, 120, "web", "nginx:2");
        store.delete(130, &web);
        let snap = store.snapshot();
        let image = |v: &Option<serde_json::Value>| {
            v.as_ref().map(|v| v["spec"]["template"]["spec"]["containers"][0]["image"].clone())
        };
        let at = version_at(&snap, &web, 125).unwrap();
        assert_eq!((at.ts, at.previous_ts), (120, Some(110)));
        assert_eq!((image(&at.object), image(&at.previous)), (Some(json!("nginx:2")), Some(json!("nginx:1"))));
        let deleted = version_at(&snap, &web, 130).unwrap();
        assert_eq!((deleted.ts, deleted.object, deleted.previous_ts), (130, None, Some(120)));
        let first = version_at(&snap, &web, 110).unwrap();
        assert_eq!((first.previous_ts, first.previous), (None, None));
        assert_eq!(version_at(&snap, &web, 100), None);
    }
}
