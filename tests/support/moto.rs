//! A local S3-compatible server: PyPI's moto.

use std::process::{Child, Command, Stdio};

use super::{free_port, wait_until};

pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// The environment that points the tracer's S3 client at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ALLOW_HTTP", "true".to_string()),
            ("AWS_ACCESS_KEY_ID", "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
        ]
    }

    /// A client of `bucket` on this server, as a test reads back what the tracer stored.
    pub fn bucket(&self, bucket: &str) -> object_store::aws::AmazonS3 {
        object_store::aws::AmazonS3Builder::new()
            .with_endpoint(format!("http://127.0.0.1:{}", self.port))
            .with_allow_http(true)
            .with_bucket_name(bucket)
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .with_region("us-east-1")
            .build()
            .unwrap()
    }
}

/// Starts moto, or returns `None` with a note where it is not installed. CI sets
/// SK_REQUIRE_PYTHON=1, so that it fails there instead of skipping.
pub fn moto() -> Option<Moto> {
    let port = free_port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(child) = child else {
        assert!(
            std::env::var_os("SK_REQUIRE_PYTHON").is_none(),
            "moto_server is required (pip install 'moto[server]')"
        );
        eprintln!("skipped: moto_server is not installed");
        return None;
    };
    let server = Moto { child, port };
    wait_until(30, "moto_server", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    Some(server)
}
