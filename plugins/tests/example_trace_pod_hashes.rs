//! The example trace's pod hashes are what the default pipeline computes from its templates: the
//! example documents the format as the tracer really writes it.

use sk_core::pipeline::{PodHasher, SanitiserChain};
use sk_core::trace::v1;

// Links the built-in plugins into this test binary.
use sk_plugins as _;

#[test]
fn example_pod_hashes_come_from_the_recorded_templates() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/traces/demo.json");
    let trace = v1::from_json(serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()).unwrap();
    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let none = serde_json::Map::new();
    let hasher = PodHasher {
        sanitisers: SanitiserChain::build(&names(&["metadata", "status", "node-name", "redact"]), &none).unwrap(),
        pod_hash_sanitisers: SanitiserChain::build(&names(&["pod-hash"]), &none).unwrap(),
    };
    for (owner, by_hash) in &trace.pod_lifecycles {
        let gvk = owner.gvk.as_ref().unwrap();
        let paths = &trace.config.tracked_objects[gvk].pod_spec_template_paths;
        let last = trace
            .events
            .iter()
            .flat_map(|e| &e.applied_objs)
            .rfind(|o| o.identity().is_some_and(|id| id.namespaced_name() == owner.name))
            .unwrap()
            .to_json()
            .unwrap();
        let mut expected: Vec<u64> =
            paths.iter().flat_map(|p| p.find(&last).unwrap()).map(|t| hasher.hash(t)).collect();
        expected.sort_unstable();
        assert_eq!(by_hash.keys().copied().collect::<Vec<_>>(), expected, "{}", owner.name);
    }
}
