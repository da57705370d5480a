//! Object stores through the `object_store` crate: `s3://bucket/key`, `gs://bucket/key`,
//! `az://container/key`, and `memory:///key` (in this process only, for tests).
//!
//! Credentials, region and endpoint come from the providers' standard environment variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
//! `AWS_ALLOW_HTTP`; `GOOGLE_SERVICE_ACCOUNT`...; `AZURE_STORAGE_ACCOUNT_NAME`...), which
//! `object_store::parse_url` alone would ignore.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::memory::InMemory;
use object_store::path::Path as StorePath;
use object_store::{ClientConfigKey, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart};

use crate::{Delivered, ExportError, Exporter, ExporterPlugin, ExporterSettings};

/// Traces above this are uploaded in parts of this size, so no single request holds them whole.
const PART: usize = 16 << 20;

struct ObjectStoreExporter {
    settings: ExporterSettings,
}

/// The process-wide in-memory store behind `memory://`.
pub fn memory_store() -> Arc<InMemory> {
    static STORE: OnceLock<Arc<InMemory>> = OnceLock::new();
    STORE.get_or_init(|| Arc::new(InMemory::new())).clone()
}

/// Timeouts as config keys: replacing the builder's client options would drop what `from_env`
/// read into them (`AWS_ALLOW_HTTP`, proxies, ...).
fn timeouts(settings: &ExporterSettings) -> ([(ClientConfigKey, String); 2], RetryConfig) {
    let timeout = settings.request_timeout.unwrap_or(Duration::from_secs(60));
    let connect = Duration::from_secs(10).min(timeout);
    let keys = [
        (ClientConfigKey::Timeout, format!("{}ms", timeout.as_millis())),
        (ClientConfigKey::ConnectTimeout, format!("{}ms", connect.as_millis())),
    ];
    let retry = RetryConfig { max_retries: 3, retry_timeout: timeout, ..Default::default() };
    (keys, retry)
}

fn open(
    destination: &str,
    settings: &ExporterSettings,
) -> Result<(&'static str, Arc<dyn ObjectStore>, StorePath), ExportError> {
    let bad = |why: String| ExportError::BadDestination { destination: destination.into(), why };
    let url = url::Url::parse(destination).map_err(|e| bad(e.to_string()))?;
    let key = StorePath::from_url_path(url.path()).map_err(|e| bad(e.to_string()))?;
    if key.as_ref().is_empty() {
        return Err(bad("no object key after the bucket".into()));
    }
    let (keys, retry) = timeouts(settings);
    let config_error = |provider: &'static str| {
        move |e: object_store::Error| ExportError::BadDestination {
            destination: destination.into(),
            why: format!("{provider}: {e}"),
        }
    };
    let (provider, store): (&'static str, Arc<dyn ObjectStore>) = match url.scheme() {
        "s3" => {
            let mut b = AmazonS3Builder::from_env().with_url(destination).with_retry(retry);
            for (k, v) in &keys {
                b = b.with_config(AmazonS3ConfigKey::Client(*k), v);
            }
            if let Some(endpoint) = &settings.s3_endpoint {
                b = b.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
            }
            ("s3", Arc::new(b.build().map_err(config_error("s3"))?))
        }
        "gs" => {
            let mut b = GoogleCloudStorageBuilder::from_env().with_url(destination).with_retry(retry);
            for (k, v) in &keys {
                b = b.with_config(GoogleConfigKey::Client(*k), v);
            }
            ("gcs", Arc::new(b.build().map_err(config_error("gcs"))?))
        }
        "az" | "azure" => {
            let mut b = MicrosoftAzureBuilder::from_env().with_url(destination).with_retry(retry);
            for (k, v) in &keys {
                b = b.with_config(AzureConfigKey::Client(*k), v);
            }
            ("azure", Arc::new(b.build().map_err(config_error("azure"))?))
        }
        "memory" => ("memory", memory_store() as Arc<dyn ObjectStore>),
        other => return Err(bad(format!("`{other}` is not an object store scheme"))),
    };
    Ok((provider, store, key))
}

#[async_trait::async_trait]
impl Exporter for ObjectStoreExporter {
    async fn deliver(&self, destination: &str, trace: Bytes) -> Result<Delivered, ExportError> {
        let (provider, store, key) = open(destination, &self.settings)?;
        let size = trace.len() as u64;
        let failed = |e: object_store::Error| ExportError::Storage {
            provider,
            destination: destination.into(),
            message: e.to_string(),
        };
        if trace.len() <= PART {
            store.put(&key, PutPayload::from(trace)).await.map_err(failed)?;
        } else {
            let upload = store.put_multipart(&key).await.map_err(failed)?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
            writer.put(trace);
            writer.finish().await.map_err(failed)?;
        }
        Ok(Delivered { location: destination.to_string(), bytes: size })
    }
}

fn build(settings: &ExporterSettings) -> Result<Box<dyn Exporter>, ExportError> {
    Ok(Box::new(ObjectStoreExporter { settings: settings.clone() }))
}

inventory::submit! {
    ExporterPlugin {
        schemes: &["s3", "gs", "az", "azure", "memory"],
        describe: "object stores: S3 and S3-compatible, Google Cloud Storage, Azure Blob Storage, and memory:// (tests)",
        build,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_round_trip_and_large_uploads_in_parts() {
        let e = build(&ExporterSettings::default()).unwrap();
        let small = Bytes::from_static(b"trace");
        e.deliver("memory:///dir/small.sktrace", small.clone()).await.unwrap();
        let large = Bytes::from(vec![7u8; PART * 2 + 5]);
        let d = e.deliver("memory:///dir/large.sktrace", large.clone()).await.unwrap();
        assert_eq!(d.bytes, large.len() as u64);
        let store = memory_store();
        assert_eq!(store.get(&StorePath::from("dir/small.sktrace")).await.unwrap().bytes().await.unwrap(), small);
        assert_eq!(store.get(&StorePath::from("dir/large.sktrace")).await.unwrap().bytes().await.unwrap(), large);
    }

    #[tokio::test]
    async fn an_unreachable_store_fails_quickly_as_a_storage_error() {
        // A port nothing listens on: connection refused at once.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let settings = ExporterSettings {
            s3_endpoint: Some(format!("http://127.0.0.1:{port}")),
            request_timeout: Some(Duration::from_secs(2)),
            ..Default::default()
        };
        let e = build(&settings).unwrap();
        let started = std::time::Instant::now();
        let err = e.deliver("s3://bucket/t.sktrace", Bytes::from_static(b"x")).await.err().unwrap();
        assert!(matches!(err, ExportError::Storage { provider: "s3", .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
    }

    #[test]
    fn a_url_without_a_key_is_a_bad_destination() {
        let err = open("s3://bucket", &ExporterSettings::default()).err().unwrap();
        assert!(err.to_string().contains("no object key"), "{err}");
    }
}
