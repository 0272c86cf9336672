//! The crate's error type.

use std::net::SocketAddr;
use std::path::PathBuf;

/// What went wrong loading a configuration or running the shell.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration file or value is invalid. `origin` names the file (or "configuration"
    /// for text given in code) and `line` where the error is; the text is never quoted (it
    /// may sit next to secrets).
    #[error("{origin}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Config {
        origin: String,
        line: Option<usize>,
        message: String,
    },

    /// A configuration file cannot be read.
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A file cannot be written.
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The configuration cannot be rendered for `--print-config`.
    #[error("cannot render the configuration")]
    Render(#[source] toml::ser::Error),

    /// A listener cannot be bound.
    #[error("cannot listen on {address} ({what})")]
    Bind {
        what: &'static str,
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },

    /// A bound listener cannot tell its address.
    #[error("cannot read the listener's address")]
    Listener(#[source] std::io::Error),

    /// The signal handlers cannot be installed.
    #[error("cannot listen for signals")]
    Signals(#[source] std::io::Error),

    /// TLS is misconfigured (files missing or unusable, plaintext where it is not
    /// allowed); the message says which and how to fix it.
    #[error("{0}")]
    Tls(String),

    /// The gRPC server failed.
    #[error("the gRPC server failed")]
    Serve(#[source] tonic::transport::Error),

    /// The gRPC server ended before it was asked to.
    #[error("the gRPC server stopped unexpectedly")]
    Stopped,

    /// The task running the gRPC server panicked.
    #[error("the gRPC server task failed")]
    Panicked(#[source] tokio::task::JoinError),
}

/// `error` and its sources on one line, `outer: inner: innermost`, for a binary's last word.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.ends_with(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}
