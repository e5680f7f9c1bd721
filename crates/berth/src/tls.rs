//! TLS to a remote daemon (`--tls`, `--tlsverify`, `--tlscacert`, `--tlscert`, `--tlskey`,
//! `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`, as the docker CLI reads them), with rustls over a
//! blocking `TcpStream`.
//!
//! Why a hand-made shared stream rather than `rustls::StreamOwned`: an attach reads the output
//! on one thread while another writes stdin, and a TLS connection cannot be cloned. The
//! rustls state sits behind a mutex that is never held while blocking on the socket; the
//! reader waits on the socket alone, and writes (the writer's data and any record the reader
//! must answer) go out under one lock so records stay in order.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{AlertDescription, ClientConfig, ClientConnection, DigitallySignedStruct};

/// What the user asked for: `--tls`, `--tlsverify` and the three files.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Check the daemon's certificate against the CA (`--tlsverify`); without it `--tls`
    /// encrypts but trusts any server, as docker's `--tls`.
    pub verify: bool,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// The directory holding ca.pem, cert.pem and key.pem when no file is named:
/// `$BERTH_CERT_PATH`, `$DOCKER_CERT_PATH`, else `~/.berth` (the docker CLI's `~/.docker`).
pub fn cert_dir() -> PathBuf {
    for var in ["BERTH_CERT_PATH", "DOCKER_CERT_PATH"] {
        if let Some(dir) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            return PathBuf::from(dir);
        }
    }
    crate::context::config_dir()
}

fn err(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn read_certs(path: &Path) -> io::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(format!("could not read {}: {e}", path.display())))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(format!("invalid PEM in {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(err(format!("no certificate in {}", path.display())));
    }
    Ok(certs)
}

impl TlsOptions {
    /// The rustls configuration: roots (or none when not verifying) and the client
    /// certificate when one is named or present in the certificate directory.
    pub fn client_config(&self) -> io::Result<Arc<ClientConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| err(format!("TLS: {e}")))?;
        let dir = cert_dir();
        let builder = if self.verify {
            let ca = self.ca.clone().unwrap_or_else(|| dir.join("ca.pem"));
            let mut roots = rustls::RootCertStore::empty();
            for c in read_certs(&ca)? {
                roots
                    .add(c)
                    .map_err(|e| err(format!("CA certificate {}: {e}", ca.display())))?;
            }
            builder.with_root_certificates(roots)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyServer(provider)))
        };
        let named = self.cert.is_some() || self.key.is_some();
        let cert = self.cert.clone().unwrap_or_else(|| dir.join("cert.pem"));
        let key = self.key.clone().unwrap_or_else(|| dir.join("key.pem"));
        let mut config = if named || (cert.exists() && key.exists()) {
            let key_der = PrivateKeyDer::from_pem_file(&key)
                .map_err(|e| err(format!("could not read key {}: {e}", key.display())))?;
            builder
                .with_client_auth_cert(read_certs(&cert)?, key_der)
                .map_err(|e| err(format!("client certificate {}: {e}", cert.display())))?
        } else {
            builder.with_no_client_auth()
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// `--tls` without `--tlsverify`: any server certificate is accepted (signatures are still
/// checked, so the handshake is sound; only the server's identity is not).
#[derive(Debug)]
struct AnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS error as the user should read it.
fn tls_error(e: rustls::Error) -> io::Error {
    let msg = match &e {
        rustls::Error::AlertReceived(
            a @ (AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown
            | AlertDescription::AccessDenied
            // rustls answers a client certificate signed by another key this way.
            | AlertDescription::DecryptError),
        ) => format!(
            "remote error: tls: {a:?}: the daemon did not accept this client's certificate \
             (pass --tlscert/--tlskey, or DOCKER_CERT_PATH, with a certificate signed by the \
             daemon's CA)"
        ),
        rustls::Error::InvalidCertificate(c) => format!(
            "tls: the daemon's certificate is not trusted: {c:?} (check --tlscacert)"
        ),
        rustls::Error::InvalidMessage(_) => format!(
            "tls: the server did not answer with TLS ({e}); is the daemon serving plain HTTP? \
             then connect without --tls/--tlsverify"
        ),
        _ => format!("tls: {e}"),
    };
    io::Error::new(io::ErrorKind::ConnectionRefused, msg)
}

/// One TLS connection, shareable between a reading and a writing thread.
#[derive(Clone)]
pub struct TlsStream(Arc<Shared>);

struct Shared {
    tcp: TcpStream,
    state: Mutex<State>,
    /// Held while records are taken from rustls and written, so they leave in order.
    send: Mutex<()>,
}

struct State {
    conn: ClientConnection,
    /// Ciphertext read but not yet given to rustls.
    pending: Vec<u8>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl TlsStream {
    /// Connects and completes the handshake (so a refused certificate or a plain-HTTP port
    /// is reported here, where it can be named).
    pub fn handshake(
        mut tcp: TcpStream,
        config: Arc<ClientConfig>,
        host: &str,
    ) -> io::Result<TlsStream> {
        let name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']'))
            .map_err(|e| err(format!("invalid server name {host:?}: {e}")))?
            .to_owned();
        let mut conn = ClientConnection::new(config, name).map_err(tls_error)?;
        while conn.is_handshaking() {
            match conn.complete_io(&mut tcp) {
                Ok(_) => {}
                Err(e) => return Err(handshake_error(e)),
            }
        }
        Ok(TlsStream(Arc::new(Shared {
            tcp,
            state: Mutex::new(State {
                conn,
                pending: Vec::new(),
            }),
            send: Mutex::new(()),
        })))
    }

    /// Sends whatever rustls has queued (records, alerts, close_notify).
    fn flush_records(&self) -> io::Result<()> {
        let _order = lock(&self.0.send);
        let mut out = Vec::new();
        {
            let mut st = lock(&self.0.state);
            while st.conn.wants_write() {
                st.conn.write_tls(&mut out)?;
            }
        }
        (&self.0.tcp).write_all(&out)
    }

    /// Closes our sending side (`close_notify`, then the socket's write half): the daemon
    /// sees the end of stdin. `Both` also wakes a reader blocked on the socket (detach).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        lock(&self.0.state).conn.send_close_notify();
        let _ = self.flush_records();
        self.0.tcp.shutdown(how)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The last handle: end the session properly, so the daemon sees a clean close rather
        // than a truncation.
        let st = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        st.conn.send_close_notify();
        let mut out = Vec::new();
        while st.conn.wants_write() {
            if st.conn.write_tls(&mut out).is_err() {
                break;
            }
        }
        let _ = (&self.tcp).write_all(&out);
    }
}

/// Handshake I/O errors: rustls puts its own error inside; an early EOF means the server
/// closed on our ClientHello (berthd's plain port does so).
fn handshake_error(e: io::Error) -> io::Error {
    let closed = [
        io::ErrorKind::UnexpectedEof,
        io::ErrorKind::ConnectionReset,
        io::ErrorKind::ConnectionAborted,
        io::ErrorKind::BrokenPipe,
    ];
    if closed.contains(&e.kind()) {
        return io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "tls: the server closed the connection during the TLS handshake; is the daemon \
             serving plain HTTP? then connect without --tls/--tlsverify",
        );
    }
    if e.get_ref().is_none() {
        return io::Error::other(format!("tls handshake failed: {e}"));
    }
    match e
        .into_inner()
        .map(|inner| inner.downcast::<rustls::Error>())
    {
        Some(Ok(tls)) => tls_error(*tls),
        Some(Err(other)) => io::Error::other(other),
        None => io::Error::other("tls handshake failed"),
    }
}

impl Read for &TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let shared = &self.0;
        loop {
            {
                let mut st = lock(&shared.state);
                match st.conn.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                if !st.pending.is_empty() {
                    let pending = std::mem::take(&mut st.pending);
                    let mut rest = &pending[..];
                    st.conn.read_tls(&mut rest)?;
                    st.pending = rest.to_vec();
                    st.conn.process_new_packets().map_err(tls_error)?;
                    drop(st);
                    self.flush_records()?;
                    continue;
                }
            }
            let mut raw = vec![0u8; 32 << 10];
            let n = (&shared.tcp).read(&mut raw)?;
            let mut st = lock(&shared.state);
            if n == 0 {
                // The socket ended: rustls reports a clean close_notify as EOF, else an
                // unexpected end.
                st.conn.read_tls(&mut &[][..])?;
                st.conn.process_new_packets().map_err(tls_error)?;
                continue;
            }
            st.pending.extend_from_slice(&raw[..n]);
        }
    }
}

impl Write for &TlsStream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = lock(&self.0.state).conn.writer().write(data)?;
        self.flush_records()?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_records()
    }
}
