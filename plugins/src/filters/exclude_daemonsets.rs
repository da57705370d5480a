//! `exclude_daemonsets: true`: leaves out DaemonSets (as SimKube's export API offers), whose pods
//! follow the nodes of the production cluster rather than the workload.

use serde_json::Value;
use sk_core::export::{BoxedFilter, FilterPlugin};
use sk_core::export::{Candidate, ObjectFilter};
use sk_core::TracerConfig;

struct ExcludeDaemonSets(bool);

impl ObjectFilter for ExcludeDaemonSets {
    fn keep(&self, obj: &Candidate<'_>) -> bool {
        !(self.0 && obj.id().gvk.kind == "DaemonSet" && obj.id().gvk.group == "apps")
    }
}

fn build(options: &Value, _: &TracerConfig) -> Result<BoxedFilter, String> {
    let on = options.as_bool().ok_or_else(|| format!("expected true or false, found {options}"))?;
    Ok(Box::new(ExcludeDaemonSets(on)))
}

inventory::submit! {
    FilterPlugin {
        name: "exclude-daemonsets",
        request_key: Some("exclude_daemonsets"),
        describe: "leaves out DaemonSets when set to true",
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filters::test_support::{candidate, stored};
    use serde_json::json;

    #[test]
    fn leaves_out_daemonsets_when_on() {
        let ds = stored(
            json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"namespace": "d", "name": "agent"}}),
        );
        let dep = stored(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": "d", "name": "web"}}),
        );
        let on = build(&json!(true), &TracerConfig::default()).unwrap();
        assert!(!on.keep(&candidate(&ds)) && on.keep(&candidate(&dep)));
        assert!(build(&json!(false), &TracerConfig::default()).unwrap().keep(&candidate(&ds)));
        assert!(build(&json!("yes"), &TracerConfig::default()).is_err());
    }
}
