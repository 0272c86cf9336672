//! The calling side: a [`Dialer`] turns a service URL into a tonic endpoint — TLS with the
//! cluster CA (and, for services, their own certificate as the client's) or plaintext.

use std::path::Path;

use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use super::{TlsConfig, read_pem};
use crate::Error;

/// Dials other services (or, for a client, the coordinator) the way a deployment is set up.
#[derive(Debug, Clone)]
pub struct Dialer {
    tls: Option<ClientTlsConfig>,
}

impl Dialer {
    /// A service's dialer: with TLS files, it trusts the cluster CA and shows its own
    /// certificate; with `plaintext`, it dials without TLS.
    pub fn new(config: &TlsConfig) -> Result<Self, Error> {
        let Some(files) = config.files()? else {
            return Ok(Self::plaintext());
        };
        let identity = Identity::from_pem(
            read_pem("certificate", files.cert)?,
            read_pem("private key", files.key)?,
        );
        Ok(Self {
            tls: Some(trusting(files.ca)?.identity(identity)),
        })
    }

    /// A client's dialer: trusts the CA at `ca`, shows no certificate (it has a token).
    pub fn trusting_ca(ca: &Path) -> Result<Self, Error> {
        Ok(Self {
            tls: Some(trusting(ca)?),
        })
    }

    /// Without TLS.
    pub fn plaintext() -> Self {
        Self { tls: None }
    }

    /// Whether this dialer can speak TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The URL scheme of this dialer's own services: `https` with TLS, `http` without.
    pub fn scheme(&self) -> &'static str {
        if self.is_tls() { "https" } else { "http" }
    }

    /// The endpoint of `url`; its scheme decides. `https://` needs TLS configured (and is
    /// checked against the cluster CA); `http://` is plaintext, allowed only to a loopback
    /// address (a token or a script must never cross a network in clear).
    pub fn endpoint(&self, url: &str) -> Result<Endpoint, Error> {
        let url = url.trim();
        let bad = |why: &str| Error::Tls(format!("{url:?}: {why}"));
        let endpoint = Endpoint::from_shared(url.to_owned()).map_err(|e| bad(&e.to_string()))?;
        let uri = endpoint.uri().clone();
        match (uri.scheme_str(), &self.tls) {
            (Some("https"), Some(tls)) => endpoint
                .tls_config(tls.clone())
                .map_err(|e| bad(&e.to_string())),
            (Some("https"), None) => Err(bad(
                "an https URL, but no CA is configured to check the server with (--tls-ca, \
                 or --ca for a client)",
            )),
            (Some("http"), _) if is_loopback(uri.host()) => Ok(endpoint),
            (Some("http"), _) => Err(bad(
                "plaintext is for loopback only: use https:// (with --ca, or --tls-ca for a \
                 service)",
            )),
            _ => Err(bad("not an http:// or https:// URL")),
        }
    }
}

/// Whether `host` is a loopback address or `localhost`.
fn is_loopback(host: Option<&str>) -> bool {
    let Some(host) = host else { return false };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn trusting(ca: &Path) -> Result<ClientTlsConfig, Error> {
    let pem = read_pem("CA", ca)?;
    // Parsed here so that a bad CA file is reported when the dialer is made, not at the
    // first call.
    super::server::roots_of(ca, &pem)?;
    Ok(ClientTlsConfig::new().ca_certificate(Certificate::from_pem(pem)))
}
