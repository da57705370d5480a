//! A watch stream that falls behind catches up as fast as it can read: a backlog the apiserver
//! releases at once is in the trace within seconds, however many events it holds, rather than
//! drip-fed at a pace of the tracer's choosing while the cluster moves on.

mod support;

use kube_emulator::Emulator;
use support::*;

const CONFIG: &str = "trackedObjects:\n  v1.ConfigMap: {}\n";

fn config_map(i: usize) -> serde_json::Value {
    serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"namespace": "d", "name": format!("cm-{i:05}")}, "data": {"k": "v"}})
}

fn recorded(tracer: &Tracer) -> usize {
    tracer.export_all().events.iter().map(|e| e.applied_objs.len()).sum()
}

#[test]
fn a_backlog_of_thousands_of_events_is_recorded_within_seconds_of_its_release() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    emu.set_chunk_per_event(true);
    let tracer = start_tracer(&emu, CONFIG);
    tracer.wait_ready();
    emu.hold_watches(true);
    const N: usize = 3000;
    for i in 0..N {
        emu.create(config_map(i)).unwrap();
    }
    assert!(recorded(&tracer) < N / 10, "the watch is held");
    emu.hold_watches(false);
    // Each event comes as a chunk of its own, as from kube-apiserver: read one chunk at a time
    // per 100 ms, as a reader that paused between frames would, this backlog would take five
    // minutes.
    wait_until(30, "every ConfigMap recorded", || recorded(&tracer) == N);
}
