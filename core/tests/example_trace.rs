//! The hand-made example trace under `examples/traces/`: `demo.json` is its readable source and
//! `demo.sktrace` must be exactly its v1 encoding. Set `SK_REGENERATE_EXAMPLES=1` to rewrite the
//! `.sktrace` after editing the JSON.

use std::path::PathBuf;

use sk_core::trace::{self, v1};
use sk_core::{stable_hash, Trace};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/traces")
}

fn from_source() -> Trace {
    let json = std::fs::read(examples().join("demo.json")).unwrap();
    v1::from_json(serde_json::from_slice(&json).unwrap()).unwrap()
}

#[test]
fn demo_sktrace_is_the_encoding_of_demo_json() {
    let encoded = v1::encode_to_vec(&from_source());
    let path = examples().join("demo.sktrace");
    if std::env::var_os("SK_REGENERATE_EXAMPLES").is_some() {
        std::fs::write(&path, &encoded).unwrap();
    }
    let committed = std::fs::read(&path).unwrap();
    assert!(committed == encoded, "{} is stale: rerun with SK_REGENERATE_EXAMPLES=1", path.display());
    let decoded = trace::decode(&committed).unwrap();
    assert_eq!(decoded, from_source());
    assert_eq!(
        v1::to_json(&decoded).unwrap(),
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(examples().join("demo.json")).unwrap()).unwrap()
    );
}

#[test]
fn demo_index_holds_the_stable_hash_of_each_last_version() {
    let trace = from_source();
    for (key, hash) in &trace.index {
        let last = trace
            .events
            .iter()
            .flat_map(|e| &e.applied_objs)
            .rfind(|o| o.identity().is_some_and(|id| id.namespaced_name() == key.name))
            .unwrap();
        assert_eq!(*hash, stable_hash(&last.to_json().unwrap()), "{}", key.name);
        assert!(key.gvk.is_some(), "the kind of {} is recovered from the events", key.name);
    }
}
