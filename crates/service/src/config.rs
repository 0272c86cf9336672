//! The layered configuration loader: defaults → TOML file → environment → flags.
//!
//! A service's configuration is a plain serde struct with `Default`, deserialized with
//! `#[serde(default, deny_unknown_fields)]` so that a file names only what it changes and a
//! misspelt key is an error naming the key and its line. Its binary's clap struct holds
//! `Option<T>` overlays, each flag with its `AIDE_*` variable; clap takes the variable when
//! the flag is absent, so applying that [`Overlay`] after the file gives the order
//! file < environment < flag. Code that embeds a service builds the struct as a value.

use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// A layer laid over a configuration (a binary's flags and variables).
pub trait Overlay<C> {
    /// Writes every value this layer sets into `config`.
    fn apply(&self, config: &mut C);
}

/// Defaults, then the file at `file` (if any), then `overlay`.
pub fn layered<C, O>(file: Option<&Path>, overlay: &O) -> Result<C, Error>
where
    C: Default + DeserializeOwned,
    O: Overlay<C>,
{
    let mut config = match file {
        Some(path) => read(path)?,
        None => C::default(),
    };
    overlay.apply(&mut config);
    Ok(config)
}

/// Reads and parses the TOML file at `path`; errors name the file.
pub fn read<C: DeserializeOwned>(path: &Path) -> Result<C, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// Parses TOML text; an error names `origin` and the line but never quotes the text.
pub fn parse<C: DeserializeOwned>(text: &str, origin: &str) -> Result<C, Error> {
    aide_core::toml_text::parse(text, origin).map_err(|e| Error::Config {
        origin: e.origin,
        line: e.line,
        message: e.message,
    })
}

/// A configuration problem found after parsing (a zero that must be positive, …).
pub fn invalid(message: impl Into<String>) -> Error {
    Error::Config {
        origin: "configuration".into(),
        line: None,
        message: message.into(),
    }
}

/// The configuration as TOML for `--print-config`. Secrets must already be redacted by the
/// types that hold them (their `Serialize` prints `[redacted]`).
pub fn render<C: Serialize>(config: &C) -> Result<String, Error> {
    toml::to_string_pretty(config).map_err(Error::Render)
}

/// Sets `target` when `value` is present: the body of most [`Overlay::apply`] lines.
pub fn set<T: Clone>(target: &mut T, value: &Option<T>) {
    if let Some(value) = value {
        *target = value.clone();
    }
}

/// Sets an optional `target` when `value` is present (a flag over an optional setting).
pub fn set_some<T: Clone>(target: &mut Option<T>, value: &Option<T>) {
    if value.is_some() {
        target.clone_from(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, PartialEq, serde::Deserialize, serde::Serialize)]
    #[serde(default, deny_unknown_fields)]
    struct Sample {
        port: u16,
        name: String,
    }

    struct Flags(Option<u16>);

    impl Overlay<Sample> for Flags {
        fn apply(&self, config: &mut Sample) {
            set(&mut config.port, &self.0);
        }
    }

    #[test]
    fn the_file_lays_over_defaults_and_flags_over_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "port = 1\nname = \"file\"\n").expect("write");
        let config: Sample = layered(Some(&path), &Flags(Some(2))).expect("load");
        assert_eq!(
            config,
            Sample {
                port: 2,
                name: "file".into()
            }
        );
        let config: Sample = layered(None, &Flags(None)).expect("defaults");
        assert_eq!(config, Sample::default());
        assert_eq!(render(&config).expect("render"), "port = 0\nname = \"\"\n");
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let err = parse::<Sample>("port = 1\nprot = 2\n", "s.toml").expect_err("unknown");
        let text = err.to_string();
        assert!(
            text.contains("s.toml, line 2") && text.contains("prot"),
            "{text}"
        );
        let err = read::<Sample>(Path::new("/nonexistent/s.toml")).expect_err("missing");
        assert!(err.to_string().contains("/nonexistent/s.toml"), "{err}");
    }
}
