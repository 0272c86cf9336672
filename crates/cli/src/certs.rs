//! `aide certs`: a cluster CA and per-service certificates for a team that has none
//! (ARCHITECTURE §10), made by `aide_service::tls::certs`. `init` makes the CA in a
//! directory; `issue` signs a certificate naming one service as `aide://<role>/<name>`.

use std::path::PathBuf;

use aide_core::service_identity::{ServiceIdentity, ServiceKind, ServiceName};
use aide_service::tls::certs;

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
        #[arg(long)]
        role: ServiceKind,
        /// Its name (a runner's id): 1 to 63 of A-Z a-z 0-9 . _ -
        #[arg(long)]
        name: ServiceName,
        /// A DNS name or IP address it is reached at (repeatable).
        #[arg(long = "host")]
        hosts: Vec<String>,
        /// Days the certificate is valid.
        #[arg(long, default_value_t = 825)]
        days: u32,
    },
}

/// Runs `aide certs`.
pub fn certs(args: CertsArgs) -> Result<u8, CliError> {
    match args.command {
        CertsCommand::Init { dir, days } => {
            let ca = certs::make_ca(&dir, days).map_err(usage)?;
            eprintln!(
                "made the cluster CA: {} (share it) and {} (keep it secret)",
                ca.display(),
                dir.join(certs::CA_KEY).display()
            );
        }
        CertsCommand::Issue {
            dir,
            role,
            name,
            hosts,
            days,
        } => {
            let identity = ServiceIdentity { kind: role, name };
            let issued = certs::issue(&dir, &identity, &hosts, days).map_err(usage)?;
            if let Some(cert) = issued.cert {
                eprintln!("issued {identity}: {}", cert.display());
            }
        }
    }
    Ok(EXIT_COMPLETED)
}

fn usage(err: aide_service::Error) -> CliError {
    CliError::Usage(aide_service::error::chain(&err))
}
