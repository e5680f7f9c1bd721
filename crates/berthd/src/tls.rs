//! TLS for the API on TCP (dockerd's `--tls`, `--tlsverify`, `--tlscacert`, `--tlscert`,
//! `--tlskey`): what a TCP listener may serve, and the rustls server configuration.
//!
//! The policy follows dockerd 27+: whoever reaches an unauthenticated API port is root on the
//! host, so TCP needs TLS; `--tlsverify` (mutual TLS, client certificates checked against the
//! CA) is the safe mode, `--tls` alone (encrypted, anyone may connect) starts with a loud
//! warning, and plain HTTP is served only when the operator says `--tls=false` and the address
//! is a loopback one (dockerd refuses unencrypted non-local TCP as well).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The TLS settings as given (flags over daemon.json); `None`: not said either way.
#[derive(Debug, Default, Clone)]
pub struct TlsSettings {
    pub tls: Option<bool>,
    pub verify: Option<bool>,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// What the TCP listeners serve.
#[derive(Clone)]
pub enum Security {
    /// Plain HTTP (loopback only, by the operator's explicit choice).
    Plain,
    /// HTTPS; with or without client certificates, as the config says.
    Tls(Arc<ServerConfig>),
}

/// The directory of the default certificate files: `$DOCKER_CERT_PATH` as dockerd reads it
/// (or Berth's `$BERTH_CERT_PATH`), else `~/.berth` as dockerd's `~/.docker`.
pub fn default_cert_dir() -> PathBuf {
    for var in ["BERTH_CERT_PATH", "DOCKER_CERT_PATH"] {
        if let Some(dir) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            return PathBuf::from(dir);
        }
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".berth")
}

impl TlsSettings {
    fn file(&self, given: &Option<PathBuf>, name: &str) -> PathBuf {
        given
            .clone()
            .unwrap_or_else(|| default_cert_dir().join(name))
    }

    /// Decides what the TCP listeners at `tcp` serve (nothing to decide without one).
    pub fn security(&self, tcp: &[SocketAddr]) -> Result<Option<Security>> {
        let Some(first) = tcp.first() else {
            return Ok(None);
        };
        let verify = self.verify == Some(true);
        if verify || self.tls == Some(true) {
            let config = self.server_config(verify)?;
            if !verify {
                for addr in tcp {
                    tracing::warn!(
                        "API on tcp://{addr} uses TLS WITHOUT --tlsverify: any client that reaches \
                         the port can run containers as root on this host. Use --tlsverify with \
                         client certificates."
                    );
                }
            }
            return Ok(Some(Security::Tls(Arc::new(config))));
        }
        if self.tls != Some(false) && self.verify != Some(false) {
            bail!(
                "refusing to listen on tcp://{first} without TLS: anyone who reaches the port \
                 controls this host as root. Use --tlsverify with --tlscacert, --tlscert and \
                 --tlskey (or ssh:// from the client); to serve plain HTTP on a loopback address \
                 anyway, pass --tls=false"
            );
        }
        if let Some(open) = tcp.iter().find(|a| !a.ip().is_loopback()) {
            bail!(
                "refusing to serve the API on tcp://{open} without TLS: only a loopback address \
                 may go unencrypted (as with dockerd 27+); use --tlsverify"
            );
        }
        for addr in tcp {
            tracing::warn!(
                "API on tcp://{addr} is plain HTTP WITHOUT TLS (--tls=false): every local user \
                 and every script a local browser runs can control this host as root"
            );
        }
        Ok(Some(Security::Plain))
    }

    fn server_config(&self, verify: bool) -> Result<ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?;
        let builder = match verify {
            true => {
                let ca = self.file(&self.ca, "ca.pem");
                let roots = root_store(&ca)?;
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .with_context(|| format!("--tlscacert {}", ca.display()))?;
                builder.with_client_cert_verifier(verifier)
            }
            false => builder.with_no_client_auth(),
        };
        let cert = self.file(&self.cert, "cert.pem");
        let key = self.file(&self.key, "key.pem");
        let mut config = builder
            .with_single_cert(certificates(&cert)?, private_key(&key)?)
            .with_context(|| {
                format!(
                    "--tlscert {} and --tlskey {} do not make a usable pair",
                    cert.display(),
                    key.display()
                )
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// The certificates of a PEM file (a chain: the leaf first).
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("read certificates from {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("invalid PEM in {}", path.display()))?;
    if certs.is_empty() {
        bail!("no certificate in {}", path.display());
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1, as openssl writes them).
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path)
        .with_context(|| format!("read a private key from {}", path.display()))
}

/// The CA certificates clients' certificates must chain to.
fn root_store(path: &Path) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(path)? {
        roots
            .add(cert)
            .with_context(|| format!("CA certificate in {}", path.display()))?;
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn tcp_without_tls_is_refused_unless_said_and_loopback() {
        let none = TlsSettings::default();
        assert!(none.security(&[]).unwrap().is_none());
        let err = none.security(&[addr("127.0.0.1:2375")]).err().unwrap();
        assert!(err.to_string().contains("without TLS"), "{err}");
        let plain = TlsSettings {
            tls: Some(false),
            ..Default::default()
        };
        let ok = plain.security(&[addr("127.0.0.1:2375")]).unwrap();
        assert!(matches!(ok, Some(Security::Plain)));
        let err = plain.security(&[addr("0.0.0.0:2375")]).err().unwrap();
        assert!(err.to_string().contains("only a loopback"), "{err}");
    }

    #[test]
    fn missing_certificate_files_are_named() {
        let s = TlsSettings {
            verify: Some(true),
            ca: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        let err = s.security(&[addr("127.0.0.1:2376")]).err().unwrap();
        assert!(
            format!("{err:#}").contains("/nonexistent/ca.pem"),
            "{err:#}"
        );
    }
}
