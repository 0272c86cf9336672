//! The listening side: a rustls server configuration from a service's files, and the
//! stream of connections a [`crate::Shell`] serves — TLS handshakes run beside the accept
//! loop (one slow client holds up no one), each connection carrying its [`Peer`].

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::Connected;

use super::peer::{Peer, identity_of};
use super::{TlsConfig, TlsFiles, read_pem};
use crate::Error;

/// How long a client has to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepted connections waiting for the server.
const ACCEPT_QUEUE: usize = 128;

/// TLS handshakes in progress at once; past it the accept loop waits, so a flood of
/// connections that never finish their handshake cannot exhaust the file descriptors.
const HANDSHAKES_AT_ONCE: usize = 256;

/// Whether a port's callers must show a certificate of the cluster CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Services only (a runner's and a gateway's ports).
    Required,
    /// People with bearer tokens and services with certificates (the coordinator's port).
    Optional,
}

/// How a port is served: TLS with the service's certificate, or plaintext on loopback.
#[derive(Clone)]
pub struct ServerTls {
    acceptor: Option<TlsAcceptor>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("tls", &self.acceptor.is_some())
            .finish()
    }
}

impl ServerTls {
    /// The transport `config` asks for on `address`: plaintext only on a loopback address
    /// and only when asked for; otherwise TLS with `client_auth`.
    pub fn new(
        config: &TlsConfig,
        address: SocketAddr,
        client_auth: ClientAuth,
    ) -> Result<Self, Error> {
        match config.files()? {
            None if address.ip().is_loopback() => Ok(Self { acceptor: None }),
            None => Err(Error::Tls(format!(
                "refusing to serve plaintext on {address}: plaintext is allowed only on \
                 loopback; give --tls-cert, --tls-key and --tls-ca"
            ))),
            Some(files) => Ok(Self {
                acceptor: Some(TlsAcceptor::from(Arc::new(server_config(
                    files,
                    client_auth,
                )?))),
            }),
        }
    }

    /// The transport of a port browsers use (the web UI): as [`new`](Self::new) — plaintext
    /// only on loopback — but asking for no client certificate (a browser would prompt for
    /// one) and speaking HTTP/1.1.
    pub fn https(config: &TlsConfig, address: SocketAddr) -> Result<Self, Error> {
        match config.files()? {
            None if address.ip().is_loopback() => Ok(Self { acceptor: None }),
            None => Err(Error::Tls(format!(
                "refusing to serve the web UI in plaintext on {address}: plaintext is allowed \
                 only on loopback; give --tls-cert, --tls-key and --tls-ca"
            ))),
            Some(files) => Ok(Self {
                acceptor: Some(TlsAcceptor::from(Arc::new(https_config(files)?))),
            }),
        }
    }

    /// Plaintext on a loopback listener (in-process services and tests).
    pub fn plaintext() -> Self {
        Self { acceptor: None }
    }

    /// Whether connections are TLS.
    pub fn is_tls(&self) -> bool {
        self.acceptor.is_some()
    }

    /// The connections of `listener` until `stop`, handshaken when TLS.
    pub fn incoming(
        &self,
        listener: TcpListener,
        stop: CancellationToken,
    ) -> ReceiverStream<io::Result<Conn>> {
        let (sender, receiver) = mpsc::channel(ACCEPT_QUEUE);
        tokio::spawn(accept_loop(listener, self.acceptor.clone(), sender, stop));
        ReceiverStream::new(receiver)
    }
}

/// The rustls configuration of a TLS port: the service's chain and key, ALPN h2, and the
/// cluster CA as the verifier of client certificates.
fn server_config(
    files: TlsFiles<'_>,
    client_auth: ClientAuth,
) -> Result<rustls::ServerConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots(files.ca)?), provider.clone());
    let verifier = match client_auth {
        ClientAuth::Required => verifier,
        ClientAuth::Optional => verifier.allow_unauthenticated(),
    }
    .build()
    .map_err(|e| Error::Tls(format!("the CA {}: {e}", files.ca.display())))?;
    let builder = versions(provider)?.with_client_cert_verifier(verifier);
    with_certificate(builder, files, b"h2")
}

/// The rustls configuration of a browser-facing port: the service's chain and key, no
/// client certificates, ALPN http/1.1.
fn https_config(files: TlsFiles<'_>) -> Result<rustls::ServerConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = versions(provider)?.with_no_client_auth();
    with_certificate(builder, files, b"http/1.1")
}

/// A server configuration with rustls's default protocol versions.
fn versions(
    provider: Arc<rustls::crypto::CryptoProvider>,
) -> Result<rustls::ConfigBuilder<rustls::ServerConfig, rustls::WantsVerifier>, Error> {
    rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .map_err(|e| Error::Tls(e.to_string()))
}

/// Finishes `builder` with the service's certificate chain and key, speaking `alpn`.
fn with_certificate(
    builder: rustls::ConfigBuilder<rustls::ServerConfig, rustls::server::WantsServerCert>,
    files: TlsFiles<'_>,
    alpn: &[u8],
) -> Result<rustls::ServerConfig, Error> {
    let mut config = builder
        .with_single_cert(certificates(files.cert)?, private_key(files.key)?)
        .map_err(|e| {
            Error::Tls(format!(
                "{} with {}: {e}",
                files.cert.display(),
                files.key.display()
            ))
        })?;
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(config)
}

/// The CA certificates of `path` as trust anchors.
fn roots(path: &std::path::Path) -> Result<RootCertStore, Error> {
    roots_of(path, &read_pem("CA", path)?)
}

/// The CA certificates in `pem` (read from `path`) as trust anchors.
pub(super) fn roots_of(path: &std::path::Path, pem: &[u8]) -> Result<RootCertStore, Error> {
    let mut roots = RootCertStore::empty();
    for certificate in certificates_of(path, pem)? {
        roots
            .add(certificate)
            .map_err(|e| Error::Tls(format!("the CA {}: {e}", path.display())))?;
    }
    Ok(roots)
}

pub(super) fn certificates(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    certificates_of(path, &read_pem("certificate", path)?)
}

/// The PEM certificates in `pem` (read from `path`, which errors name).
fn certificates_of(
    path: &std::path::Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Tls(format!("{}: {e}", path.display())))?;
    if certificates.is_empty() {
        return Err(Error::Tls(format!(
            "{}: no PEM certificate in it",
            path.display()
        )));
    }
    Ok(certificates)
}

fn private_key(path: &std::path::Path) -> Result<PrivateKeyDer<'static>, Error> {
    let pem = read_pem("private key", path)?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| Error::Tls(format!("{}: no usable private key ({e})", path.display())))
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    sender: mpsc::Sender<io::Result<Conn>>,
    stop: CancellationToken,
) {
    let handshakes = Arc::new(tokio::sync::Semaphore::new(HANDSHAKES_AT_ONCE));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => return,
            () = sender.closed() => return,
        };
        let (tcp, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors and the like: pause rather than spin.
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        match &acceptor {
            None => {
                let conn = Conn::plain(tcp, remote);
                if sender.send(Ok(conn)).await.is_err() {
                    return;
                }
            }
            Some(acceptor) => {
                let Ok(permit) = handshakes.clone().acquire_owned().await else {
                    return;
                };
                let (acceptor, sender) = (acceptor.clone(), sender.clone());
                tokio::spawn(async move {
                    handshake(acceptor, tcp, remote, sender).await;
                    drop(permit);
                });
            }
        }
    }
}

/// Runs one TLS handshake and hands the connection over; a failed one is only logged.
async fn handshake(
    acceptor: TlsAcceptor,
    tcp: TcpStream,
    remote: SocketAddr,
    sender: mpsc::Sender<io::Result<Conn>>,
) {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => {
            let _ = sender.send(Ok(Conn::tls(tls, remote))).await;
        }
        // A connection closed before any handshake: a TCP health probe, not worth a line.
        Ok(Err(error)) if error.kind() == io::ErrorKind::UnexpectedEof => {
            tracing::debug!(%remote, "a connection closed before its TLS handshake");
        }
        Ok(Err(error)) => tracing::info!(%remote, %error, "refused a TLS handshake"),
        Err(_) => tracing::info!(%remote, "a TLS handshake timed out"),
    }
}

/// One accepted connection, plaintext or TLS, with the peer it proved.
#[derive(Debug)]
pub struct Conn {
    io: ConnIo,
    peer: Peer,
}

#[derive(Debug)]
enum ConnIo {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Conn {
    fn plain(tcp: TcpStream, remote: SocketAddr) -> Self {
        Self {
            io: ConnIo::Plain(tcp),
            peer: Peer {
                remote,
                identity: None,
                secure: false,
            },
        }
    }

    fn tls(tls: TlsStream<TcpStream>, remote: SocketAddr) -> Self {
        let identity = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| identity_of(leaf));
        Self {
            io: ConnIo::Tls(Box::new(tls)),
            peer: Peer {
                remote,
                identity,
                secure: true,
            },
        }
    }
}

impl Conn {
    /// The peer of the connection.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }
}

impl Connected for Conn {
    type ConnectInfo = Peer;

    fn connect_info(&self) -> Peer {
        self.peer.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            ConnIo::Plain(io) => Pin::new(io).poll_read(cx, buf),
            ConnIo::Tls(io) => Pin::new(io.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            ConnIo::Plain(io) => Pin::new(io).poll_write(cx, buf),
            ConnIo::Tls(io) => Pin::new(io.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            ConnIo::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            ConnIo::Tls(io) => Pin::new(io.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            ConnIo::Plain(io) => io.is_write_vectored(),
            ConnIo::Tls(io) => io.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            ConnIo::Plain(io) => Pin::new(io).poll_flush(cx),
            ConnIo::Tls(io) => Pin::new(io.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            ConnIo::Plain(io) => Pin::new(io).poll_shutdown(cx),
            ConnIo::Tls(io) => Pin::new(io.as_mut()).poll_shutdown(cx),
        }
    }
}
