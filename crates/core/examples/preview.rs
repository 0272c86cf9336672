//! Prints the data preview of a directory as the author sees it, then its length.
//!
//! `cargo run -p aide-core --example preview -- ../shared/data/house_prices`

use std::path::PathBuf;
use std::process::ExitCode;

use aide_core::{PreviewOptions, preview_dir};

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: preview <data directory>");
        return ExitCode::from(2);
    };
    match preview_dir(&dir, &PreviewOptions::default()) {
        Ok(text) => {
            println!("{text}");
            eprintln!("preview length: {} characters", text.chars().count());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
