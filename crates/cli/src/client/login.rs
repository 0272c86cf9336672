//! `aide login`: checks a token against a server (Admin.WhoAmI) and stores it for that server
//! in the credentials file, so later commands send it without `AIDE_TOKEN`. The token comes
//! from `--token-file` (the bootstrap file, say) or standard input; it is never printed.

use std::io::Read;
use std::path::PathBuf;

use aide_core::access::Token;
use aide_proto::bearer::{Bearer, authed};
use aide_proto::v1;
use aide_proto::v1::admin_client::AdminClient;

use super::credentials::remember;
use super::{ServerArg, remote};
use crate::error::{CliError, EXIT_COMPLETED};

/// Flags of `aide login`.
#[derive(Debug, Clone, clap::Parser)]
pub struct LoginArgs {
    /// A file holding the token (e.g. the server's bootstrap-admin-token); without it the
    /// token is read from standard input.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    #[command(flatten)]
    pub server: ServerArg,
}

/// Runs `aide login`.
pub async fn login(args: LoginArgs) -> Result<u8, CliError> {
    let token = read_token(args.token_file.as_deref())?;
    let channel = authed(args.server.plain_channel().await?, Bearer::new(&token));
    let me = AdminClient::new(channel)
        .who_am_i(v1::WhoAmIRequest {})
        .await
        .map_err(|s| remote(s, None))?
        .into_inner();
    let url = args.server.url();
    let path = remember(&url, &token)?;
    eprintln!(
        "logged in to {url}: {} of project {} (token {}); saved in {}",
        me.role,
        me.project,
        me.id,
        path.display()
    );
    Ok(EXIT_COMPLETED)
}

/// The token from `file`, or from standard input.
fn read_token(file: Option<&std::path::Path>) -> Result<Token, CliError> {
    let (text, from) = match file {
        Some(path) => (
            std::fs::read_to_string(path).map_err(|source| CliError::Io {
                path: path.to_path_buf(),
                source,
            })?,
            path.display().to_string(),
        ),
        None => {
            eprintln!("paste the token and press enter:");
            let mut text = String::new();
            std::io::stdin()
                .take(1024)
                .read_to_string(&mut text)
                .map_err(|source| CliError::Io {
                    path: "standard input".into(),
                    source,
                })?;
            (text, "standard input".to_owned())
        }
    };
    let line = text.lines().next().unwrap_or_default();
    line.parse().map_err(|_| {
        CliError::Usage(format!(
            "{from}: not an aide token (aide_ and 64 hex digits)"
        ))
    })
}
