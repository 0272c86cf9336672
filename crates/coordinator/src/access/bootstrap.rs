//! The first admin token of a deployment: on the first start against a store that never had
//! one, the coordinator makes an admin token of the `default` project and writes it to
//! `<data dir>/bootstrap-admin-token` (mode 0600). Only the file's path is ever printed.
//! Replicas starting together make one: the store keeps a single bootstrap token, and a
//! replica that loses the race removes its file.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use aide_core::access::{ProjectName, Role, Token};
use aide_store::{AccessStore, NewToken};

use crate::Error;

/// The file name of the bootstrap token in the data directory.
pub const BOOTSTRAP_TOKEN_FILE: &str = "bootstrap-admin-token";

/// Makes the bootstrap admin token when the store never had one and returns the path of the
/// file holding it; `None` when a bootstrap token exists already.
pub async fn bootstrap_admin_token<S: AccessStore>(
    store: &S,
    data_dir: &Path,
) -> Result<Option<PathBuf>, Error> {
    let token = Token::generate().map_err(|e| Error::Config(e.to_string()))?;
    let path = data_dir.join(BOOTSTRAP_TOKEN_FILE);
    let partial = data_dir.join(format!(".{BOOTSTRAP_TOKEN_FILE}.{}", std::process::id()));
    write_private(&partial, &token).map_err(|source| bootstrap_error(&partial, source))?;
    let new = NewToken {
        project: ProjectName::default_project(),
        role: Role::Admin,
        hash: token.hash(),
        label: "bootstrap".into(),
        expires_at: None,
    };
    let stored = store.create_bootstrap_token(&new).await;
    match stored {
        Ok(Some(_)) => {
            std::fs::rename(&partial, &path).map_err(|source| bootstrap_error(&path, source))?;
            Ok(Some(path))
        }
        Ok(None) => {
            let _ = std::fs::remove_file(&partial);
            Ok(None)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e.into())
        }
    }
}

/// Writes the token and a newline to a new file only its owner can read.
fn write_private(path: &Path, token: &Token) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    writeln!(file, "{}", token.expose())?;
    file.sync_all()
}

fn bootstrap_error(path: &Path, source: std::io::Error) -> Error {
    Error::Bootstrap {
        path: path.to_path_buf(),
        source,
    }
}
