//! The HTTP listener: connections from the shared TLS accept loop (handshakes beside the
//! accept loop, HTTP/1.1 over TLS), or plaintext on loopback, handed to axum.

use std::io;
use std::net::SocketAddr;

use aide_service::tls::{Conn, ServerTls, TlsConfig};
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

/// A bound HTTP port.
#[derive(Debug)]
pub struct HttpListener {
    connections: ReceiverStream<io::Result<Conn>>,
    address: SocketAddr,
    tls: bool,
}

impl HttpListener {
    /// Serves `listener` as `tls` asks: TLS with the coordinator's certificate, or plaintext
    /// on loopback only. Stops accepting at `stop`.
    pub fn new(
        listener: TcpListener,
        tls: &TlsConfig,
        stop: CancellationToken,
    ) -> Result<Self, aide_service::Error> {
        let address = listener
            .local_addr()
            .map_err(aide_service::Error::Listener)?;
        let server_tls = ServerTls::https(tls, address)?;
        Ok(Self {
            tls: server_tls.is_tls(),
            connections: server_tls.incoming(listener, stop),
            address,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Whether browsers reach it over TLS (its session cookies are then `Secure`).
    pub fn is_tls(&self) -> bool {
        self.tls
    }
}

impl axum::serve::Listener for HttpListener {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        loop {
            match self.connections.next().await {
                Some(Ok(conn)) => {
                    let remote = conn.peer().remote;
                    return (conn, remote);
                }
                Some(Err(e)) => tracing::debug!(error = %e, "an HTTP connection failed"),
                // The accept loop stopped (shutdown): wait for axum's graceful shutdown.
                None => std::future::pending::<()>().await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.address)
    }
}
