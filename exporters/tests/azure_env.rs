//! The Azure exporter reaching Azurite through the environment variables object_store reads for
//! the emulator alone. Its own test binary (so its own process) with one test, because it sets
//! the process environment.

mod support;

use object_store::azure::MicrosoftAzureBuilder;
use object_store::ObjectStoreExt;
use sk_exporters::{resolve, ExporterSettings};
use support::{AZURITE_ACCOUNT, AZURITE_KEY};

#[tokio::test]
async fn the_azure_emulator_environment_is_honoured() {
    let Some(azurite) = support::azurite() else { return };
    support::azurite_container(&azurite, "env-container");
    for (k, v) in [("AZURE_STORAGE_USE_EMULATOR", "true".to_string()), ("AZURITE_BLOB_STORAGE_URL", azurite.url())] {
        // The only test in this process, before any other thread reads the environment.
        std::env::set_var(k, v);
    }
    // No account, key or endpoint in the settings: the emulator's well-known ones.
    let trace = support::trace(1000);
    let exporter = resolve("az://env-container/t.sktrace", &ExporterSettings::default()).unwrap();
    exporter.deliver("az://env-container/t.sktrace", vec![trace.clone()]).await.unwrap();
    let store = MicrosoftAzureBuilder::new()
        .with_account(AZURITE_ACCOUNT)
        .with_access_key(AZURITE_KEY)
        .with_endpoint(format!("{}/{AZURITE_ACCOUNT}", azurite.url()))
        .with_allow_http(true)
        .with_container_name("env-container")
        .build()
        .unwrap();
    assert_eq!(store.get(&"t.sktrace".into()).await.unwrap().bytes().await.unwrap(), trace);
}
