//! How a service's port and its calls to other services are secured (ARCHITECTURE §10):
//! mutual TLS under one cluster CA, or plaintext on loopback when explicitly asked for.
//!
//! - [`TlsConfig`] / [`TlsArgs`]: the `[tls]` table and the `--tls-*` / `--plaintext` flags
//!   every service takes;
//! - [`server`]: the listener side — handshakes off the accept loop, each connection
//!   carrying the [`Peer`] it proved;
//! - [`certs`]: a cluster CA and service certificates (`aide certs`);
//! - [`client`]: the [`Dialer`] a service or client calls others with;
//! - [`peer`]: reading the identity out of a certificate, and [`PeerGuard`], which admits
//!   only the services a port serves.

pub mod certs;
pub mod client;
pub mod peer;
pub mod server;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;

pub use client::Dialer;
pub use peer::{Peer, PeerGuard};
pub use server::{ClientAuth, Conn, ServerTls};

/// A service's TLS settings: its certificate and key (issued by `aide certs issue`), the
/// cluster CA that signs its peers, or `plaintext` (loopback only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// The service's certificate (PEM), naming it as `aide://<kind>/<name>`.
    pub cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub key: Option<PathBuf>,
    /// The cluster CA (PEM) that every peer's certificate must chain to.
    pub ca: Option<PathBuf>,
    /// Serve and dial without TLS; refused unless the listener is on loopback.
    pub plaintext: bool,
}

/// The three files of a TLS service, all present.
#[derive(Debug, Clone, Copy)]
pub struct TlsFiles<'a> {
    pub cert: &'a Path,
    pub key: &'a Path,
    pub ca: &'a Path,
}

impl TlsConfig {
    /// Plaintext, as in-process services on loopback use it.
    pub fn plaintext() -> Self {
        Self {
            plaintext: true,
            ..Self::default()
        }
    }

    /// The certificate, key and CA when TLS is configured; `None` for plaintext. Errors
    /// when only some files are given, or both TLS and plaintext, or neither.
    pub fn files(&self) -> Result<Option<TlsFiles<'_>>, Error> {
        match (&self.cert, &self.key, &self.ca, self.plaintext) {
            (Some(cert), Some(key), Some(ca), false) => Ok(Some(TlsFiles { cert, key, ca })),
            (None, None, None, true) => Ok(None),
            (None, None, None, false) => Err(Error::Tls(
                "no TLS certificate is configured: give --tls-cert, --tls-key and --tls-ca \
                 (`aide certs issue` makes them), or --plaintext to serve without TLS on \
                 loopback"
                    .into(),
            )),
            (_, _, _, true) => Err(Error::Tls(
                "--plaintext and --tls-* were both given: choose one".into(),
            )),
            _ => Err(Error::Tls(
                "TLS needs all three of --tls-cert, --tls-key and --tls-ca".into(),
            )),
        }
    }
}

/// The TLS flags of a service binary (each with its `AIDE_TLS_*` variable).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// This service's certificate (PEM) from `aide certs issue`.
    #[arg(long, env = "AIDE_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// This service's private key (PEM).
    #[arg(long, env = "AIDE_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// The cluster CA (PEM) its peers' certificates chain to.
    #[arg(long, env = "AIDE_TLS_CA")]
    pub tls_ca: Option<PathBuf>,
    /// Serve and dial without TLS: allowed only when listening on loopback.
    #[arg(long, env = "AIDE_PLAINTEXT")]
    pub plaintext: bool,
}

impl crate::Overlay<TlsConfig> for TlsArgs {
    fn apply(&self, config: &mut TlsConfig) {
        crate::config::set_some(&mut config.cert, &self.tls_cert);
        crate::config::set_some(&mut config.key, &self.tls_key);
        crate::config::set_some(&mut config.ca, &self.tls_ca);
        config.plaintext |= self.plaintext;
    }
}

/// Reads a PEM file for `what`, naming it in the error.
fn read_pem(what: &'static str, path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })
        .and_then(|bytes| match bytes.is_empty() {
            true => Err(Error::Tls(format!("{what} {} is empty", path.display()))),
            false => Ok(bytes),
        })
}

/// The identity the configured certificate proves (`None` for plaintext): what a service
/// is called by its peers, so a runner's id defaults to it.
pub fn own_identity(
    config: &TlsConfig,
) -> Result<Option<aide_core::service_identity::ServiceIdentity>, Error> {
    let Some(files) = config.files()? else {
        return Ok(None);
    };
    let chain = server::certificates(files.cert)?;
    peer::identity_of(&chain[0]).map(Some).ok_or_else(|| {
        Error::Tls(format!(
            "{} names no aide identity (aide://<kind>/<name>); issue it with `aide certs issue`",
            files.cert.display()
        ))
    })
}
