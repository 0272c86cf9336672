//! Making a cluster CA and per-service certificates (what `aide certs` runs, and tests):
//! the CA in a directory (`ca.pem`, and `ca.key` readable by its owner only); a service's
//! certificate signed by it, its identity the URI `aide://<kind>/<name>` among its subject
//! names next to the DNS names and addresses it is reached at (plus `localhost` and
//! 127.0.0.1), as `<name>.pem` and `<name>.key` (0600). Nothing is ever overwritten.

use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use aide_core::service_identity::ServiceIdentity;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use super::TlsConfig;
use crate::Error;

/// The CA's certificate file in a certificate directory.
pub const CA_CERT: &str = "ca.pem";
/// The CA's private key file.
pub const CA_KEY: &str = "ca.key";

/// Makes the cluster CA in `dir`, valid for `days`; returns the certificate's path.
pub fn make_ca(dir: &Path, days: u32) -> Result<PathBuf, Error> {
    let key = KeyPair::generate().map_err(cert_error)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "aide cluster CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    valid_for(&mut params, days)?;
    let cert = params.self_signed(&key).map_err(cert_error)?;
    std::fs::create_dir_all(dir).map_err(|source| io_error(dir, source))?;
    write_new(&dir.join(CA_KEY), &key.serialize_pem(), 0o600)?;
    write_new(&dir.join(CA_CERT), &cert.pem(), 0o644)?;
    Ok(dir.join(CA_CERT))
}

/// Signs a certificate for `identity` with the CA of `dir`, reachable at `hosts`, valid for
/// `days`; returns the TLS settings that use it.
pub fn issue(
    dir: &Path,
    identity: &ServiceIdentity,
    hosts: &[String],
    days: u32,
) -> Result<TlsConfig, Error> {
    let read = |file: &str| {
        let path = dir.join(file);
        std::fs::read_to_string(&path).map_err(|source| io_error(&path, source))
    };
    let ca_key = KeyPair::from_pem(&read(CA_KEY)?).map_err(cert_error)?;
    let issuer = Issuer::from_ca_cert_pem(&read(CA_CERT)?, ca_key).map_err(cert_error)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
    params.distinguished_name.push(
        DnType::CommonName,
        format!("aide {} {}", identity.kind, identity.name),
    );
    params.subject_alt_names = subject_names(&identity.uri(), hosts)?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    valid_for(&mut params, days)?;
    let key = KeyPair::generate().map_err(cert_error)?;
    let cert = params.signed_by(&key, &issuer).map_err(cert_error)?;
    let name = identity.name.as_str();
    let (cert_path, key_path) = (
        dir.join(format!("{name}.pem")),
        dir.join(format!("{name}.key")),
    );
    write_new(&key_path, &key.serialize_pem(), 0o600)?;
    write_new(&cert_path, &cert.pem(), 0o644)?;
    Ok(TlsConfig {
        cert: Some(cert_path),
        key: Some(key_path),
        ca: Some(dir.join(CA_CERT)),
        plaintext: false,
    })
}

/// The identity URI, then each host as an address or a DNS name, then the loopback names.
fn subject_names(identity: &str, hosts: &[String]) -> Result<Vec<SanType>, Error> {
    let mut names = vec![SanType::URI(identity.try_into().map_err(cert_error)?)];
    let loopback = ["localhost".to_owned(), "127.0.0.1".to_owned()];
    for host in hosts.iter().chain(&loopback) {
        let host = host.trim();
        let name = match host.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(host.try_into().map_err(|_| {
                Error::Tls(format!("host {host:?}: not a DNS name or an IP address"))
            })?),
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

/// Valid from an hour ago (clocks differ) for `days` days.
fn valid_for(params: &mut CertificateParams, days: u32) -> Result<(), Error> {
    if days == 0 || days > 36_500 {
        return Err(Error::Tls("days: between 1 and 36500".into()));
    }
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(i64::from(days));
    Ok(())
}

/// Writes a file that must not exist yet, with `mode`.
fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), Error> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => Error::Tls(format!(
                "{}: exists; nothing was overwritten",
                path.display()
            )),
            _ => io_error(path, source),
        })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|source| io_error(path, source))
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        source,
    }
}

fn cert_error(err: rcgen::Error) -> Error {
    Error::Tls(format!("certificate: {err}"))
}
