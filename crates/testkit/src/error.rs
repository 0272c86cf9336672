//! The error type of aide-testkit's fallible helpers (so far the several-hosts harness,
//! [`crate::hosts`]); everything else in the crate panics, being test support.

use std::path::PathBuf;

/// What went wrong setting up or using test hosts, with the failing command or path.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command ran and failed; its standard error says why.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    /// A command could not be started at all.
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    /// A file or directory the harness needs.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Entering a host's network namespace from a thread of the test process.
    #[error("cannot enter network namespace {netns}: {source}")]
    Setns {
        netns: String,
        #[source]
        source: nix::Error,
    },
    /// Every 10.213.X.0/24 is taken by another network or overlaps a route of this machine.
    #[error("no free 10.213.X.0/24 subnet (each is taken or overlaps a route)")]
    NoFreeSubnet,
    /// A network prefix or host name outside `[a-z0-9]`, too long, or used twice.
    #[error("bad name {name:?}: {why}")]
    BadName { name: String, why: &'static str },
    /// A hidden path must be absolute (it is mounted over).
    #[error("hidden path {} is not absolute", .0.display())]
    RelativeHiddenPath(PathBuf),
}
