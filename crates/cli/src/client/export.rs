//! `aide export <run>`: ExportRun for one format, or every available one with `all`, each
//! written to `--out` under the server's suggested file name.

use std::path::{Path, PathBuf};

use aide_proto::v1;
use clap::ValueEnum;
use tonic::Code;

use super::{ServerArg, remote};
use crate::error::{CliError, EXIT_COMPLETED};

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// journal.json in the reference implementation's schema.
    Journal,
    /// best_solution.py.
    BestSolution,
    /// The best node's submission file.
    Submission,
    /// tree.html, self-contained.
    Tree,
    /// report.md.
    Report,
    /// Every one the run has (a run with no good node has no best solution or submission).
    All,
}

impl Format {
    fn proto(self) -> Vec<v1::ExportFormat> {
        use v1::ExportFormat as F;
        match self {
            Format::Journal => vec![F::Journal],
            Format::BestSolution => vec![F::BestSolution],
            Format::Submission => vec![F::Submission],
            Format::Tree => vec![F::TreeHtml],
            Format::Report => vec![F::Report],
            Format::All => vec![
                F::Journal,
                F::BestSolution,
                F::Submission,
                F::TreeHtml,
                F::Report,
            ],
        }
    }
}

/// Flags of `aide export`.
#[derive(Debug, Clone, clap::Parser)]
pub struct ExportArgs {
    /// The run's id.
    pub run: String,
    /// What to export.
    #[arg(long, value_enum, default_value = "all")]
    pub format: Format,
    /// Directory the files are written to (created when missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    #[command(flatten)]
    pub server: ServerArg,
}

/// Runs `aide export`.
pub async fn export(args: ExportArgs) -> Result<u8, CliError> {
    let run_id = args.run.trim();
    let mut client = args.server.connect().await?;
    // An unknown run is "no run <id>" rather than a missing file.
    super::watch::get(&mut client, run_id).await?;
    std::fs::create_dir_all(&args.out).map_err(CliError::io(&args.out))?;
    let formats = args.format.proto();
    let mut written = 0;
    for format in &formats {
        let answer = client
            .export_run(v1::ExportRunRequest {
                run_id: run_id.to_owned(),
                format: (*format).into(),
            })
            .await;
        let stream = match answer {
            Ok(stream) => stream.into_inner(),
            Err(status)
                if formats.len() > 1
                    && matches!(status.code(), Code::NotFound | Code::FailedPrecondition) =>
            {
                eprintln!("skipped {}: {}", format.as_str_name(), status.message());
                continue;
            }
            Err(status) => return Err(remote(status, None)),
        };
        let (path, bytes) = write_streamed(stream, &args.out, *format).await?;
        eprintln!("wrote {} ({bytes} bytes)", path.display());
        written += 1;
    }
    if written == 0 {
        return Err(CliError::Usage(format!(
            "run {run_id} has nothing to export yet"
        )));
    }
    Ok(EXIT_COMPLETED)
}

/// The server's file name reduced to its last component (never a path out of --out).
fn safe_name(name: &str, format: v1::ExportFormat) -> String {
    Path::new(name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && n != "..")
        .unwrap_or_else(|| format.as_str_name().to_lowercase())
}

/// Writes an ExportRun stream to a file in `out` as it arrives (a temporary name, renamed
/// once complete); the path and the bytes written.
pub(crate) async fn write_streamed(
    mut stream: tonic::Streaming<v1::ExportRunResponse>,
    out: &Path,
    format: v1::ExportFormat,
) -> Result<(PathBuf, u64), CliError> {
    use tokio::io::AsyncWriteExt;
    let first = stream
        .message()
        .await
        .map_err(|s| remote(s, None))?
        .ok_or_else(|| CliError::Remote("the server sent an empty export".into()))?;
    let path = out.join(safe_name(&first.file_name, format));
    let partial = path.with_extension("partial");
    let mut file = tokio::fs::File::create(&partial)
        .await
        .map_err(CliError::io(&partial))?;
    let mut bytes = 0u64;
    let mut piece = Some(first);
    while let Some(message) = piece {
        file.write_all(&message.content)
            .await
            .map_err(CliError::io(&partial))?;
        bytes += message.content.len() as u64;
        piece = stream.message().await.map_err(|s| remote(s, None))?;
    }
    file.flush().await.map_err(CliError::io(&partial))?;
    drop(file);
    tokio::fs::rename(&partial, &path)
        .await
        .map_err(CliError::io(&path))?;
    Ok((path, bytes))
}
