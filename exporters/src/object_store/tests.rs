use std::time::Instant;

use super::*;

/// Settings for an S3-compatible endpoint with static credentials, so no test ever asks the
/// cloud's metadata service for them.
fn s3_settings(endpoint: String) -> ExporterSettings {
    let mut settings = ExporterSettings {
        s3_endpoint: Some(endpoint),
        request_timeout: Some(Duration::from_secs(2)),
        ..Default::default()
    };
    for (k, v) in [("aws_access_key_id", "test"), ("aws_secret_access_key", "test"), ("aws_region", "us-east-1")] {
        settings.object_store_options.insert(k.into(), v.into());
    }
    settings
}

#[tokio::test]
async fn memory_round_trip_and_large_uploads_in_parts() {
    let e = build(&serde_json::Value::Null, &ExporterSettings::default()).unwrap();
    let small = Bytes::from_static(b"trace");
    let d = e.deliver("memory:///dir/small.sktrace", vec![small.clone()]).await.unwrap();
    assert_eq!(d, Delivered { location: "memory:///dir/small.sktrace".into(), bytes: 5 });
    let large = Bytes::from((0..PART * 2 + 5).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let d = e.deliver("memory:///dir/large.sktrace", vec![large.clone()]).await.unwrap();
    assert_eq!(d.bytes, large.len() as u64);
    let store = memory_store();
    assert_eq!(store.get(&StorePath::from("dir/small.sktrace")).await.unwrap().bytes().await.unwrap(), small);
    assert_eq!(store.get(&StorePath::from("dir/large.sktrace")).await.unwrap().bytes().await.unwrap(), large);

    // A trace in chunks of every size, some larger than a part and none aligned to one, is
    // stored as their concatenation, in one piece or in parts.
    let cuts = [0, 1, 7, PART - 3, PART + 11, 2 * PART + 2, 2 * PART + 5];
    let chunks: Vec<Bytes> = cuts.windows(2).map(|w| large.slice(w[0]..w[1])).collect();
    e.deliver("memory:///dir/chunked.sktrace", chunks).await.unwrap();
    assert_eq!(store.get(&StorePath::from("dir/chunked.sktrace")).await.unwrap().bytes().await.unwrap(), large);
    let few = vec![Bytes::from_static(b"tr"), Bytes::new(), Bytes::from_static(b"ace")];
    let d = e.deliver("memory:///dir/few.sktrace", few).await.unwrap();
    assert_eq!(d.bytes, 5);
    assert_eq!(store.get(&StorePath::from("dir/few.sktrace")).await.unwrap().bytes().await.unwrap(), small);
}

#[tokio::test]
async fn an_unreachable_store_fails_quickly_as_a_storage_error() {
    // A port nothing listens on: every connection is refused at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = build(&serde_json::Value::Null, &s3_settings(format!("http://127.0.0.1:{port}"))).unwrap();
    let started = Instant::now();
    let err = e.deliver("s3://bucket/t.sktrace", vec![Bytes::from_static(b"x")]).await.err().unwrap();
    assert!(matches!(err, ExportError::Storage { provider: "s3", .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.starts_with("s3 failed to store `s3://bucket/t.sktrace`: "), "{msg}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());

    let err = e.deliver("s3://bucket/big.sktrace", vec![Bytes::from(vec![0u8; PART + 1])]).await.err().unwrap();
    assert!(matches!(err, ExportError::Storage { provider: "s3", .. }), "multipart: {err}");
}

#[test]
fn malformed_urls_are_bad_destinations() {
    let settings = ExporterSettings::default();
    for (dest, why) in [
        ("s3://bucket", "no object key"),
        ("s3://bucket/", "no object key"),
        ("s3:///key", "no bucket"),
        ("gs:///key", "no bucket"),
        ("az:///key", "no bucket"),
        ("memory:///", "no object key"),
        ("s3://bucket/a//b", "a//b"),
    ] {
        let err = open(dest, &settings).err().unwrap();
        assert!(matches!(err, ExportError::BadDestination { .. }), "{dest}: {err}");
        let msg = err.to_string();
        assert!(msg.contains(&format!("`{dest}`")) && msg.contains(why), "{dest}: {msg}");
    }
}

#[test]
fn the_url_path_is_the_key_and_the_host_the_bucket() {
    let (provider, _, key) = open("s3://bucket/dir/t.sktrace", &s3_settings("http://127.0.0.1:1".into())).unwrap();
    assert_eq!((provider, key.as_ref()), ("s3", "dir/t.sktrace"));
    let (provider, _, key) = open("memory:///x/y", &ExporterSettings::default()).unwrap();
    assert_eq!((provider, key.as_ref()), ("memory", "x/y"));
}

#[test]
fn an_unconfigured_provider_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = ExporterSettings::default();
    let missing = dir.path().join("service-account.json");
    settings.object_store_options.insert("google_service_account".into(), missing.display().to_string());
    let err = open("gs://bucket/t.sktrace", &settings).err().unwrap();
    assert!(matches!(err, ExportError::Internal(_)), "{err}");
    assert!(err.to_string().contains("gcs is not configured for `gs://bucket/t.sktrace`"), "{err}");
}
