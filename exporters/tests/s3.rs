//! The S3 exporter against a real S3-compatible server on 127.0.0.1 (PyPI's moto).

mod support;

use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::ObjectStoreExt;
use sk_exporters::{resolve, ExportError, ExporterSettings};

/// Above this the exporter uploads in parts (see `object_store.rs`).
const PART: usize = 16 << 20;

fn settings(endpoint: &str) -> ExporterSettings {
    let mut s = ExporterSettings {
        s3_endpoint: Some(endpoint.to_string()),
        request_timeout: Some(Duration::from_secs(20)),
        ..Default::default()
    };
    for (k, v) in [("aws_access_key_id", "test"), ("aws_secret_access_key", "test"), ("aws_region", "us-east-1")] {
        s.object_store_options.insert(k.into(), v.into());
    }
    s
}

async fn read_back(endpoint: &str, bucket: &str, key: &str) -> bytes::Bytes {
    let store = AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_allow_http(true)
        .with_bucket_name(bucket)
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_region("us-east-1")
        .build()
        .unwrap();
    store.get(&key.into()).await.unwrap().bytes().await.unwrap()
}

#[tokio::test]
async fn traces_round_trip_through_a_local_s3_server() {
    let Some(moto) = support::moto() else { return };
    assert_eq!(support::http(moto.port, "PUT", "/traces", "application/xml", b"").0, 200, "bucket created");
    let settings = settings(&moto.url());

    let small = support::trace(100_000);
    let exporter = resolve("s3://traces/dir/t.sktrace", &settings).unwrap();
    let d = exporter.deliver("s3://traces/dir/t.sktrace", vec![small.clone()]).await.unwrap();
    assert_eq!((d.location.as_str(), d.bytes), ("s3://traces/dir/t.sktrace", small.len() as u64));
    assert_eq!(read_back(&moto.url(), "traces", "dir/t.sktrace").await, small);

    // Replaced in place.
    let again = support::trace(10);
    exporter.deliver("s3://traces/dir/t.sktrace", vec![again.clone()]).await.unwrap();
    assert_eq!(read_back(&moto.url(), "traces", "dir/t.sktrace").await, again);

    // Above the part size: a multipart upload of two parts, the last one byte.
    let large = support::trace(PART + 1);
    let d = exporter.deliver("s3://traces/large.sktrace", vec![large.clone()]).await.unwrap();
    assert_eq!(d.bytes, large.len() as u64);
    assert_eq!(read_back(&moto.url(), "traces", "large.sktrace").await, large);

    // A bucket that does not exist is the provider's failure, with its message.
    let err = exporter.deliver("s3://missing-bucket/t.sktrace", vec![small]).await.err().unwrap();
    assert!(matches!(err, ExportError::Storage { provider: "s3", .. }), "{err}");
    assert!(err.to_string().contains("missing-bucket"), "{err}");
}
