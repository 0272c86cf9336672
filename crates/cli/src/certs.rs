//! `aide certs`: a cluster CA and per-service certificates for a team that has none
//! (ARCHITECTURE §10). `init` makes the CA in a directory (`ca.pem`, and `ca.key` readable by
//! its owner only); `issue` signs a certificate for one service — its identity the URI
//! `aide://<role>/<name>` among its subject names, next to the DNS names and addresses it is
//! reached at (plus `localhost` and 127.0.0.1) — as `<name>.pem` and `<name>.key` (0600).
//! Nothing is ever overwritten.

use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use crate::error::{CliError, EXIT_COMPLETED};

/// Flags of `aide certs`.
#[derive(Debug, Clone, clap::Parser)]
pub struct CertsArgs {
    #[command(subcommand)]
    pub command: CertsCommand,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum CertsCommand {
    /// Make the cluster CA: <dir>/ca.pem and <dir>/ca.key.
    Init {
        #[arg(long)]
        dir: PathBuf,
        /// Days the CA is valid.
        #[arg(long, default_value_t = 3650)]
        days: u32,
    },
    /// Sign a service's certificate with the CA of <dir>: <dir>/<name>.pem and <name>.key.
    Issue {
        #[arg(long)]
        dir: PathBuf,
        /// What the service is: coordinator, gateway or runner.
        #[arg(long, value_enum)]
        role: ServiceRole,
        /// Its name (a runner's id): 1 to 63 of A-Z a-z 0-9 . _ -
        #[arg(long)]
        name: String,
        /// A DNS name or IP address it is reached at (repeatable).
        #[arg(long = "host")]
        hosts: Vec<String>,
        /// Days the certificate is valid.
        #[arg(long, default_value_t = 825)]
        days: u32,
    },
}

/// The kinds of services a certificate names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServiceRole {
    Coordinator,
    Gateway,
    Runner,
}

impl ServiceRole {
    fn as_str(self) -> &'static str {
        match self {
            Self::Coordinator => "coordinator",
            Self::Gateway => "gateway",
            Self::Runner => "runner",
        }
    }
}

/// Runs `aide certs`.
pub fn certs(args: CertsArgs) -> Result<u8, CliError> {
    match args.command {
        CertsCommand::Init { dir, days } => init(&dir, days)?,
        CertsCommand::Issue {
            dir,
            role,
            name,
            hosts,
            days,
        } => issue(&dir, role, &name, &hosts, days)?,
    }
    Ok(EXIT_COMPLETED)
}

fn init(dir: &Path, days: u32) -> Result<(), CliError> {
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
    write_new(&dir.join("ca.key"), &key.serialize_pem(), 0o600)?;
    write_new(&dir.join("ca.pem"), &cert.pem(), 0o644)?;
    eprintln!(
        "made the cluster CA: {} (share it) and {} (keep it secret)",
        dir.join("ca.pem").display(),
        dir.join("ca.key").display()
    );
    Ok(())
}

fn issue(
    dir: &Path,
    role: ServiceRole,
    name: &str,
    hosts: &[String],
    days: u32,
) -> Result<(), CliError> {
    check_name(name)?;
    let read = |file: &str| {
        let path = dir.join(file);
        std::fs::read_to_string(&path).map_err(|source| io_error(&path, source))
    };
    let ca_key = KeyPair::from_pem(&read("ca.key")?).map_err(cert_error)?;
    let issuer = Issuer::from_ca_cert_pem(&read("ca.pem")?, ca_key).map_err(cert_error)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
    params
        .distinguished_name
        .push(DnType::CommonName, format!("aide {} {name}", role.as_str()));
    let identity = format!("aide://{}/{name}", role.as_str());
    params.subject_alt_names = subject_names(&identity, hosts)?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    valid_for(&mut params, days)?;
    let key = KeyPair::generate().map_err(cert_error)?;
    let cert = params.signed_by(&key, &issuer).map_err(cert_error)?;
    write_new(
        &dir.join(format!("{name}.key")),
        &key.serialize_pem(),
        0o600,
    )?;
    write_new(&dir.join(format!("{name}.pem")), &cert.pem(), 0o644)?;
    eprintln!(
        "issued {identity}: {}",
        dir.join(format!("{name}.pem")).display()
    );
    Ok(())
}

/// The identity URI, then each host as an address or a DNS name, then the loopback names.
fn subject_names(identity: &str, hosts: &[String]) -> Result<Vec<SanType>, CliError> {
    let mut names = vec![SanType::URI(identity.try_into().map_err(cert_error)?)];
    let loopback = ["localhost".to_owned(), "127.0.0.1".to_owned()];
    for host in hosts.iter().chain(&loopback) {
        let host = host.trim();
        let name = match host.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(host.try_into().map_err(|_| {
                CliError::Usage(format!("--host {host:?}: not a DNS name or an IP address"))
            })?),
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

fn check_name(name: &str) -> Result<(), CliError> {
    let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > 63 || !name.chars().all(ok) || name.starts_with('.') {
        return Err(CliError::Usage(format!(
            "--name {name:?}: use 1 to 63 of A-Z a-z 0-9 . _ - (not starting with a dot)"
        )));
    }
    Ok(())
}

/// Valid from an hour ago (clocks differ) for `days` days.
fn valid_for(params: &mut CertificateParams, days: u32) -> Result<(), CliError> {
    if days == 0 || days > 36_500 {
        return Err(CliError::Usage("--days: between 1 and 36500".into()));
    }
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(i64::from(days));
    Ok(())
}

/// Writes a file that must not exist yet, with `mode`.
fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), CliError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => CliError::Usage(format!(
                "{}: exists; nothing was overwritten",
                path.display()
            )),
            _ => io_error(path, source),
        })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|source| io_error(path, source))
}

fn io_error(path: &Path, source: std::io::Error) -> CliError {
    CliError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn cert_error(err: rcgen::Error) -> CliError {
    CliError::Usage(format!("certificate: {err}"))
}
