//! `aide admin`: projects and tokens of a deployment, through the Admin API (an admin token).
//! `token create` prints the new secret on standard output and nowhere else.

use aide_proto::bearer::AuthedChannel;
use aide_proto::v1;
use aide_proto::v1::admin_client::AdminClient;

use super::{ServerArg, remote};
use crate::error::{CliError, EXIT_COMPLETED};

/// Flags of `aide admin`.
#[derive(Debug, Clone, clap::Parser)]
pub struct AdminArgs {
    #[command(subcommand)]
    pub command: AdminCommand,
    #[command(flatten)]
    pub server: ServerArg,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum AdminCommand {
    /// Projects: create one, or list them.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Tokens: create, revoke or list.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum ProjectCommand {
    /// Create a project (1 to 63 of a-z, 0-9, '_' and '-').
    Create { name: String },
    /// List the projects.
    Ls,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum TokenCommand {
    /// Create a token; its secret is printed once, on standard output.
    Create {
        #[arg(long)]
        project: String,
        /// admin, member or viewer.
        #[arg(long)]
        role: String,
        /// How long it lasts: 90m, 12h, 30d; never expires without it.
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
        /// Free text to tell tokens apart.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Revoke a token by id: refused everywhere within seconds.
    Revoke { id: String },
    /// List tokens (without secrets), of one project or all.
    Ls {
        #[arg(long)]
        project: Option<String>,
    },
}

/// Runs `aide admin`.
pub async fn admin(args: AdminArgs) -> Result<u8, CliError> {
    let mut client = AdminClient::new(args.server.channel().await?);
    match args.command {
        AdminCommand::Project(ProjectCommand::Create { name }) => {
            let project = client
                .create_project(v1::CreateProjectRequest { name })
                .await
                .map_err(|s| remote(s, None))?
                .into_inner();
            eprintln!("created project {}", project.name);
        }
        AdminCommand::Project(ProjectCommand::Ls) => list_projects(&mut client).await?,
        AdminCommand::Token(TokenCommand::Create {
            project,
            role,
            expires,
            label,
        }) => {
            let expires_in_secs = expires.as_deref().map(duration_secs).transpose()?;
            let made = client
                .create_token(v1::CreateTokenRequest {
                    project,
                    role,
                    label,
                    expires_in_secs,
                })
                .await
                .map_err(|s| remote(s, None))?
                .into_inner();
            if let Some(info) = &made.info {
                eprintln!(
                    "token {} ({} of {}): shown once, keep it secret",
                    info.id, info.role, info.project
                );
            }
            println!("{}", made.token);
        }
        AdminCommand::Token(TokenCommand::Revoke { id }) => {
            let token = client
                .revoke_token(v1::RevokeTokenRequest { id })
                .await
                .map_err(|s| remote(s, None))?
                .into_inner();
            eprintln!("revoked token {} at {}", token.id, token.revoked_at);
        }
        AdminCommand::Token(TokenCommand::Ls { project }) => {
            list_tokens(&mut client, project.unwrap_or_default()).await?;
        }
    }
    Ok(EXIT_COMPLETED)
}

async fn list_projects(client: &mut AdminClient<AuthedChannel>) -> Result<(), CliError> {
    let projects = client
        .list_projects(v1::ListProjectsRequest {})
        .await
        .map_err(|s| remote(s, None))?
        .into_inner()
        .projects;
    for project in projects {
        println!("{}\t{}", project.name, project.created_at);
    }
    Ok(())
}

async fn list_tokens(
    client: &mut AdminClient<AuthedChannel>,
    project: String,
) -> Result<(), CliError> {
    let tokens = client
        .list_tokens(v1::ListTokensRequest { project })
        .await
        .map_err(|s| remote(s, None))?
        .into_inner()
        .tokens;
    println!("id\tproject\trole\tlabel\tcreated\texpires\trevoked");
    for t in tokens {
        let or_dash = |s: &str| {
            if s.is_empty() {
                "-".to_owned()
            } else {
                s.to_owned()
            }
        };
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            t.id,
            t.project,
            t.role,
            or_dash(&t.label),
            t.created_at,
            or_dash(&t.expires_at),
            or_dash(&t.revoked_at)
        );
    }
    Ok(())
}

/// `90m`, `12h`, `30d` (or plain seconds) as seconds.
fn duration_secs(text: &str) -> Result<u64, CliError> {
    let text = text.trim();
    let bad = || CliError::Usage(format!("--expires {text:?}: use e.g. 90m, 12h or 30d"));
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    let n: u64 = number.parse().map_err(|_| bad())?;
    let per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(per).filter(|&s| s > 0).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiries_read_as_seconds() {
        assert_eq!(duration_secs("30d").ok(), Some(30 * 86_400));
        assert_eq!(duration_secs("90m").ok(), Some(5400));
        assert_eq!(duration_secs("45").ok(), Some(45));
        for bad in ["", "0d", "3w", "d", "-1h", "99999999999999999999d"] {
            assert!(duration_secs(bad).is_err(), "{bad}");
        }
    }
}
