//! Always on: leaves out objects owned by an object of a tracked kind (a CronJob's Jobs when
//! CronJobs are tracked, a Deployment's ReplicaSets), since the simulator recreates them from
//! their owner.

use serde_json::Value;
use sk_core::export::{BoxedFilter, FilterPlugin};
use sk_core::store::{ObjectFilter, StoredObject};
use sk_core::{Gvk, TracerConfig};

struct OwnedByTracked(TracerConfig);

impl ObjectFilter for OwnedByTracked {
    fn keep(&self, obj: &StoredObject) -> bool {
        let owners = obj.obj.metadata_view().owner_references;
        !owners.iter().any(|o| self.0.get(&Gvk::from_api_version(&o.api_version, &o.kind)).is_some())
    }
}

fn build(_: &Value, config: &TracerConfig) -> Result<BoxedFilter, String> {
    Ok(Box::new(OwnedByTracked(config.clone())))
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
    use crate::filters::test_support::stored;
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
        let job = |owner: Value| {
            stored(
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"namespace": "d", "name": "j", "ownerReferences": owner}}),
            )
        };
        assert!(!f.keep(&job(json!([{"apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly", "uid": "u"}]))));
        assert!(f.keep(&job(json!([{"apiVersion": "example.com/v1", "kind": "Workflow", "name": "w", "uid": "u"}]))));
        assert!(f.keep(&job(json!([]))));
    }
}
