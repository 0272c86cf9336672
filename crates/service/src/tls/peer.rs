//! Who is on the other end of a connection: the [`Peer`] every request carries in its
//! extensions, and [`PeerGuard`], the interceptor by which a runner or a gateway admits
//! only the coordinator — by its certificate on a TLS port, and on a plaintext loopback port
//! by the process token of the process that started the service, when it has one.

use std::net::SocketAddr;

use aide_core::access::TokenHash;
use aide_core::service_identity::{ServiceIdentity, ServiceKind};
use aide_proto::bearer::token_of;
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

    /// Whether the connection is TLS and its certificate proves a service of `kind`
    /// (plaintext callers are judged by [`PeerGuard`]'s process token instead).
    pub fn admits(&self, kind: ServiceKind) -> bool {
        self.secure && self.identity.as_ref().is_some_and(|id| id.kind == kind)
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

/// Admits requests from services of one kind; refuses the rest with `PERMISSION_DENIED`.
/// A TLS port that requires client certificates has already refused callers without one
/// at the handshake. On a plaintext loopback port it admits the requests that carry the
/// process token when it has one (`aide run` and `aide serve` make one per process for
/// their in-process services), else every request (plaintext by explicit choice).
#[derive(Debug, Clone, Copy)]
pub struct PeerGuard {
    admitted: ServiceKind,
    process_token: Option<TokenHash>,
}

impl PeerGuard {
    pub fn only(admitted: ServiceKind) -> Self {
        Self {
            admitted,
            process_token: None,
        }
    }

    /// Also requires, on a plaintext port, the token whose hash is `token`.
    pub fn with_process_token(mut self, token: Option<TokenHash>) -> Self {
        self.process_token = token;
        self
    }

    /// Checks one request's peer.
    pub fn check<T>(&self, request: &tonic::Request<T>) -> Result<(), Status> {
        match Peer::of(request) {
            Some(peer) if !peer.secure => check_process_token(self.process_token, request),
            Some(peer) if peer.admits(self.admitted) => Ok(()),
            peer => Err(Status::permission_denied(format!(
                "only the {} may call this service; {} may not",
                self.admitted,
                peer.and_then(|p| p.identity.as_ref()).map_or_else(
                    || "a caller whose certificate names no aide service".into(),
                    |id| id.uri()
                )
            ))),
        }
    }
}

/// `Ok` when no process token is required, or the request carries it.
pub fn check_process_token<T>(
    required: Option<TokenHash>,
    request: &tonic::Request<T>,
) -> Result<(), Status> {
    let Some(required) = required else {
        return Ok(());
    };
    match token_of(request.metadata()) {
        Ok(token) if token.hash() == required => Ok(()),
        _ => Err(Status::unauthenticated(
            "this service takes calls only from the process that started it",
        )),
    }
}

impl Interceptor for PeerGuard {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        self.check(&request)?;
        Ok(request)
    }
}
