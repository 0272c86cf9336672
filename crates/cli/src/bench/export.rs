//! `aide bench export --mlebench DIR`: each finished cell's best submission written under
//! `DIR/submissions/<task>/<arm>/seed-<n>/`, and `DIR/submissions.jsonl` with one
//! `{"competition_id", "submission_path"}` object per submission, as MLE-bench's `grade`
//! command reads it (and `DIR/<arm>.jsonl` per arm when the sweep has several).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aide_proto::bearer::AuthedChannel;
use aide_proto::v1;
use aide_proto::v1::coordinator_client::CoordinatorClient;
use serde_json::json;

use crate::client::export::write_streamed;
use crate::client::remote;
use crate::error::CliError;

/// Writes the export of `cells` into `out`; how many submissions it holds.
pub async fn export(
    channel: &AuthedChannel,
    cells: &v1::ListCellsResponse,
    arms: usize,
    out: &Path,
) -> Result<usize, CliError> {
    let mut client = CoordinatorClient::new(channel.clone())
        .max_decoding_message_size(aide_proto::MAX_MESSAGE_BYTES);
    std::fs::create_dir_all(out).map_err(CliError::io(out))?;
    let out = out.canonicalize().map_err(CliError::io(out))?;
    let mut lines: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut all = Vec::new();
    for cell in &cells.cells {
        let finished = v1::CellStatus::try_from(cell.status) == Ok(v1::CellStatus::Graded);
        if !finished || cell.run_id.is_empty() {
            continue;
        }
        let Some(path) = submission(&mut client, cell, &out).await? else {
            continue;
        };
        let line = json!({
            "competition_id": cell.task,
            "submission_path": path.display().to_string(),
        })
        .to_string();
        lines
            .entry(cell.arm.clone())
            .or_default()
            .push(line.clone());
        all.push(line);
    }
    write_lines(&out.join("submissions.jsonl"), &all)?;
    if arms > 1 {
        for (arm, arm_lines) in &lines {
            write_lines(&out.join(format!("{}.jsonl", safe(arm))), arm_lines)?;
        }
    }
    Ok(all.len())
}

/// Downloads a cell's best submission; `None` (said on stderr) when the run has none.
async fn submission(
    client: &mut CoordinatorClient<AuthedChannel>,
    cell: &v1::Cell,
    out: &Path,
) -> Result<Option<PathBuf>, CliError> {
    let answer = client
        .export_run(v1::ExportRunRequest {
            run_id: cell.run_id.clone(),
            format: v1::ExportFormat::Submission.into(),
        })
        .await;
    let stream = match answer {
        Ok(stream) => stream.into_inner(),
        Err(status)
            if matches!(
                status.code(),
                tonic::Code::NotFound | tonic::Code::FailedPrecondition
            ) =>
        {
            eprintln!(
                "no submission for {} / {} / seed {}: {}",
                cell.task,
                cell.arm,
                cell.seed,
                status.message()
            );
            return Ok(None);
        }
        Err(status) => return Err(remote(status, None)),
    };
    let dir = out
        .join("submissions")
        .join(safe(&cell.task))
        .join(safe(&cell.arm))
        .join(format!("seed-{}", cell.seed));
    std::fs::create_dir_all(&dir).map_err(CliError::io(&dir))?;
    let (path, _) = write_streamed(stream, &dir, v1::ExportFormat::Submission).await?;
    Ok(Some(path))
}

fn write_lines(path: &Path, lines: &[String]) -> Result<(), CliError> {
    let mut text = lines.join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    std::fs::write(path, text).map_err(CliError::io(path))
}

/// A name made safe as one path component.
fn safe(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() || "-_.".contains(c) {
            true => c,
            false => '_',
        })
        .collect();
    match safe.trim_matches('.') {
        "" => "_".into(),
        _ => safe,
    }
}
