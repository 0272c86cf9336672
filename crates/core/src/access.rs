//! Who may do what (ARCHITECTURE §10): projects, the roles a token grants in its project,
//! and the bearer tokens themselves — 256 random bits shown once, kept only as their sha256.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The project every run belonged to before projects existed, and the bootstrap admin's.
pub const DEFAULT_PROJECT: &str = "default";

/// Text every token starts with, so a leaked one is recognisable (secret scanners, logs).
const TOKEN_PREFIX: &str = "aide_";

/// A project's name: 1 to 63 of `a-z 0-9 _ -`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ProjectName(String);

/// Why a text is not a [`ProjectName`], a [`Role`] or a [`Token`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    #[error(
        "project name {0:?}: use 1 to 63 of a-z, 0-9, '_' and '-', starting with a letter or digit"
    )]
    ProjectName(String),
    #[error("role {0:?}: choose admin, member or viewer")]
    Role(String),
    #[error("not an aide token (expected aide_ and 64 hex digits)")]
    Token,
    #[error("the system's random number generator failed: {0}")]
    Random(String),
}

impl ProjectName {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The project of runs made before projects existed.
    pub fn default_project() -> Self {
        Self(DEFAULT_PROJECT.to_owned())
    }
}

impl FromStr for ProjectName {
    type Err = AccessError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok_char =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-';
        let starts_well = s
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if starts_well && s.len() <= 63 && s.chars().all(ok_char) {
            Ok(Self(s.to_owned()))
        } else {
            Err(AccessError::ProjectName(s.chars().take(80).collect()))
        }
    }
}

impl TryFrom<String> for ProjectName {
    type Error = AccessError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ProjectName> for String {
    fn from(name: ProjectName) -> Self {
        name.0
    }
}

impl fmt::Display for ProjectName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a token may do in its project. Ordered: each role can do what the ones below can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads the project's runs: list, get, watch, export.
    Viewer,
    /// Also creates and cancels runs and uploads task data.
    Member,
    /// Also manages projects and tokens for the whole deployment.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Member => "member",
            Self::Admin => "admin",
        }
    }

    /// Whether this role includes everything `needed` allows.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl FromStr for Role {
    type Err = AccessError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Self::Viewer),
            "member" => Ok(Self::Member),
            "admin" => Ok(Self::Admin),
            other => Err(AccessError::Role(other.chars().take(40).collect())),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bearer token's secret: `aide_` and 64 hex digits. Shown once when made; its `Debug`
/// and `Display` never print it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A new token from the operating system's random number generator.
    pub fn generate() -> Result<Self, AccessError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| AccessError::Random(e.to_string()))?;
        Ok(Self(format!("{TOKEN_PREFIX}{}", hex(&bytes))))
    }

    /// The secret itself, to hand to its owner or put in a request header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps instead of the secret.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0.as_bytes()).into())
    }
}

impl FromStr for Token {
    type Err = AccessError;

    /// A token as a client sends it (surrounding whitespace ignored); anything else is
    /// refused without echoing it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let digits = s.strip_prefix(TOKEN_PREFIX).ok_or(AccessError::Token)?;
        let hex_digits = digits
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if digits.len() == 64 && hex_digits {
            Ok(Self(s.to_owned()))
        } else {
            Err(AccessError::Token)
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([redacted])")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("aide_[redacted]")
    }
}

/// The sha256 of a token: how the store finds it without keeping the secret.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// 64 lowercase hex digits, as stored.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// From 64 hex digits, as stored.
    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Self(bytes))
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", &self.to_hex()[..12])
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_are_plain_slugs() {
        for good in ["default", "team-a", "a", "ml_2026", &"x".repeat(63)] {
            assert!(good.parse::<ProjectName>().is_ok(), "{good}");
        }
        for bad in ["", "Team", "-a", "_a", "a b", "a/b", "ü", &"x".repeat(64)] {
            assert!(bad.parse::<ProjectName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn roles_are_ordered_by_what_they_allow() {
        assert!(Role::Admin.allows(Role::Member));
        assert!(Role::Member.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Member));
        assert!(!Role::Member.allows(Role::Admin));
        for role in [Role::Viewer, Role::Member, Role::Admin] {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn tokens_are_random_parse_back_and_never_print() {
        let a = Token::generate().expect("token");
        let b = Token::generate().expect("token");
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 5 + 64);
        let parsed: Token = format!(" {}\n", a.expose()).parse().expect("parses");
        assert_eq!(parsed.hash(), a.hash());
        assert!(!format!("{a} {a:?}").contains(&a.expose()[5..]));
        assert_eq!(TokenHash::from_hex(&a.hash().to_hex()), Some(a.hash()));
        for bad in [
            "",
            "aide_",
            "aide_xyz",
            &a.expose()[..60],
            &a.expose().to_uppercase(),
        ] {
            assert!(bad.parse::<Token>().is_err(), "{bad}");
        }
    }
}
