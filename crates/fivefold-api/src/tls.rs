//! Optional TLS for the API: a PEM certificate chain and private key, served
//! with rustls (ring provider).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The PEM files of the API's certificate chain and private key
/// (`serve.tls_cert` / `--tls-cert`, `serve.tls_key` / `--tls-key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (PEM `CERTIFICATE` blocks).
    pub cert: PathBuf,
    /// The private key of the leaf (PEM PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Why the TLS files cannot be used. Each message starts with the config key
/// and flag it concerns, so that a bad path is found at once.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("serve.{key} (--{}): cannot read {path}: {error}", .key.replace('_', "-"))]
    Read {
        /// `tls_cert` or `tls_key`.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error (part of the message, so not a `source`).
        error: std::io::Error,
    },
    /// The certificate file holds no usable PEM certificate.
    #[error("serve.tls_cert (--tls-cert): {path} holds no PEM certificate{detail}")]
    NoCertificate {
        /// The file.
        path: PathBuf,
        /// What the PEM parser said, if anything.
        detail: String,
    },
    /// The key file holds no usable PEM private key.
    #[error(
        "serve.tls_key (--tls-key): {path} holds no PEM private key (PKCS#8, PKCS#1 or SEC1){detail}"
    )]
    NoKey {
        /// The file.
        path: PathBuf,
        /// What the PEM parser said, if anything.
        detail: String,
    },
    /// rustls refused the pair (e.g. the key does not belong to the certificate).
    #[error("serve.tls_cert / serve.tls_key: {cert} and {key} cannot be used together: {problem}")]
    Refused {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls' reason.
        problem: String,
    },
}

impl TlsFiles {
    /// Reads both files and builds the server side of TLS (TLS 1.2 and 1.3,
    /// HTTP/1.1 announced through ALPN).
    pub fn load(&self) -> Result<TlsAcceptor, TlsError> {
        let cert_pem = read(&self.cert, "tls_cert")?;
        let key_pem = read(&self.key, "tls_key")?;
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(&cert_pem).collect::<Result<_, _>>().map_err(|e| {
                TlsError::NoCertificate { path: self.cert.clone(), detail: format!(": {e}") }
            })?;
        if certs.is_empty() {
            return Err(TlsError::NoCertificate { path: self.cert.clone(), detail: String::new() });
        }
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::NoKey {
            path: self.key.clone(),
            detail: match e {
                rustls::pki_types::pem::Error::NoItemsFound => String::new(),
                e => format!(": {e}"),
            },
        })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let refused = |e: rustls::Error| TlsError::Refused {
            cert: self.cert.clone(),
            key: self.key.clone(),
            problem: e.to_string(),
        };
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(refused)?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(refused)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

fn read(path: &Path, key: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Read { key, path: path.to_path_buf(), error })
}
