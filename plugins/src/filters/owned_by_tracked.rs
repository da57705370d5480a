//! Always on: leaves out objects owned by an object of a tracked kind (a CronJob's Jobs when
//! CronJobs are tracked, a Deployment's ReplicaSets), since the simulator recreates them from
//! their owner.

use serde_json::Value;
use sk_core::export::{BoxedFilter, FilterPlugin};
use sk_core::export::{Candidate, ObjectFilter};
use sk_core::{Gvk, TracerConfig};

/// The tracked kinds: few, so a scan compares a handful of short strings, with no `Gvk` built
/// per owner reference.
struct OwnedByTracked(Vec<Gvk>);

impl ObjectFilter for OwnedByTracked {
    fn keep(&self, obj: &Candidate<'_>) -> bool {
        !obj.metadata().owner_kinds().any(|(api_version, kind)| {
            // As `Gvk::from_api_version` splits it.
            let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
            self.0.iter().any(|t| t.kind == kind && t.version == version && t.group == group)
        })
    }
}

fn build(_: &Value, config: &TracerConfig) -> Result<BoxedFilter, String> {
    Ok(Box::new(OwnedByTracked(config.tracked_objects.keys().cloned().collect())))
}

inventory::submit! {
    FilterPlugin {
        name: "owned-by-tracked",
        request_key: None,
        describe: "leaves out objects owned by an object of a tracked kind (the simulator recreates them)",
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::test_support::{candidate, stored};
    use serde_json::json;

    #[test]
    fn leaves_out_objects_whose_owner_kind_is_tracked() {
        let mut config = TracerConfig::default();
        for gvk in ["batch/v1.CronJob", "batch/v1.Job"] {
            let gvk: Gvk = gvk.parse().unwrap();
            let paths = sk_core::tracer_config::default_pod_template_paths(&gvk).unwrap();
            let cfg = sk_core::TrackedObjectConfig {
                pod_spec_template_paths: paths,
                track_lifecycle: true,
                skip_owned: false,
            };
            config.tracked_objects.insert(gvk, cfg);
        }
        let f = build(&Value::Null, &config).unwrap();
        let keeps = |owner: Value| {
            let job = stored(
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"namespace": "d", "name": "j", "ownerReferences": owner}}),
            );
            f.keep(&candidate(&job))
        };
        assert!(!keeps(json!([{"apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly", "uid": "u"}])));
        assert!(keeps(json!([{"apiVersion": "example.com/v1", "kind": "Workflow", "name": "w", "uid": "u"}])));
        assert!(keeps(json!([])));
        assert!(!keeps(
            json!([{"apiVersion": "example.com/v1", "kind": "Workflow"}, {"apiVersion": "batch/v1", "kind": "Job"}])
        ));
        assert!(keeps(json!([{"apiVersion": "batch/v2", "kind": "Job"}, {"apiVersion": "v1", "kind": "Job"}])));
    }
}
