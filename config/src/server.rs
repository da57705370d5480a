//! `server`: where the HTTP server (exports, probes, metrics) listens, and how it is protected.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::ConfigError;

fn default_port() -> u16 {
    8080
}

/// Loopback unless told otherwise: the export endpoint returns the cluster's pod specs, so it is
/// not offered to the network by default. The deployment manifests bind all interfaces.
fn default_bind() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

/// Two: an export holds a snapshot and its encoding in memory, so a burst of clients must not
/// multiply the tracer's footprint, yet a scheduled export should not block a person's export.
fn default_max_concurrent_exports() -> u32 {
    2
}

/// Below Kubernetes' default termination grace period (30 s), which ends in SIGKILL.
fn default_shutdown_timeout() -> Duration {
    Duration::from_secs(25)
}

/// A watch that drops is retried within about a second and usually resumes where it was; this
/// long down, `/readyz` says so.
fn default_readiness_grace() -> Duration {
    Duration::from_secs(10)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default = "default_bind", deserialize_with = "ip_address")]
    pub bind: IpAddr,
    /// Without it, every endpoint is open to whoever reaches the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthConfig>,
    /// Without it, the server speaks plain HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// `POST /export` requests served at once; more are answered 429.
    #[serde(default = "default_max_concurrent_exports")]
    pub max_concurrent_exports: u32,
    /// From SIGTERM to exit: in-flight exports finish within the first half, then the final
    /// checkpoint and the shutdown exports get what is left.
    #[serde(default = "default_shutdown_timeout", with = "crate::duration")]
    pub shutdown_timeout: Duration,
    /// How long a tracked kind's watch may be down (after its first list) before `/readyz`
    /// answers not ready, naming the kind.
    #[serde(default = "default_readiness_grace", with = "crate::duration")]
    pub readiness_grace: Duration,
}

/// Bearer-token authentication. The token lives in a file rather than in the config so that it can
/// come from a mounted Secret and be rotated without a restart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthConfig {
    pub token_file: PathBuf,
}

/// HTTPS: a PEM certificate chain (leaf first) and its PEM private key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            port: default_port(),
            bind: default_bind(),
            auth: None,
            tls: None,
            max_concurrent_exports: default_max_concurrent_exports(),
            shutdown_timeout: default_shutdown_timeout(),
            readiness_grace: default_readiness_grace(),
        }
    }
}

impl ServerConfig {
    /// The files themselves are read when `run` starts: a config may be checked on a machine that
    /// does not hold the Secret.
    pub(crate) fn validate(&self, source_name: &str) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            source_name: source_name.into(),
            key: key.into(),
            message: message.into(),
        };
        if self.max_concurrent_exports == 0 {
            return Err(invalid("server.maxConcurrentExports", "must be at least 1 (0 would refuse every export)"));
        }
        if self.shutdown_timeout < Duration::from_secs(1) {
            return Err(invalid("server.shutdownTimeout", "must be at least 1s"));
        }
        if self.readiness_grace < Duration::from_secs(1) {
            return Err(invalid(
                "server.readinessGrace",
                "must be at least 1s (a dropped watch takes up to a second to come back; less would report every blip)",
            ));
        }
        let empty = |p: &PathBuf| p.as_os_str().is_empty();
        if self.auth.as_ref().is_some_and(|a| empty(&a.token_file)) {
            return Err(invalid("server.auth.tokenFile", "must name a file"));
        }
        if let Some(tls) = &self.tls {
            if empty(&tls.cert_file) {
                return Err(invalid("server.tls.certFile", "must name a file"));
            }
            if empty(&tls.key_file) {
                return Err(invalid("server.tls.keyFile", "must name a file"));
            }
        }
        Ok(())
    }
}

/// std's own message (`invalid IP address syntax`) does not say which value was wrong.
fn ip_address<'de, D: Deserializer<'de>>(d: D) -> Result<IpAddr, D::Error> {
    let text = String::deserialize(d)?;
    text.trim().parse().map_err(|_| {
        serde::de::Error::custom(format!(
            "`{text}` is not an IP address (host names are not accepted); write e.g. 127.0.0.1, 0.0.0.0 or ::"
        ))
    })
}
