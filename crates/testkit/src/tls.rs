//! A throwaway cluster CA for a test (feature `services`): certificates for services issued
//! as `aide certs issue` issues them, and the flags that hand one to a service binary.

use std::path::PathBuf;

use aide_core::service_identity::{ServiceIdentity, ServiceKind};
use aide_service::tls::{TlsConfig, certs};

/// A CA in a temporary directory, removed on drop.
#[derive(Debug)]
pub struct TestCa {
    dir: tempfile::TempDir,
}

impl TestCa {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        certs::make_ca(dir.path(), 2).expect("make the test CA");
        Self { dir }
    }

    /// The CA certificate (what clients trust).
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join(certs::CA_CERT)
    }

    /// A certificate naming `aide://<kind>/<name>`, reachable at `hosts` and on loopback.
    pub fn issue(&self, kind: ServiceKind, name: &str, hosts: &[&str]) -> TlsConfig {
        let identity = ServiceIdentity {
            kind,
            name: name.parse().expect("a service name"),
        };
        let hosts: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
        certs::issue(self.dir.path(), &identity, &hosts, 2).expect("issue a test certificate")
    }
}

impl Default for TestCa {
    fn default() -> Self {
        Self::new()
    }
}

/// `--tls-cert … --tls-key … --tls-ca …` for `config`, or `--plaintext`.
pub fn flags(config: &TlsConfig) -> Vec<String> {
    let path = |p: &Option<PathBuf>| p.as_ref().expect("a TLS file").display().to_string();
    match config.plaintext {
        true => vec!["--plaintext".into()],
        false => vec![
            "--tls-cert".into(),
            path(&config.cert),
            "--tls-key".into(),
            path(&config.key),
            "--tls-ca".into(),
            path(&config.ca),
        ],
    }
}
