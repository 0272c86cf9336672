//! What a service proves with its certificate (ARCHITECTURE §10): its kind and its name,
//! written among the certificate's subject names as the URI `aide://<kind>/<name>` — a
//! runner's name is its runner id.

use std::fmt;
use std::str::FromStr;

/// The kinds of aide services that hold certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    Coordinator,
    Gateway,
    Runner,
}

impl ServiceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Coordinator => "coordinator",
            Self::Gateway => "gateway",
            Self::Runner => "runner",
        }
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ServiceKind {
    type Err = IdentityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "coordinator" => Ok(Self::Coordinator),
            "gateway" => Ok(Self::Gateway),
            "runner" => Ok(Self::Runner),
            other => Err(IdentityError::Kind(other.chars().take(40).collect())),
        }
    }
}

/// A service's proven identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceIdentity {
    pub kind: ServiceKind,
    pub name: ServiceName,
}

/// A service's name: 1 to 63 of `A-Z a-z 0-9 . _ -`, not starting with a dot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceName(String);

/// Why a text is not a service kind, name or identity URI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("service kind {0:?}: choose coordinator, gateway or runner")]
    Kind(String),
    #[error("service name {0:?}: use 1 to 63 of A-Z a-z 0-9 . _ - (not starting with a dot)")]
    Name(String),
    #[error("{0:?} is not an aide service identity (aide://<kind>/<name>)")]
    Uri(String),
}

/// The scheme of identity URIs.
const SCHEME: &str = "aide://";

impl ServiceName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ServiceName {
    type Err = IdentityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if s.is_empty() || s.len() > 63 || !s.chars().all(ok) || s.starts_with('.') {
            return Err(IdentityError::Name(s.chars().take(80).collect()));
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ServiceIdentity {
    /// The identity URI, `aide://<kind>/<name>`.
    pub fn uri(&self) -> String {
        format!("{SCHEME}{}/{}", self.kind, self.name)
    }

    /// Whether this is the runner named `runner_id`.
    pub fn is_runner(&self, runner_id: &str) -> bool {
        self.kind == ServiceKind::Runner && self.name.as_str() == runner_id
    }
}

impl FromStr for ServiceIdentity {
    type Err = IdentityError;

    /// Parses `aide://<kind>/<name>`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || IdentityError::Uri(s.chars().take(80).collect());
        let rest = s.strip_prefix(SCHEME).ok_or_else(malformed)?;
        let (kind, name) = rest.split_once('/').ok_or_else(malformed)?;
        Ok(Self {
            kind: kind.parse()?,
            name: name.parse()?,
        })
    }
}

impl fmt::Display for ServiceIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_uris_round_trip_and_bad_ones_are_refused() {
        let runner: ServiceIdentity = "aide://runner/gpu-7.a".parse().expect("parses");
        assert_eq!(runner.kind, ServiceKind::Runner);
        assert!(runner.is_runner("gpu-7.a"));
        assert!(!runner.is_runner("gpu-7"));
        assert_eq!(runner.to_string(), "aide://runner/gpu-7.a");
        for bad in [
            "https://runner/x",
            "aide://runner",
            "aide://runner/",
            "aide://robot/x",
            "aide://runner/a/b",
            "aide://runner/.hidden",
        ] {
            assert!(bad.parse::<ServiceIdentity>().is_err(), "{bad} parsed");
        }
    }
}
