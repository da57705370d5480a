//! HTTPS with rustls and the aws-lc-rs provider kube already uses (no second TLS stack).
//!
//! The certificate and key are read at startup, where a bad pair stops the tracer with the file
//! named, and again at a handshake after either file changed, so that a certificate renewed by
//! cert-manager (a Secret update) is served without a restart. A pair that fails to load then is
//! logged and the previous one is kept: an expiring certificate beats no HTTPS at all, and clients
//! still verify it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::file_stamp::{stamp, Stamp};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("server.tls.certFile {path}: cannot read it: {message}")]
    CertUnreadable { path: String, message: String },
    #[error("server.tls.certFile {path}: no PEM certificate in it (expected `-----BEGIN CERTIFICATE-----`)")]
    NoCertificate { path: String },
    #[error("server.tls.keyFile {path}: cannot read it: {message}")]
    KeyUnreadable { path: String, message: String },
    #[error("server.tls.keyFile {path}: no PEM private key in it (expected PKCS#8, PKCS#1 or SEC1)")]
    NoKey { path: String },
    #[error("server.tls: the key in {key} cannot serve the certificate in {cert}: {message}")]
    Unusable { cert: String, key: String, message: String },
    #[error("server.tls: {0}")]
    Config(String),
}

/// The provider kube's client is built with; named rather than taken from the process default so
/// that the server does not depend on which crates happen to enable which rustls features.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

pub(crate) fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::Io(io) => io.to_string(),
        other => format!("{other:?}"),
    }
}

fn load(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<CertifiedKey, TlsError> {
    let cert_path = cert.display().to_string();
    let key_path = key.display().to_string();
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| TlsError::CertUnreadable { path: cert_path.clone(), message: pem_error(e) })?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::CertUnreadable { path: cert_path.clone(), message: pem_error(e) })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate { path: cert_path });
    }
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoKey { path: key_path.clone() },
        other => TlsError::KeyUnreadable { path: key_path.clone(), message: pem_error(other) },
    })?;
    CertifiedKey::from_der(chain, private, provider).map_err(|e| TlsError::Unusable {
        cert: cert_path,
        key: key_path,
        message: e.to_string(),
    })
}

/// Compared by their public halves: the private key stays behind the signer.
fn same_key(a: &CertifiedKey, b: &CertifiedKey) -> bool {
    let public = |k: &CertifiedKey| k.key.public_key().map(|p| p.as_ref().to_vec());
    public(a) == public(b)
}

struct Loaded {
    stamps: (Option<Stamp>, Option<Stamp>),
    key: Arc<CertifiedKey>,
}

/// Serves the pair from the files, reloaded when they change.
pub struct CertFiles {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    loaded: Mutex<Loaded>,
}

impl std::fmt::Debug for CertFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertFiles").field("cert", &self.cert).field("key", &self.key).finish()
    }
}

impl CertFiles {
    pub fn open(cert: &Path, key: &Path, provider: Arc<CryptoProvider>) -> Result<Self, TlsError> {
        let stamps = (stamp(cert).ok(), stamp(key).ok());
        let loaded = load(cert, key, &provider)?;
        Ok(CertFiles {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            provider,
            loaded: Mutex::new(Loaded { stamps, key: Arc::new(loaded) }),
        })
    }

    fn current(&self) -> Arc<CertifiedKey> {
        let now = (stamp(&self.cert).ok(), stamp(&self.key).ok());
        let settled = [now.0, now.1].iter().all(|s| s.is_some_and(|s| s.settled()));
        let mut loaded = self.loaded.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let changed = loaded.stamps != now;
        if changed || !settled {
            // Noted either way, so that a broken pair is logged once, not at every handshake.
            loaded.stamps = now;
            match load(&self.cert, &self.key, &self.provider) {
                Ok(fresh) if fresh.cert != loaded.key.cert || !same_key(&fresh, &loaded.key) => {
                    tracing::info!(cert = %self.cert.display(), "TLS certificate changed; serving the new one");
                    loaded.key = Arc::new(fresh);
                }
                Ok(_) => {}
                Err(e) if changed => tracing::error!(
                    error = %e,
                    "TLS certificate or key changed but cannot be used; still serving the previous pair"
                ),
                Err(_) => {}
            }
        }
        loaded.key.clone()
    }
}

impl ResolvesServerCert for CertFiles {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// The server's TLS configuration: TLS 1.2 and 1.3, HTTP/1.1 and HTTP/2 by ALPN.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = provider();
    let files = CertFiles::open(cert, key, provider.clone())?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(files));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
