//! The S3 exporter configured by the standard AWS environment variables alone. Its own test
//! binary (so its own process) with one test, because it sets the process environment.

mod support;

use object_store::aws::AmazonS3Builder;
use object_store::ObjectStoreExt;
use sk_exporters::{resolve, ExporterSettings};

#[tokio::test]
async fn the_standard_aws_environment_is_honoured() {
    let Some(moto) = support::moto() else { return };
    assert_eq!(support::http(moto.port, "PUT", "/env-bucket", "application/xml", b"").0, 200);
    for (k, v) in [
        ("AWS_ENDPOINT", moto.url()),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_ACCESS_KEY_ID", "env-key".into()),
        ("AWS_SECRET_ACCESS_KEY", "env-secret".into()),
        ("AWS_DEFAULT_REGION", "eu-west-1".into()),
    ] {
        // The only test in this process, before any other thread reads the environment.
        std::env::set_var(k, v);
    }
    let trace = support::trace(1000);
    let exporter = resolve("s3://env-bucket/t.sktrace", &ExporterSettings::default()).unwrap();
    exporter.deliver("s3://env-bucket/t.sktrace", vec![trace.clone()]).await.unwrap();
    let store = AmazonS3Builder::from_env().with_bucket_name("env-bucket").build().unwrap();
    assert_eq!(store.get(&"t.sktrace".into()).await.unwrap().bytes().await.unwrap(), trace);
}
