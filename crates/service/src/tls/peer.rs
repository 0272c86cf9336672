//! Who is on the other end of a connection: the [`Peer`] every request carries in its
//! extensions, and [`PeerGuard`], the interceptor by which a runner or a gateway admits
//! only the coordinator.

use std::net::SocketAddr;

use aide_core::service_identity::{ServiceIdentity, ServiceKind};
use tonic::Status;
use tonic::service::Interceptor;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The far end of a connection, as proven at its handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub remote: SocketAddr,
    /// The identity its client certificate proves; `None` without one (and on plaintext).
    pub identity: Option<ServiceIdentity>,
    /// Whether the connection is TLS.
    pub secure: bool,
}

impl Peer {
    /// The peer of a request (`None` when it did not come through a [`crate::Shell`]'s
    /// listener, which guards then treat as unknown).
    pub fn of<T>(request: &tonic::Request<T>) -> Option<&Peer> {
        request.extensions().get::<Peer>()
    }

    /// Whether a service of `kind` proved itself, or the connection is plaintext (which a
    /// deployment allows only on loopback, and trusts like it).
    pub fn admits(&self, kind: ServiceKind) -> bool {
        !self.secure || self.identity.as_ref().is_some_and(|id| id.kind == kind)
    }
}

/// The aide identity among a certificate's subject names (the first `aide://` URI that
/// parses); `None` for a certificate without one.
pub fn identity_of(certificate_der: &[u8]) -> Option<ServiceIdentity> {
    let (_, certificate) = X509Certificate::from_der(certificate_der).ok()?;
    let names = certificate.subject_alternative_name().ok()??;
    names
        .value
        .general_names
        .iter()
        .find_map(|name| match name {
            GeneralName::URI(uri) => uri.parse().ok(),
            _ => None,
        })
}

/// Admits requests from services of one kind (and, on a plaintext loopback port, every
/// request); refuses the rest with `PERMISSION_DENIED`. A TLS port that requires client
/// certificates has already refused callers without one at the handshake.
#[derive(Debug, Clone, Copy)]
pub struct PeerGuard {
    admitted: ServiceKind,
}

impl PeerGuard {
    pub fn only(admitted: ServiceKind) -> Self {
        Self { admitted }
    }

    /// Checks one request's peer.
    pub fn check<T>(&self, request: &tonic::Request<T>) -> Result<(), Status> {
        match Peer::of(request) {
            Some(peer) if peer.admits(self.admitted) => Ok(()),
            peer => Err(Status::permission_denied(format!(
                "only the {} may call this service; {} may not",
                self.admitted,
                peer.and_then(|p| p.identity.as_ref())
                    .map_or_else(|| "a caller without its certificate".into(), |id| id.uri())
            ))),
        }
    }
}

impl Interceptor for PeerGuard {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        self.check(&request)?;
        Ok(request)
    }
}
