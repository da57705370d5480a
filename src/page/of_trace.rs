//! A trace file as the page shows it: every event's changes as marks, with every version kept
//! for the page to show and compare, since a page written to a file has no server to ask.

use sk_core::trace::ObjectIdentity;
use sk_core::Trace;

use super::rows::{Row, RowsBuilder};

/// The rows of a whole trace, and the span they cover: from the first event to the last moment
/// anything (an event or a pod's start or end) happened, plus one second so that it shows.
pub fn rows_of_trace(trace: &Trace) -> anyhow::Result<(Vec<Row>, i64, i64)> {
    let mut rows = RowsBuilder::new(true);
    for ev in &trace.events {
        for obj in &ev.applied_objs {
            let json =
                obj.to_json().map_err(|e| anyhow::anyhow!("an object at {} could not be decoded: {e}", ev.ts))?;
            let Some(id) = ObjectIdentity::of(&json) else { continue };
            rows.applied(ev.ts, &id, obj.metadata(), || Some(json));
        }
        for obj in &ev.deleted_objs {
            if let Some(id) = obj.identity() {
                rows.deleted(ev.ts, &id);
            }
        }
    }
    let start = trace.events.first().map_or(0, |e| e.ts);
    let last_lifecycle = trace
        .pod_lifecycles
        .values()
        .flat_map(|by_hash| by_hash.values().flatten())
        .map(|lc| lc.end_ts.unwrap_or(lc.start_ts))
        .max();
    let last = trace.events.last().map_or(start, |e| e.ts).max(last_lifecycle.unwrap_or(start));
    Ok((rows.finish(&trace.pod_lifecycles, |_| true), start, last + 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::rows::{Mark, Op};

    fn demo() -> Trace {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/traces/demo.json");
        sk_core::trace::v1::from_json(serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn every_object_is_a_row_with_its_versions_and_pods() {
        let trace = demo();
        let (rows, start, end) = rows_of_trace(&trace).unwrap();
        assert_eq!(start, trace.events[0].ts);
        assert!(end > trace.events.last().unwrap().ts);
        let names: Vec<_> = rows.iter().map(|r| format!("{} {}/{}", r.kind, r.namespace, r.name)).collect();
        assert!(names.contains(&"apps/v1.Deployment demo/web".to_string()), "{names:?}");
        let web = rows.iter().find(|r| r.name == "web").unwrap();
        assert_eq!(web.marks[0], Mark(start, Op::Create));
        assert_eq!(web.versions.as_ref().unwrap().len(), web.marks.len());
        assert!(!web.pods.is_empty(), "the demo's web owns pods");
        let total: usize = trace.events.iter().map(|e| e.applied_objs.len() + e.deleted_objs.len()).sum();
        assert_eq!(rows.iter().map(|r| r.marks.len()).sum::<usize>(), total);
    }
}
