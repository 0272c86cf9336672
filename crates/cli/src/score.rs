//! Scores a submission against a task's held-back answers, outside the sandbox: rows are
//! aligned by the id (first) column, the predicted column is the answers' second column,
//! and the metric is the task's (`rmse`, `mae` or `accuracy`).

use std::collections::HashMap;
use std::path::Path;

/// A computed score.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub metric: String,
    pub value: f64,
    pub rows: usize,
}

/// The metrics this scorer knows.
pub const METRICS: &[&str] = &["rmse", "mae", "accuracy"];

/// Scores `submission` against `answers` with `metric`; the error says why it cannot.
pub fn score(metric: &str, submission: &Path, answers: &Path) -> Result<Score, String> {
    let metric = metric.trim().to_ascii_lowercase();
    if !METRICS.contains(&metric.as_str()) {
        return Err(format!(
            "no scorer for metric `{metric}` (known: {})",
            METRICS.join(", ")
        ));
    }
    let (id_col, target, truth) = read(answers, None)?;
    let (_, _, predicted) = read(submission, Some((&id_col, &target)))?;
    let mut pairs = Vec::with_capacity(truth.len());
    let mut missing = 0;
    for (id, t) in &truth {
        match predicted.get(id) {
            Some(p) => pairs.push((t.as_str(), p.as_str())),
            None => missing += 1,
        }
    }
    if missing > 0 {
        return Err(format!(
            "the submission lacks {missing} of the {} ids of the answers",
            truth.len()
        ));
    }
    if pairs.is_empty() {
        return Err("the answers file has no rows".into());
    }
    let value = match metric.as_str() {
        "accuracy" => {
            let right = pairs.iter().filter(|(t, p)| same_label(t, p)).count();
            right as f64 / pairs.len() as f64
        }
        _ => {
            let mut sum = 0.0;
            for (t, p) in &pairs {
                let (t, p) = (number(t)?, number(p)?);
                sum += if metric == "mae" {
                    (t - p).abs()
                } else {
                    (t - p).powi(2)
                };
            }
            let mean = sum / pairs.len() as f64;
            if metric == "rmse" { mean.sqrt() } else { mean }
        }
    };
    Ok(Score {
        metric,
        value,
        rows: pairs.len(),
    })
}

fn number(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("`{text}` is not a number"))
}

/// Labels match as numbers when both are numbers (`1` and `1.0`), else as trimmed text.
fn same_label(a: &str, b: &str) -> bool {
    match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

type Rows = HashMap<String, String>;

/// Reads an id column and a target column. Without `want`, the first two columns of the
/// file; with it, the columns of those names.
fn read(path: &Path, want: Option<(&str, &str)>) -> Result<(String, String, Rows), String> {
    let shown = path.display();
    let mut reader = csv::Reader::from_path(path).map_err(|e| format!("{shown}: {e}"))?;
    let headers = reader
        .headers()
        .map_err(|e| format!("{shown}: {e}"))?
        .clone();
    let (id_at, target_at) = match want {
        None if headers.len() >= 2 => (0, 1),
        None => return Err(format!("{shown}: expected an id and a target column")),
        Some((id, target)) => {
            let find = |name: &str| {
                headers
                    .iter()
                    .position(|h| h.trim() == name)
                    .ok_or_else(|| format!("{shown}: no `{name}` column"))
            };
            (find(id)?, find(target)?)
        }
    };
    let mut rows = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("{shown}: {e}"))?;
        let id = record.get(id_at).unwrap_or_default().trim().to_owned();
        let value = record.get(target_at).unwrap_or_default().to_owned();
        rows.insert(id, value);
    }
    Ok((
        headers[id_at].trim().to_owned(),
        headers[target_at].trim().to_owned(),
        rows,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(
        answers: &str,
        submission: &str,
    ) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let (a, s) = (dir.path().join("a.csv"), dir.path().join("s.csv"));
        std::fs::write(&a, answers).unwrap();
        std::fs::write(&s, submission).unwrap();
        (dir, a, s)
    }

    #[test]
    fn rmse_and_mae_align_by_id() {
        let (_d, a, s) = files("id,y\n1,10\n2,20\n", "id,y\n2,23\n1,6\n");
        let r = score("rmse", &s, &a).unwrap();
        assert!((r.value - 12.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(r.rows, 2);
        assert!((score("MAE", &s, &a).unwrap().value - 3.5).abs() < 1e-12);
    }

    #[test]
    fn accuracy_compares_labels() {
        let (_d, a, s) = files("id,c\n1,1\n2,0\n3,1\n", "c,id\n1.0,1\n1,2\n1,3\n");
        let r = score("accuracy", &s, &a).unwrap();
        assert!((r.value - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn refuses_what_it_cannot_score() {
        let (_d, a, s) = files("id,y\n1,10\n2,20\n", "id,y\n1,6\n");
        assert!(score("rmse", &s, &a).unwrap_err().contains("lacks 1"));
        assert!(score("auc", &s, &a).unwrap_err().contains("no scorer"));
    }
}
