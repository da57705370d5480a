//! Azure Blob Storage against a real emulator on 127.0.0.1 (npm's Azurite): checkpoints written,
//! rotated to `keep` and restored as the same state; and the tracer binary exporting and
//! checkpointing there with the account and endpoint in its config's `export.objectStore`.

mod support;

#[path = "../exporters/tests/support/mod.rs"]
mod servers;

use std::sync::Arc;
use std::time::Duration;

use kube_emulator::Emulator;
use object_store::azure::{MicrosoftAzure, MicrosoftAzureBuilder};
use object_store::{ObjectStore, ObjectStoreExt};
use servers::{AZURITE_ACCOUNT, AZURITE_KEY};
use sk_config::CheckpointConfig;
use sk_core::store::Store;
use sk_core::trace::{EncodedObject, ObjectIdentity};
use sk_exporters::ExporterSettings;
use sk_tracer::checkpoint::Checkpoints;
use support::*;

fn store_with(n: usize) -> Arc<Store> {
    let store = Store::new();
    for i in 0..n {
        let obj = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"namespace": "d", "name": format!("c{i}")}});
        store.apply(1000 + i as i64, ObjectIdentity::of(&obj).unwrap(), EncodedObject::from_json(&obj), i as u64);
    }
    Arc::new(store)
}

/// A client built here, not through the tracer's configuration, to read what it wrote.
fn container(azurite: &servers::Server, name: &str) -> MicrosoftAzure {
    MicrosoftAzureBuilder::new()
        .with_account(AZURITE_ACCOUNT)
        .with_access_key(AZURITE_KEY)
        .with_endpoint(format!("{}/{AZURITE_ACCOUNT}", azurite.url()))
        .with_allow_http(true)
        .with_container_name(name)
        .build()
        .unwrap()
}

/// The objects directly under `prefix`, sorted (checkpoint names sort oldest first).
async fn names_under(store: &MicrosoftAzure, prefix: &str) -> Vec<object_store::path::Path> {
    let listed = store.list_with_delimiter(Some(&prefix.into())).await.unwrap();
    let mut names: Vec<_> = listed.objects.into_iter().map(|o| o.location).collect();
    names.sort();
    names
}

fn written(tracer: &Tracer) -> u64 {
    let (_, metrics) = tracer.get("/metrics");
    metrics
        .lines()
        .find(|l| l.starts_with("sk_tracer_checkpoints_written_total"))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn checkpoints_round_trip_through_a_local_azure_emulator() {
    let Some(azurite) = servers::azurite() else { return };
    servers::azurite_container(&azurite, "checkpoints");
    let mut settings = ExporterSettings { request_timeout: Some(Duration::from_secs(20)), ..Default::default() };
    settings.object_store_options.extend(servers::azurite_options(&azurite));
    let config = CheckpointConfig { to: "az://checkpoints/cluster-a".into(), every: Duration::from_secs(60), keep: 2 };

    let checkpoints = Checkpoints::open(&config, &settings).unwrap();
    assert!(checkpoints.restore().await.unwrap().is_none(), "nothing to restore yet");
    let mut newest = Vec::new();
    for n in 1..=3 {
        let store = store_with(n);
        newest = store.checkpoint();
        checkpoints.save(&store).await.unwrap();
    }

    let blobs = container(&azurite, "checkpoints");
    let names = names_under(&blobs, "cluster-a").await;
    assert_eq!(names.len(), 2, "rotated to `keep`: {names:?}");
    let stored = blobs.get(&names[1]).await.unwrap().bytes().await.unwrap();
    assert!(stored == newest, "the newest checkpoint is the last state's bytes");

    // As after a restart: a new `Checkpoints` restores the last state.
    let restored = Checkpoints::open(&config, &settings).unwrap().restore().await.unwrap().unwrap();
    assert!(restored.checkpoint() == newest, "restored as saved");
    assert_eq!(restored.stats().live_objects, 3);
}

#[test]
fn the_tracer_exports_and_checkpoints_to_azure_as_configured() {
    let Some(azurite) = servers::azurite() else { return };
    servers::azurite_container(&azurite, "traces");
    let rt = runtime();
    let emu = rt.block_on(Emulator::start()).unwrap();
    let config = format!(
        "trackedObjects:\n  apps/v1.Deployment: {{}}\n\
         export:\n  objectStore:\n    azure_storage_account_name: {AZURITE_ACCOUNT}\n    \
         azure_storage_account_key: {AZURITE_KEY}\n    azure_storage_endpoint: {}/{AZURITE_ACCOUNT}\n    \
         azure_allow_http: \"true\"\n\
         checkpoint:\n  to: az://traces/checkpoints\n  every: 1s\n  keep: 2\n",
        azurite.url()
    );
    let mut tracer = start_tracer(&emu, &config);
    tracer.wait_ready();
    emu.create(deployment("web", "v1")).unwrap();
    wait_until(10, "recorded", || applied(&tracer.export_all(), "Deployment") == ["web"]);

    let window = serde_json::json!({"start_ts": 0, "end_ts": now() + 60, "format": "v1"});
    let body = tracer.export_raw(&window);
    assert_eq!(body.status, 200);
    let mut to_azure = window.clone();
    to_azure["export_path"] = "az://traces/2025/t.sktrace".into();
    let r = tracer.export_json(&to_azure);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let reply: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(reply["location"], "az://traces/2025/t.sktrace");
    let blobs = container(&azurite, "traces");
    let stored = rt.block_on(async { blobs.get(&"2025/t.sktrace".into()).await.unwrap().bytes().await.unwrap() });
    assert!(stored == body.body, "the same window as the response body would hold");

    // Two periodic checkpoints, then the final one at SIGTERM; rotation leaves `keep` of them.
    wait_until(15, "two checkpoints", || written(&tracer) >= 2);
    assert!(tracer.terminate().success(), "{}", tracer.log());
    let names = rt.block_on(names_under(&blobs, "checkpoints"));
    assert_eq!(names.len(), 2, "{names:?}");
    let tracer = start_tracer(&emu, &config);
    tracer.wait_ready();
    assert!(tracer.log().contains("restored the trace from a checkpoint"), "{}", tracer.log());
    assert_eq!(applied(&tracer.export_all(), "Deployment"), ["web"], "recorded once, before the restart");
}
