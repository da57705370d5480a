//! `server`: where the HTTP server (exports, probes, metrics) listens.

use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Deserializer, Serialize};

fn default_port() -> u16 {
    8080
}

/// Loopback unless told otherwise: the export endpoint returns the cluster's pod specs, so it is
/// not offered to the network by default. The deployment manifests bind all interfaces.
fn default_bind() -> IpAddr {
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default = "default_bind", deserialize_with = "ip_address")]
    pub bind: IpAddr,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig { port: default_port(), bind: default_bind() }
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
