//! Two replicas of the real binary with `ha`: both record and answer exports, one leads and runs
//! the schedule; killed, it is replaced within the Lease's duration and a renew, and the windows
//! go on from where it stopped. A leader that may no longer write its Lease stops leading, and its
//! schedule waits until it leads again.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kube_emulator::Emulator;
use support::*;

const LEASE_SECS: u64 = 3;
const RENEW_SECS: u64 = 2;

fn config() -> String {
    format!(
        "trackedObjects:\n  apps/v1.Deployment: {{}}\n\
         exports:\n- {{every: 1s, window: 1s, to: 'scheduled/{{start}}-{{end}}.sktrace'}}\n\
         ha:\n  lease: {{name: sk-tracer, namespace: sk, duration: {LEASE_SECS}s, renew: {RENEW_SECS}s, retry: 250ms}}\n"
    )
}

fn replica(emu: &Emulator, name: &str) -> Tracer {
    start_tracer_with_env(emu, &config(), &[("POD_NAME", name.to_string())])
}

fn windows(tracer: &Tracer) -> BTreeSet<(i64, i64)> {
    support::windows(&tracer.dir.path().join("exports/scheduled")).into_iter().collect()
}

fn metric(tracer: &Tracer, name: &str) -> Option<u64> {
    let (_, text) = tracer.get("/metrics");
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

fn leads(tracer: &Tracer) -> bool {
    metric(tracer, "sk_tracer_leader") == Some(1)
}

fn contiguous(w: &BTreeSet<(i64, i64)>) -> bool {
    let w: Vec<_> = w.iter().collect();
    w.windows(2).all(|p| p[0].1 == p[1].0)
}

#[test]
fn a_killed_leader_is_replaced_and_the_windows_go_on() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    emu.create(deployment("web", "nginx:1")).unwrap();

    let mut a = replica(&emu, "a");
    wait_until(10, "the first replica to lead", || leads(&a));
    let b = replica(&emu, "b");
    b.wait_ready();
    assert!(b.get("/readyz").1.contains("\"role\":\"follower\""), "{}", b.get("/readyz").1);
    assert!(a.get("/readyz").1.contains("\"role\":\"leader\""), "{}", a.get("/readyz").1);
    wait_until(20, "the leader's scheduled exports", || windows(&a).len() >= 3);
    assert!(windows(&b).is_empty(), "a follower runs no schedule");
    // Every replica records and answers exports from its own trace.
    assert_eq!(applied(&b.export_all(), "Deployment"), ["web"]);

    a.kill();
    let killed = Instant::now();
    let before = windows(&a);
    emu.create(deployment("api", "nginx:1")).unwrap();
    wait_until(15, "the follower to take over", || leads(&b));
    let took = killed.elapsed();
    eprintln!("took over {took:?} after the leader was killed");
    assert!(
        took <= Duration::from_secs(LEASE_SECS + RENEW_SECS),
        "took over after {took:?}, more than the lease's duration and a renew"
    );
    let last_before = before.iter().next_back().unwrap().1;
    wait_until(20, "the new leader's scheduled exports", || windows(&b).iter().any(|w| w.1 > last_before + 2));
    let after = windows(&b);

    // No window lost: the new leader went on from the one after the last that was recorded as
    // delivered. At most that one window is delivered twice, when the old leader died between
    // delivering it and writing it down, and then to the same destination.
    let twice: Vec<_> = before.intersection(&after).collect();
    assert!(twice.len() <= 1 && twice.iter().all(|w| w.1 == last_before), "delivered twice: {twice:?}");
    let all: BTreeSet<_> = before.union(&after).copied().collect();
    assert!(contiguous(&all), "a window is missing: before {before:?}, after {after:?}");
    assert!(all.iter().all(|(s, e)| e - s == 1), "{all:?}");
    assert_eq!(metric(&b, "sk_tracer_leader_transitions_total"), Some(1));
}

#[test]
fn a_leader_that_cannot_renew_steps_down_and_its_schedule_waits() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let a = replica(&emu, "a");
    wait_until(10, "the replica to lead", || leads(&a));
    wait_until(20, "scheduled exports", || windows(&a).len() >= 2);

    emu.fail_writes("coordination.k8s.io", "v1", "leases", 403);
    let forbidden = Instant::now();
    wait_until(10, "the leader to step down", || !leads(&a));
    let stepped = forbidden.elapsed();
    assert!(stepped < Duration::from_secs(LEASE_SECS), "stepped down after {stepped:?}: the lease may have expired");
    assert!(a.get("/readyz").1.contains("\"role\":\"follower\""));
    // An export already under way may finish; after that, none starts.
    std::thread::sleep(Duration::from_millis(1500));
    let stopped = windows(&a);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(windows(&a), stopped, "a replica that does not lead runs no schedule");
    assert!(a.log().contains("lease round failed"), "{}", a.log());

    emu.allow_writes("coordination.k8s.io", "v1", "leases");
    wait_until(10, "the replica to lead again", || leads(&a));
    let last = stopped.iter().next_back().unwrap().1;
    wait_until(20, "the windows missed while it did not lead", || windows(&a).iter().any(|w| w.0 >= last + 3));
    let w = windows(&a);
    assert!(contiguous(&w), "windows resume where they stopped: {w:?}");
    assert_eq!(metric(&a, "sk_tracer_leader_transitions_total"), Some(3));
}

#[test]
fn without_ha_a_replica_leads_alone() {
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let a = start_tracer(&emu, "trackedObjects:\n  apps/v1.Deployment: {}\n");
    assert!(leads(&a));
    assert_eq!(metric(&a, "sk_tracer_leader_transitions_total"), Some(0));
    assert!(a.get("/readyz").1.contains("\"role\":\"leader\""));
    assert!(emu.get("coordination.k8s.io/v1", "Lease", "sk", "sk-tracer").is_err(), "no lease without ha");
}
