//! Scores a submission against a task's held-back answers, outside the sandbox: rows are
//! aligned by the id (first) column, the predicted column is the answers' second column,
//! and the metric is the task's (any metric whose prediction is one column: not the
//! multi-class log loss).

use std::collections::HashMap;
use std::path::Path;

use super::Metric;
use super::metrics;

/// A computed score.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub metric: String,
    pub value: f64,
    pub rows: usize,
}

/// Scores `submission` against `answers` with `metric`; the error says why it cannot.
pub fn score(metric: &str, submission: &Path, answers: &Path) -> Result<Score, String> {
    let parsed: Metric = metric.parse().map_err(|e| format!("no scorer: {e}"))?;
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
    Ok(Score {
        metric: metric.trim().to_ascii_lowercase(),
        value: value_of(parsed, &pairs)?,
        rows: pairs.len(),
    })
}

/// The metric over aligned (answer, prediction) texts.
fn value_of(metric: Metric, pairs: &[(&str, &str)]) -> Result<f64, String> {
    let (truth, predicted): (Vec<&str>, Vec<&str>) = pairs.iter().copied().unzip();
    let numbers = |texts: &[&str]| {
        texts
            .iter()
            .map(|t| number(t))
            .collect::<Result<Vec<f64>, String>>()
    };
    let integers = |texts: &[&str]| {
        numbers(texts)?
            .into_iter()
            .map(|v| {
                (v.fract() == 0.0)
                    .then_some(v as i64)
                    .ok_or(format!("{v} is not a whole rating"))
            })
            .collect::<Result<Vec<i64>, String>>()
    };
    let positives = |texts: &[&str]| {
        texts
            .iter()
            .map(|t| positive(t))
            .collect::<Result<Vec<bool>, String>>()
    };
    let graded = match metric {
        Metric::Rmse => metrics::rmse(&numbers(&truth)?, &numbers(&predicted)?),
        Metric::Rmsle => metrics::rmsle(&numbers(&truth)?, &numbers(&predicted)?),
        Metric::Mae => metrics::mae(&numbers(&truth)?, &numbers(&predicted)?),
        Metric::Accuracy => metrics::accuracy(&truth, &predicted),
        Metric::F1 => metrics::f1(&truth, &predicted, "1"),
        Metric::MacroF1 => metrics::macro_f1(&truth, &predicted),
        Metric::QuadraticWeightedKappa => {
            metrics::quadratic_weighted_kappa(&integers(&truth)?, &integers(&predicted)?)
        }
        Metric::Auc => metrics::roc_auc(&positives(&truth)?, &numbers(&predicted)?),
        Metric::LogLoss => metrics::binary_log_loss(&positives(&truth)?, &numbers(&predicted)?),
        Metric::MapAtK(k) => {
            let answers: Vec<Vec<&str>> = truth
                .iter()
                .map(|t| t.split_whitespace().collect())
                .collect();
            let guesses: Vec<Vec<&str>> = predicted
                .iter()
                .map(|p| p.split_whitespace().collect())
                .collect();
            metrics::map_at_k(&answers, &guesses, k)
        }
    };
    graded.map_err(|e| e.to_string())
}

fn number(text: &str) -> Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("`{text}` is not a number"))
}

/// A binary answer: 1/0, true/false (any case).
fn positive(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "1.0" | "true" => Ok(true),
        "0" | "0.0" | "false" => Ok(false),
        other => Err(format!(
            "`{other}` is not a binary answer (1/0, true/false)"
        )),
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
    fn the_other_built_in_metrics_score_one_column_submissions() {
        let (_d, a, s) = files("id,y\n1,1\n2,0\n3,1\n", "id,y\n1,0.9\n2,0.2\n3,0.4\n");
        assert_eq!(score("auc", &s, &a).unwrap().value, 1.0);
        assert!(score("log_loss", &s, &a).unwrap().value > 0.0);
        let (_d, a, s) = files("id,y\n1,a\n2,b\n", "id,y\n1,b a\n2,b\n");
        assert_eq!(score("map@2", &s, &a).unwrap().value, 0.75);
    }

    #[test]
    fn refuses_what_it_cannot_score() {
        let (_d, a, s) = files("id,y\n1,10\n2,20\n", "id,y\n1,6\n");
        assert!(score("rmse", &s, &a).unwrap_err().contains("lacks 1"));
        assert!(score("brier", &s, &a).unwrap_err().contains("no scorer"));
    }
}
