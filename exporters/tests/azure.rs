//! The Azure exporter against a real Azure Blob Storage emulator on 127.0.0.1 (npm's Azurite).

mod support;

use std::time::Duration;

use object_store::azure::MicrosoftAzureBuilder;
use object_store::ObjectStoreExt;
use sk_exporters::{resolve, ExportError, ExporterSettings};
use support::{AZURITE_ACCOUNT, AZURITE_KEY};

/// Above this the exporter uploads in parts (see `object_store.rs`).
const PART: usize = 16 << 20;

fn settings(azurite: &support::Server) -> ExporterSettings {
    let mut s = ExporterSettings { request_timeout: Some(Duration::from_secs(20)), ..Default::default() };
    s.object_store_options.extend(support::azurite_options(azurite));
    s
}

/// Read with a client built here, not through the exporter's configuration.
async fn read_back(azurite: &support::Server, container: &str, key: &str) -> bytes::Bytes {
    let store = MicrosoftAzureBuilder::new()
        .with_account(AZURITE_ACCOUNT)
        .with_access_key(AZURITE_KEY)
        .with_endpoint(format!("{}/{AZURITE_ACCOUNT}", azurite.url()))
        .with_allow_http(true)
        .with_container_name(container)
        .build()
        .unwrap();
    store.get(&key.into()).await.unwrap().bytes().await.unwrap()
}

#[tokio::test]
async fn traces_round_trip_through_a_local_azure_emulator() {
    let Some(azurite) = support::azurite() else { return };
    support::azurite_container(&azurite, "traces");
    let settings = settings(&azurite);

    let small = support::trace(100_000);
    let exporter = resolve("az://traces/dir/t.sktrace", &settings).unwrap();
    let d = exporter.deliver("az://traces/dir/t.sktrace", vec![small.clone()]).await.unwrap();
    assert_eq!((d.location.as_str(), d.bytes), ("az://traces/dir/t.sktrace", small.len() as u64));
    assert_eq!(read_back(&azurite, "traces", "dir/t.sktrace").await, small);

    // Replaced in place; `azure://` is the same store.
    let again = support::trace(10);
    exporter.deliver("azure://traces/dir/t.sktrace", vec![again.clone()]).await.unwrap();
    assert_eq!(read_back(&azurite, "traces", "dir/t.sktrace").await, again);

    // Above the part size: blocks and a block list, the last block one byte.
    let large = support::trace(PART + 1);
    let d = exporter.deliver("az://traces/large.sktrace", vec![large.clone()]).await.unwrap();
    assert_eq!(d.bytes, large.len() as u64);
    assert_eq!(read_back(&azurite, "traces", "large.sktrace").await, large);

    // A container that does not exist is the provider's failure, with its message.
    let err = exporter.deliver("az://missing-container/t.sktrace", vec![small]).await.err().unwrap();
    assert!(matches!(err, ExportError::Storage { provider: "azure", .. }), "{err}");
    assert!(err.to_string().contains("ContainerNotFound"), "{err}");
}
