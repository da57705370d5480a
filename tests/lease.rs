//! Leader election against the API emulator's Leases: one replica leads at a time, a follower
//! takes over once the leader stops renewing (killed, so nothing is released), a leader that can
//! no longer write the Lease steps down within its renew deadline, and a released Lease is taken
//! at the next round.

use std::time::Duration;

use kube_emulator::Emulator;
use sk_tracer::lease::{Elector, LeaseSettings};
use tokio::sync::watch;
use tokio::time::Instant;

async fn client(emu: &Emulator) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&emu.kubeconfig_yaml()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    kube::Client::try_from(config).unwrap()
}

fn settings(identity: &str) -> LeaseSettings {
    LeaseSettings {
        name: "sk-tracer".into(),
        namespace: "sk".into(),
        identity: identity.into(),
        duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1500),
        retry: Duration::from_millis(200),
    }
}

/// Waits until `leading` says `want`; how long that took, or `None` past `within`.
async fn until(leading: &mut watch::Receiver<bool>, want: bool, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    tokio::time::timeout(within, leading.wait_for(|l| *l == want)).await.ok()?.ok()?;
    Some(start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_take_over_step_down_and_release() {
    let emu = Emulator::start().await.unwrap();
    let (stop, stopped) = watch::channel(false);

    let (a, mut a_leads) = Elector::new(client(&emu).await, settings("a"));
    let a_task = tokio::spawn(a.run(stopped.clone()));
    assert!(until(&mut a_leads, true, Duration::from_secs(5)).await.is_some(), "the first replica leads");

    let (b, mut b_leads) = Elector::new(client(&emu).await, settings("b"));
    let (b_stop, b_stopped) = watch::channel(false);
    let b_task = tokio::spawn(b.run(b_stopped));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!*b_leads.borrow(), "the lease is renewed, so the second replica follows");
    assert!(*a_leads.borrow());

    // The leader dies without releasing: the follower takes over once the lease has expired,
    // within its duration and a round.
    a_task.abort();
    let took = until(&mut b_leads, true, Duration::from_secs(5)).await.expect("the follower takes over");
    assert!(took <= Duration::from_millis(2000 + 200 + 800), "took {took:?}");

    // The leader can no longer write the lease: it stops leading before the lease could expire
    // for anyone else (its last renewal plus 2 s).
    emu.fail_writes("coordination.k8s.io", "v1", "leases", 403);
    let stepped = until(&mut b_leads, false, Duration::from_secs(5)).await.expect("the leader steps down");
    assert!(stepped < Duration::from_millis(2000), "stepped down after {stepped:?}");
    emu.allow_writes("coordination.k8s.io", "v1", "leases");
    assert!(until(&mut b_leads, true, Duration::from_secs(5)).await.is_some(), "and leads again once it can renew");

    // A leader that stops releases the lease: another replica has it at its next round.
    let (c, mut c_leads) = Elector::new(client(&emu).await, settings("c"));
    let c_task = tokio::spawn(c.run(stopped.clone()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!*c_leads.borrow());
    b_stop.send(true).unwrap();
    b_task.await.unwrap();
    let took = until(&mut c_leads, true, Duration::from_secs(5)).await.expect("the released lease is taken");
    assert!(took < Duration::from_millis(1500), "a released lease waits for no expiry: {took:?}");

    stop.send(true).unwrap();
    c_task.await.unwrap();
    let lease = emu.get("coordination.k8s.io/v1", "Lease", "sk", "sk-tracer").unwrap();
    assert!(lease["spec"].get("holderIdentity").is_none(), "released at the end: {lease}");
    assert!(lease["spec"]["leaseTransitions"].as_i64().unwrap() >= 2, "{lease}");
}
