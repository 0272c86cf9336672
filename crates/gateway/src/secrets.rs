//! Secrets (provider API keys): a [`Secret`] newtype that never prints its value, loaded
//! from an environment variable or a file.
//!
//! The environment is always passed in as an [`Env`] lookup — nothing here reads the process
//! environment — so callers decide where values come from and tests stay hermetic.

use std::fmt;
use std::path::Path;

use crate::Error;

/// A lookup into an environment: `env("OPENAI_API_KEY")`. In production this wraps
/// `std::env::var`; in tests a map or a closure.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// What [`Secret`]'s `Debug` and `Display` print instead of the value.
pub const REDACTED: &str = "[redacted]";

/// A secret value such as an API key. `Debug` and `Display` print `[redacted]`; the value is
/// only reachable through [`Secret::expose`], so it cannot leak through `{:?}` of a config.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that needs it (an `Authorization` header).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Reads the secret from the environment variable `var`, trailing whitespace (a pasted
    /// newline) removed. Fails, naming the variable, when it is unset or empty.
    pub fn from_env(var: &str, env: Env<'_>) -> Result<Self, Error> {
        match Self::from_env_opt(var, env)? {
            Some(secret) => Ok(secret),
            None => Err(Error::Secret {
                source_name: format!("environment variable {var}"),
                reason: "it is not set".into(),
            }),
        }
    }

    /// Like [`Secret::from_env`], but an unset variable is `Ok(None)`. A variable that is set
    /// but empty (or only whitespace) is still an error: it is almost always a mistake.
    pub fn from_env_opt(var: &str, env: Env<'_>) -> Result<Option<Self>, Error> {
        let Some(raw) = env(var) else {
            return Ok(None);
        };
        let value = raw.trim_end();
        if value.is_empty() {
            return Err(Error::Secret {
                source_name: format!("environment variable {var}"),
                reason: "it is set but empty".into(),
            });
        }
        Ok(Some(Self(value.to_owned())))
    }

    /// Reads the secret from a file (e.g. a mounted Docker or Kubernetes secret), trailing
    /// whitespace removed. Fails, naming the file, when it is unreadable, not UTF-8 or empty.
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let source_name = format!("file {}", path.display());
        let raw = std::fs::read(path).map_err(|e| Error::Secret {
            source_name: source_name.clone(),
            reason: format!("cannot read it ({})", e.kind()),
        })?;
        let text = String::from_utf8(raw).map_err(|_| Error::Secret {
            source_name: source_name.clone(),
            reason: "it is not valid UTF-8".into(),
        })?;
        let value = text.trim_end();
        if value.is_empty() {
            return Err(Error::Secret {
                source_name,
                reason: "it is empty".into(),
            });
        }
        Ok(Self(value.to_owned()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::io::Write;

    use super::*;

    const KEY: &str = "sk-test-0123456789abcdef";

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn debug_and_display_are_redacted() {
        let secret = Secret::new(KEY);
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
        assert_eq!(secret.expose(), KEY);
    }

    #[test]
    fn from_env_trims_the_trailing_newline() {
        let env = env_of(&[("OPENAI_API_KEY", "sk-abc\n")]);
        let secret = Secret::from_env("OPENAI_API_KEY", &env).unwrap();
        assert_eq!(secret.expose(), "sk-abc");
    }

    #[test]
    fn unset_variable_is_an_error_naming_it_or_none() {
        let env = env_of(&[]);
        let err = Secret::from_env("ANTHROPIC_API_KEY", &env).unwrap_err();
        assert!(err.to_string().contains("ANTHROPIC_API_KEY"), "{err}");
        assert!(err.to_string().contains("not set"), "{err}");
        assert!(
            Secret::from_env_opt("ANTHROPIC_API_KEY", &env)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn empty_variable_is_an_error() {
        let env = env_of(&[("GEMINI_API_KEY", " \n")]);
        let err = Secret::from_env_opt("GEMINI_API_KEY", &env).unwrap_err();
        assert!(err.to_string().contains("GEMINI_API_KEY"), "{err}");
        assert!(err.to_string().contains("empty"), "{err}");
    }

    #[test]
    fn from_file_trims_and_never_shows_the_value() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "{KEY}").unwrap();
        let secret = Secret::from_file(file.path()).unwrap();
        assert_eq!(secret.expose(), KEY);

        let empty = tempfile::NamedTempFile::new().unwrap();
        let err = Secret::from_file(empty.path()).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(&empty.path().display().to_string()),
            "{message}"
        );
        assert!(message.contains("empty"), "{message}");
    }

    #[test]
    fn missing_file_error_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-key");
        let err = Secret::from_file(&path).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("no-such-key"), "{message}");
        assert!(message.contains("cannot read"), "{message}");
    }
}
