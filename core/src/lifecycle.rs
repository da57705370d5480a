//! Pod lifecycles from pod status: when the pod's first container started and when its last one
//! finished.

use serde_json::Value;

use crate::trace::PodLifecycle;

fn parse_ts(v: Option<&Value>) -> Option<i64> {
    let s = v?.as_str()?;
    let t = humantime::parse_rfc3339_weak(s).ok()?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    i64::try_from(secs).ok()
}

fn statuses<'a>(pod: &'a Value, field: &str) -> impl Iterator<Item = &'a Value> {
    pod.pointer(&format!("/status/{field}")).and_then(Value::as_array).into_iter().flatten()
}

/// The lifecycle a pod's status shows: start is the earliest container start (init containers and
/// earlier, restarted runs included); end is the latest container finish once the pod is done.
/// `None` while no container has started.
///
/// A pod is done when every (non-init) container has terminated and none will restart: its phase
/// is Succeeded or Failed, or its restartPolicy is Never. A container that crashed and is about to
/// be restarted under `restartPolicy: Always` is not an end.
pub fn observed_lifecycle(pod: &Value) -> Option<PodLifecycle> {
    let all = || statuses(pod, "initContainerStatuses").chain(statuses(pod, "containerStatuses"));
    let start = all()
        .flat_map(|cs| {
            [
                cs.pointer("/state/running/startedAt"),
                cs.pointer("/state/terminated/startedAt"),
                cs.pointer("/lastState/terminated/startedAt"),
            ]
        })
        .filter_map(parse_ts)
        .min()?;

    let containers: Vec<&Value> = statuses(pod, "containerStatuses").collect();
    let phase = pod.pointer("/status/phase").and_then(Value::as_str);
    let never_restarts = pod.pointer("/spec/restartPolicy").and_then(Value::as_str) == Some("Never");
    let all_terminated =
        !containers.is_empty() && containers.iter().all(|cs| cs.pointer("/state/terminated").is_some());
    let done = all_terminated && (matches!(phase, Some("Succeeded" | "Failed")) || never_restarts);
    let end = if done {
        all().filter_map(|cs| parse_ts(cs.pointer("/state/terminated/finishedAt"))).max().map(|end| end.max(start))
    } else {
        None
    };
    Some(PodLifecycle { start_ts: start, end_ts: end })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(phase: &str, restart: &str, init: Value, containers: Value) -> Value {
        json!({"spec": {"restartPolicy": restart},
               "status": {"phase": phase, "initContainerStatuses": init, "containerStatuses": containers}})
    }

    const T0: i64 = 1_764_000_000; // 2025-11-24T16:00:00Z

    #[test]
    fn pending_pod_has_no_lifecycle() {
        let p = pod(
            "Pending",
            "Always",
            json!([]),
            json!([{"name": "c", "state": {"waiting": {"reason": "ContainerCreating"}}}]),
        );
        assert_eq!(observed_lifecycle(&p), None);
        assert_eq!(observed_lifecycle(&json!({"metadata": {"name": "x"}})), None);
    }

    #[test]
    fn running_pod_starts_at_its_earliest_container_init_included() {
        let p = pod(
            "Running",
            "Always",
            json!([{"name": "init", "state": {"terminated": {"startedAt": "2025-11-24T16:00:00Z", "finishedAt": "2025-11-24T16:00:03Z"}}}]),
            json!([{"name": "a", "state": {"running": {"startedAt": "2025-11-24T16:00:05Z"}}},
                   {"name": "b", "state": {"running": {"startedAt": "2025-11-24T16:00:04Z"}}}]),
        );
        assert_eq!(observed_lifecycle(&p), Some(PodLifecycle { start_ts: T0, end_ts: None }));
    }

    #[test]
    fn finished_pod_ends_at_its_latest_container_finish() {
        let p = pod(
            "Succeeded",
            "OnFailure",
            json!([]),
            json!([{"name": "a", "state": {"terminated": {"startedAt": "2025-11-24T16:00:10Z", "finishedAt": "2025-11-24T16:01:00Z"}}},
                   {"name": "b", "state": {"terminated": {"startedAt": "2025-11-24T16:00:11Z", "finishedAt": "2025-11-24T16:02:00Z"}}}]),
        );
        assert_eq!(observed_lifecycle(&p), Some(PodLifecycle { start_ts: T0 + 10, end_ts: Some(T0 + 120) }));
    }

    #[test]
    fn a_crash_before_a_restart_is_not_an_end() {
        let crashed = json!([{"name": "a", "restartCount": 1,
            "state": {"terminated": {"startedAt": "2025-11-24T16:00:30Z", "finishedAt": "2025-11-24T16:00:40Z"}},
            "lastState": {"terminated": {"startedAt": "2025-11-24T16:00:00Z", "finishedAt": "2025-11-24T16:00:20Z"}}}]);
        let p = pod("Running", "Always", json!([]), crashed.clone());
        assert_eq!(observed_lifecycle(&p), Some(PodLifecycle { start_ts: T0, end_ts: None }));
        // With restartPolicy Never the same status is final even before the phase is updated.
        let p = pod("Running", "Never", json!([]), crashed);
        assert_eq!(observed_lifecycle(&p), Some(PodLifecycle { start_ts: T0, end_ts: Some(T0 + 40) }));
    }

    #[test]
    fn values_only_move_forward() {
        let first = PodLifecycle { start_ts: T0, end_ts: None };
        let restarted = PodLifecycle { start_ts: T0 + 50, end_ts: None };
        assert_eq!(first.advanced(restarted), first);
        let ended = first.advanced(PodLifecycle { start_ts: T0 + 50, end_ts: Some(T0 + 90) });
        assert_eq!(ended, PodLifecycle { start_ts: T0, end_ts: Some(T0 + 90) });
        assert_eq!(ended.advanced(PodLifecycle { start_ts: T0, end_ts: None }), ended);
        assert_eq!(ended.advanced(PodLifecycle { start_ts: T0, end_ts: Some(T0 + 80) }), ended);
    }

    #[test]
    fn unparseable_timestamps_are_ignored() {
        let p = pod(
            "Running",
            "Always",
            json!([]),
            json!([{"name": "a", "state": {"running": {"startedAt": "yesterday"}}}]),
        );
        assert_eq!(observed_lifecycle(&p), None);
    }
}
