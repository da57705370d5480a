//! `sk-tracer inspect` run as a user runs it, on the example trace and on bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

fn sk_tracer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sk-tracer")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const DEMO: &str = "examples/traces/demo.sktrace";

#[test]
fn summarises_the_example_trace() {
    let out = sk_tracer(&["inspect", DEMO]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "time span:  2025-11-24T16:00:00Z .. 2025-11-24T16:05:00Z (5m)",
        "events:     4",
        "apps/v1.Deployment             2 objects, 3 versions, 1 deletions",
        "batch.volcano.sh/v1alpha1.Job  1 objects, 1 versions, 0 deletions",
        "ml/train (batch.volcano.sh/v1alpha1.Job)  2 pod hashes, 3 pods, 0 running",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

#[test]
fn json_output_is_the_whole_trace() {
    let out = sk_tracer(&["inspect", "--json", DEMO]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let source: serde_json::Value = serde_json::from_slice(
        &std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/traces/demo.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(printed, source);
}

#[test]
fn bad_input_is_named_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 4] = [
        ("empty.sktrace", b"", "the file is empty"),
        ("trace.json", br#"[{"trackedObjects": {}}, [], {}, {}]"#, "this is JSON, not a trace"),
        ("three.sktrace", &[0x93, 0x01, 0x02, 0x03], "found an array of 3 elements"),
        (
            "cut.sktrace",
            &std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(DEMO)).unwrap()[..900],
            "truncated",
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = sk_tracer(&["inspect", path.to_str().unwrap()]);
        assert!(!out.status.success(), "{name} was accepted");
        let err = stderr(&out);
        assert!(err.contains(name) && err.contains(expected), "{name}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let missing = sk_tracer(&["inspect", "no/such/file.sktrace"]);
    assert!(stderr(&missing).contains("reading trace file no/such/file.sktrace"), "{}", stderr(&missing));
}

/// A generic msgpack reader in another language sees the documented four-element array.
#[test]
fn python_msgpack_reads_the_example_as_a_four_element_list() {
    let script = r#"
import msgpack, sys
t = msgpack.unpackb(open(sys.argv[1], 'rb').read(), strict_map_key=False)
assert isinstance(t, list) and len(t) == 4, t
config, events, index, lifecycles = t
assert 'trackedObjects' in config
assert [e['ts'] for e in events] == sorted(e['ts'] for e in events)
assert set(events[0]) == {'ts', 'applied_objs', 'deleted_objs'}
assert all(isinstance(h, int) for h in index.values())
for owner, by_hash in lifecycles.items():
    for h, lcs in by_hash.items():
        assert isinstance(h, int) and all(set(lc) == {'start_ts', 'end_ts'} for lc in lcs)
print('ok', len(events), 'events')
"#;
    let Some(out) = python(&["-c", script, DEMO], &["msgpack"]) else { return };
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "ok 4 events");
}

/// Runs python3 when it and the named modules are present. CI sets SK_REQUIRE_PYTHON=1 so that a
/// missing interpreter fails there instead of skipping.
fn python(args: &[&str], modules: &[&str]) -> Option<Output> {
    let probe = Command::new("python3").arg("-c").arg(format!("import {}", modules.join(", "))).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        assert!(std::env::var_os("SK_REQUIRE_PYTHON").is_none(), "python3 with {modules:?} is required");
        eprintln!("skipped: python3 with {modules:?} is not available");
        return None;
    }
    Some(Command::new("python3").args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap())
}
