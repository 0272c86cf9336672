//! The token a client command sends: `AIDE_TOKEN` when set, else the one `aide login` stored
//! for that server in `<config dir>/aide/credentials.toml` (mode 0600; the config dir is
//! `$XDG_CONFIG_HOME`, else `~/.config`). No token at all: requests go without one and the
//! server says what it wants.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use aide_core::access::Token;
use serde::{Deserialize, Serialize};

use crate::error::CliError;

/// The file's shape: a token per server URL.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Credentials {
    #[serde(default)]
    servers: BTreeMap<String, String>,
}

/// Where `aide login` keeps tokens.
pub fn credentials_path() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    let config = var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    config.join("aide/credentials.toml")
}

/// The token to send to `server`, if any.
pub fn token_for(server: &str) -> Result<Option<Token>, CliError> {
    if let Some(text) = std::env::var("AIDE_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        let token = text.parse().map_err(|_| {
            CliError::Usage("AIDE_TOKEN is not an aide token (aide_ and 64 hex digits)".into())
        })?;
        return Ok(Some(token));
    }
    let path = credentials_path();
    let Some(credentials) = read(&path)? else {
        return Ok(None);
    };
    match credentials.servers.get(server) {
        Some(text) => text.parse().map(Some).map_err(|_| {
            CliError::Usage(format!(
                "{}: the token stored for {server} is not an aide token; run aide login again",
                path.display()
            ))
        }),
        None => Ok(None),
    }
}

/// Stores `token` for `server`, keeping the tokens of other servers; returns the file.
pub fn remember(server: &str, token: &Token) -> Result<PathBuf, CliError> {
    let path = credentials_path();
    let mut credentials = read(&path)?.unwrap_or_default();
    credentials
        .servers
        .insert(server.to_owned(), token.expose().to_owned());
    let text = toml::to_string(&credentials).map_err(|e| CliError::Usage(e.to_string()))?;
    write_private(&path, &text).map_err(|source| CliError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

fn read(path: &std::path::Path) -> Result<Option<Credentials>, CliError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(CliError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
}

/// Replaces `path` with `text`, readable by its owner only, through a temporary file.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let partial = dir.join(format!(".credentials.{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&partial, path)
}
