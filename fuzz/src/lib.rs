//! The fuzz targets' bodies: every input sk-tracer parses from outside (trace files, config files,
//! pod-template paths, export requests), each fed arbitrary bytes. A target may return errors; it
//! may not panic, hang or allocate without bound. The same bodies run on stable as a smoke test
//! over the corpus (`tests/fuzz_smoke.rs`).

use std::sync::OnceLock;

use serde_json::{json, Value};
use sk_core::export::{build_filters, export, ExportRequest, TraceFormat};
use sk_core::store::Store;
use sk_core::trace::{decode_any, EncodedObject, ObjectIdentity};
use sk_core::{PodTemplatePath, TracerConfig, TrackedObjectConfig};

// Links the built-in filters and sanitisers, as the binary does.
use sk_plugins as _;

/// A trace file: decoding either format must fail cleanly or give a trace whose encoding decodes
/// and encodes to the same bytes. A v1 trace decodes back to itself; a simkube-v2 one may not, as
/// its encoder writes SimKube's own pod-template paths for built-in kinds.
pub fn trace_decode(data: &[u8]) {
    let Ok((format, trace)) = decode_any(data) else { return };
    let encoded = sk_core::export::encode(&trace, format).trace.into_bytes();
    let again = match decode_any(&encoded) {
        Ok((_, again)) => again,
        Err(e) => panic!("a decoded trace re-encodes to something undecodable: {e}"),
    };
    if format == TraceFormat::V1 {
        assert_eq!(again, trace, "a decoded v1 trace must round-trip");
    }
    assert!(sk_core::export::encode(&again, format).trace.into_bytes() == encoded, "encoding must be a fixed point");
}

/// A config file, loaded from disk as `sk-tracer run --config` does.
pub fn config_load(data: &[u8]) {
    let dir = std::env::temp_dir().join(format!("sk-tracer-fuzz-{}", std::process::id()));
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let path = dir.join("config.yaml");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    if let Ok(config) = sk_config::Loader::new().file(&path).load() {
        // What check-config prints must itself load to the same config.
        let again = dir.join("normalised.yaml");
        if std::fs::write(&again, config.to_yaml()).is_ok() {
            let reloaded = sk_config::Loader::new().file(&again).load();
            assert_eq!(reloaded.as_ref().ok(), Some(&config), "the normalised config must load back: {reloaded:?}");
        }
    }
}

/// A pod-template path (the first line) applied to a JSON document (the rest): parsing, reading
/// and mutating must agree on what matches.
pub fn pod_template_path(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (path, doc) = text.split_once('\n').unwrap_or((&text, "{}"));
    let Ok(path) = PodTemplatePath::parse(path) else { return };
    let again = PodTemplatePath::parse(path.as_str()).expect("a parsed path prints as itself");
    assert_eq!(again, path);
    let Ok(mut doc) = serde_json::from_str::<Value>(doc) else { return };
    let found = path.find(&doc).map(|v| v.len());
    let mutated = path.for_each_mut(&mut doc, |v| *v = json!({"seen": true}));
    assert_eq!(found.ok(), mutated.ok(), "find and for_each_mut disagree");
}

fn sample_store() -> &'static (Store, TracerConfig) {
    static STORE: OnceLock<(Store, TracerConfig)> = OnceLock::new();
    STORE.get_or_init(|| {
        let mut config = TracerConfig::default();
        let tracked = TrackedObjectConfig {
            pod_spec_template_paths: vec![PodTemplatePath::parse("/spec/template").expect("a path")],
            track_lifecycle: true,
            skip_owned: false,
        };
        config.tracked_objects.insert("apps/v1.Deployment".parse().expect("a GVK"), tracked);
        let store = Store::new();
        for (ts, ns, name) in [(100, "default", "web"), (200, "kube-system", "dns"), (300, "default", "batch")] {
            let obj = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                             "metadata": {"namespace": ns, "name": name, "labels": {"app": name}},
                             "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}});
            if let Some(id) = ObjectIdentity::of(&obj) {
                store.apply(ts, id, EncodedObject::from_json(&obj), ts as u64);
            }
        }
        (store, config)
    })
}

/// A `POST /export` body: parsed, its filters built, and the window cut from a small trace.
pub fn export_request(data: &[u8]) {
    let Ok(request) = ExportRequest::parse(data) else { return };
    let (store, config) = sample_store();
    let Ok(filters) = build_filters(&Default::default(), &request.filters, config) else { return };
    let _ = export(&store.snapshot(), config, &request, &filters);
}

/// A SKEL program (up to the first NUL byte) applied to a JSON document (the rest, or a sample
/// Deployment where the rest is not JSON): parsing and applying may fail, never panic, and what
/// the program reports must agree with what it did.
pub fn skel(data: &[u8]) {
    let (program, doc) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(program) = sk_skel::Program::parse(&String::from_utf8_lossy(program)) else { return };
    let mut obj = serde_json::from_slice::<Value>(doc).unwrap_or_else(|_| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": "d", "name": "web",
               "labels": {"app": "web", "a.b/c": "x"}},
               "spec": {"replicas": 3, "template": {"spec": {"containers": [
                   {"name": "c", "image": "i", "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"key": "k"}}}]},
                   {"name": "d", "image": "j"}]}}},
               "status": {"ready": 3}})
    });
    let before = obj.clone();
    let at = sk_skel::At { ts: 1_700_000_600, start: 1_700_000_000 };
    let matched = program.matches(&obj, at);
    let Ok(outcome) = program.apply(&mut obj, at) else { return };
    if !outcome.changed {
        assert_eq!(obj, before, "an unchanged object must be as it was");
    }
    assert!(outcome.matched || !outcome.changed, "a change without a match");
    if let Ok(matched) = matched {
        // `matches` asks of the object as it was; later commands may match what earlier changed.
        assert!(!matched || outcome.matched, "matches and apply disagree");
    }
}
