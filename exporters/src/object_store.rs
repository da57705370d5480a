//! Object stores through the `object_store` crate: `s3://bucket/key`, `gs://bucket/key`,
//! `az://container/key` (or `azure://`), and `memory:///key`. The object key is the URL's path.
//!
//! `memory://` is a store inside this process: it does not persist and nothing outside the
//! process can read it; it exists for tests.
//!
//! Credentials, region and endpoint come from the providers' standard environment variables
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` /
//! `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` / `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, web identity and
//! container credentials; `GOOGLE_SERVICE_ACCOUNT`, `GOOGLE_SERVICE_ACCOUNT_KEY`,
//! `GOOGLE_APPLICATION_CREDENTIALS`; `AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`,
//! `AZURE_STORAGE_SAS_KEY`, ...), which `object_store::parse_url` alone would ignore, then the
//! settings' endpoint, timeout and options, which override them.

use std::str::FromStr;
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
/// Parts uploaded at once: bounds the connections and the provider's view of a half-done upload.
const PARTS_IN_FLIGHT: usize = 4;

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

/// The options `P` knows, parsed; others are left to the other providers.
fn options<P: FromStr>(settings: &ExporterSettings) -> impl Iterator<Item = (P, &String)> {
    settings.object_store_options.iter().filter_map(|(k, v)| Some((P::from_str(k).ok()?, v)))
}

/// Option keys that no provider knows.
pub(crate) fn unknown_options(settings: &ExporterSettings) -> Vec<String> {
    settings
        .object_store_options
        .keys()
        .filter(|k| {
            AmazonS3ConfigKey::from_str(k).is_err()
                && GoogleConfigKey::from_str(k).is_err()
                && AzureConfigKey::from_str(k).is_err()
        })
        .cloned()
        .collect()
}

/// The store and key that an object-store URL names (`s3://bucket/prefix`, ...), configured as
/// exports are: for whatever else keeps objects there (checkpoints).
pub fn open_url(url: &str, settings: &ExporterSettings) -> Result<(Arc<dyn ObjectStore>, StorePath), ExportError> {
    open(url, settings).map(|(_, store, key)| (store, key))
}

fn open(
    destination: &str,
    settings: &ExporterSettings,
) -> Result<(&'static str, Arc<dyn ObjectStore>, StorePath), ExportError> {
    let bad = |why: String| ExportError::BadDestination { destination: destination.into(), why };
    let url = url::Url::parse(destination).map_err(|e| bad(e.to_string()))?;
    let scheme = url.scheme();
    if scheme != "memory" && url.host_str().unwrap_or_default().is_empty() {
        return Err(bad(format!("no bucket or container: expected {scheme}://BUCKET/KEY")));
    }
    let key = StorePath::from_url_path(url.path()).map_err(|e| bad(e.to_string()))?;
    if key.as_ref().is_empty() {
        return Err(bad("no object key after the bucket".into()));
    }
    let (keys, retry) = timeouts(settings);
    // With the URL checked above, what remains is the provider's configuration (no Azure
    // account, an unreadable service-account file, ...): the tracer's fault, not the request's.
    let config_error = |provider: &'static str| {
        move |e: object_store::Error| {
            ExportError::Internal(format!("{provider} is not configured for `{destination}`: {e}"))
        }
    };
    let (provider, store): (&'static str, Arc<dyn ObjectStore>) = match scheme {
        "s3" => {
            let mut b = AmazonS3Builder::from_env().with_url(destination).with_retry(retry);
            for (k, v) in &keys {
                b = b.with_config(AmazonS3ConfigKey::Client(*k), v);
            }
            if let Some(endpoint) = &settings.s3_endpoint {
                b = b.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
            }
            for (k, v) in options::<AmazonS3ConfigKey>(settings) {
                b = b.with_config(k, v);
            }
            ("s3", Arc::new(b.build().map_err(config_error("s3"))?))
        }
        "gs" => {
            let mut b = GoogleCloudStorageBuilder::from_env().with_url(destination).with_retry(retry);
            for (k, v) in &keys {
                b = b.with_config(GoogleConfigKey::Client(*k), v);
            }
            for (k, v) in options::<GoogleConfigKey>(settings) {
                b = b.with_config(k, v);
            }
            ("gcs", Arc::new(b.build().map_err(config_error("gcs"))?))
        }
        "az" | "azure" => {
            let mut b = MicrosoftAzureBuilder::from_env().with_url(destination).with_retry(retry);
            for (k, v) in &keys {
                b = b.with_config(AzureConfigKey::Client(*k), v);
            }
            for (k, v) in options::<AzureConfigKey>(settings) {
                b = b.with_config(k, v);
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
    async fn deliver(&self, destination: &str, trace: Vec<Bytes>) -> Result<Delivered, ExportError> {
        let (provider, store, key) = open(destination, &self.settings)?;
        let size: usize = trace.iter().map(Bytes::len).sum();
        let failed = |e: object_store::Error| ExportError::Storage {
            provider,
            destination: destination.into(),
            message: e.to_string(),
        };
        if size <= PART {
            store.put(&key, trace.into_iter().collect::<PutPayload>()).await.map_err(failed)?;
        } else {
            let upload = store.put_multipart(&key).await.map_err(failed)?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
            for mut rest in trace {
                while !rest.is_empty() {
                    if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                        // Parts already stored would otherwise be kept (and billed) by the provider.
                        let _ = writer.abort().await;
                        return Err(failed(e));
                    }
                    writer.put(rest.split_to(PART.min(rest.len())));
                }
            }
            // `finish` aborts the upload itself when a part or the completion fails.
            writer.finish().await.map_err(failed)?;
        }
        Ok(Delivered { location: destination.to_string(), bytes: size as u64 })
    }
}

fn build(section: &serde_json::Value, settings: &ExporterSettings) -> Result<Box<dyn Exporter>, ExportError> {
    crate::no_section("object-store", section, "export.objectStore, export.s3Endpoint and export.requestTimeout")?;
    Ok(Box::new(ObjectStoreExporter { settings: settings.clone() }))
}

inventory::submit! {
    ExporterPlugin {
        name: "object-store",
        schemes: &["s3", "gs", "az", "azure", "memory"],
        describe: "object stores: S3 and S3-compatible, Google Cloud Storage, Azure Blob Storage; memory:// is in-process and does not persist (tests)",
        build,
    }
}

#[cfg(test)]
mod tests;
