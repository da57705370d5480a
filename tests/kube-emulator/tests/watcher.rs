//! kube-rs clients work against the emulator unchanged: discovery, the dynamic API, and
//! `watcher` through dropped connections and 410 Gone.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, GroupVersionKind};
use kube::runtime::watcher::{self, Event};
use kube::Client;
use kube_emulator::controllers::template;
use kube_emulator::Emulator;
use serde_json::json;

async fn client(emu: &Emulator) -> Client {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&emu.kubeconfig_yaml()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
    Client::try_from(config).unwrap()
}

async fn configmaps(client: Client) -> Api<DynamicObject> {
    let (ar, _) = kube::discovery::pinned_kind(&client, &GroupVersionKind::gvk("", "v1", "ConfigMap")).await.unwrap();
    Api::all_with(client, &ar)
}

fn cm(name: &str, v: u32) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": {"v": v.to_string()}})
}

/// What a watcher reports: `apply name=v`, `delete name`, `init`, `init-done`.
fn describe(e: &Event<DynamicObject>) -> String {
    let name = |o: &DynamicObject| o.metadata.name.clone().unwrap_or_default();
    let v = |o: &DynamicObject| o.data.pointer("/data/v").and_then(|v| v.as_str()).unwrap_or("").to_string();
    match e {
        Event::Apply(o) => format!("apply {}={}", name(o), v(o)),
        Event::Delete(o) => format!("delete {}", name(o)),
        Event::Init => "init".into(),
        Event::InitApply(o) => format!("listed {}={}", name(o), v(o)),
        Event::InitDone => "init-done".into(),
    }
}

async fn next_events(
    stream: &mut (impl futures::Stream<Item = Result<Event<DynamicObject>, watcher::Error>> + Unpin),
    n: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < n {
        match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
            Ok(Some(Ok(e))) => out.push(describe(&e)),
            Ok(Some(Err(_))) => {} // the watcher retries by itself
            Ok(None) => break,
            Err(_) => panic!("timed out after {out:?}"),
        }
    }
    out
}

#[tokio::test]
async fn watcher_sees_every_change_in_order_across_a_dropped_watch() {
    let emu = Emulator::start().await.unwrap();
    emu.create(cm("a", 1)).unwrap();
    let api = configmaps(client(&emu).await).await;
    let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
    assert_eq!(next_events(&mut stream, 3).await, ["init", "listed a=1", "init-done"]);

    emu.update(cm("a", 2)).unwrap();
    emu.create(cm("b", 1)).unwrap();
    assert_eq!(next_events(&mut stream, 2).await, ["apply a=2", "apply b=1"]);

    // The connection drops; changes happen before the watcher reconnects.
    emu.close_watches();
    emu.update(cm("a", 3)).unwrap();
    emu.delete("v1", "ConfigMap", "default", "b").unwrap();
    emu.create(cm("c", 1)).unwrap();
    // The watcher resumes from its last resource version: every change once, in order.
    assert_eq!(next_events(&mut stream, 3).await, ["apply a=3", "delete b", "apply c=1"]);
}

#[tokio::test]
async fn a_410_makes_the_watcher_relist_and_the_gap_shows_deletions() {
    let emu = Emulator::start().await.unwrap();
    for name in ["a", "b", "c"] {
        emu.create(cm(name, 1)).unwrap();
    }
    let api = configmaps(client(&emu).await).await;
    let mut stream = watcher::watcher(api, watcher::Config::default()).boxed();
    assert_eq!(next_events(&mut stream, 5).await.len(), 5);

    emu.close_watches();
    emu.delete("v1", "ConfigMap", "default", "b").unwrap();
    emu.update(cm("c", 2)).unwrap();
    emu.compact();
    let events = next_events(&mut stream, 4).await;
    assert_eq!(events, ["init", "listed a=1", "listed c=2", "init-done"], "re-listed; b is gone from the list");
}

#[tokio::test]
async fn metadata_watches_and_late_kinds_work() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu).await;
    let volcano = GroupVersionKind::gvk("batch.volcano.sh", "v1alpha1", "Job");
    assert!(kube::discovery::pinned_kind(&client, &volcano).await.is_err(), "not installed yet");
    emu.create_deployment("d", "web", 2, template("web", "nginx:1.27")).unwrap();
    let (_, pods) = emu
        .create_custom_job("d", "train", &[("ps", 1, template("ps", "t:1")), ("worker", 2, template("w", "t:1"))])
        .unwrap();
    assert_eq!(pods.len(), 3);
    let (ar, _) = kube::discovery::pinned_kind(&client, &volcano).await.unwrap();
    assert_eq!(ar.plural, "jobs");

    let (rs_ar, _) =
        kube::discovery::pinned_kind(&client, &GroupVersionKind::gvk("apps", "v1", "ReplicaSet")).await.unwrap();
    let meta: Api<kube::api::PartialObjectMeta<DynamicObject>> = Api::all_with(client.clone(), &rs_ar);
    let mut stream = watcher::watcher(meta, watcher::Config::default()).boxed();
    let mut names = BTreeSet::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.next()).await.unwrap() {
            Some(Ok(Event::InitApply(o))) => {
                let refs = o.metadata.owner_references.unwrap_or_default();
                assert_eq!(refs[0].kind, "Deployment");
                assert_eq!(refs[0].controller, Some(true));
                names.insert(o.metadata.name.unwrap_or_default());
            }
            Some(Ok(Event::InitDone)) => break,
            _ => {}
        }
    }
    assert_eq!(names.len(), 1);
    let routes = emu.requests_by_route();
    assert!(routes.contains_key("LIST apps/v1/replicasets"), "{routes:?}");
}

#[tokio::test]
async fn faults_answer_as_a_real_apiserver_would() {
    let emu = Emulator::start().await.unwrap();
    let client = client(&emu).await;
    let api = configmaps(client.clone()).await;
    emu.forbid_kind("", "v1", "configmaps");
    let err = api.list(&Default::default()).await.unwrap_err();
    assert!(matches!(err, kube::Error::Api(ref s) if s.code == 403), "{err}");
    emu.allow_kind("", "v1", "configmaps");
    emu.fail_next(1, 500);
    assert!(matches!(api.list(&Default::default()).await.unwrap_err(), kube::Error::Api(ref s) if s.code == 500));
    assert!(api.list(&Default::default()).await.is_ok());

    emu.restart().await.unwrap();
    assert!(api.list(&Default::default()).await.is_ok(), "same port, same objects after a restart");
}
