//! One submission's whole grade, as a sweep cell records it: whether there is one, whether
//! it has the sample submission's shape, its score on the held-back answers, and, when the
//! task has a leaderboard (MLE-bench's `leaderboard.csv`), its medal and whether it beats
//! the median. Grading never fails: what went wrong is part of the grade.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::medal::{Medal, Thresholds};
use super::{GradeError, score, validity};

/// What grading a task's submissions needs.
#[derive(Debug, Clone, Copy)]
pub struct Grading<'a> {
    /// The task's metric name (`rmse`, `auc`, `map@5`, …).
    pub metric: &'a str,
    /// The held-back answers (id first, then the target).
    pub answers: &'a Path,
    /// The sample submission the shape is checked against, when the task has one.
    pub sample: Option<&'a Path>,
    /// The competition's leaderboard scores, best first, when it has one.
    pub leaderboard: Option<&'a [f64]>,
}

/// The grade of one submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellGrade {
    pub submitted: bool,
    pub valid: bool,
    /// Why the submission is missing, invalid or could not be scored.
    pub problem: Option<String>,
    pub score: Option<f64>,
    pub above_median: Option<bool>,
    pub medal: Option<Medal>,
}

/// Grades `submission` (`None`: the run wrote none).
pub fn grade(grading: &Grading<'_>, submission: Option<&Path>) -> CellGrade {
    let Some(submission) = submission else {
        return failed(false, false, "no submission");
    };
    if let Some(sample) = grading.sample
        && let Err(why) = validity::check_submission(sample, submission)
    {
        return failed(true, false, &why.to_string());
    }
    let value = match score::score(grading.metric, submission, grading.answers) {
        Ok(scored) => scored.value,
        Err(why) => return failed(true, false, &why),
    };
    let mut grade = CellGrade {
        submitted: true,
        valid: true,
        problem: None,
        score: Some(value),
        above_median: None,
        medal: None,
    };
    if let Some(board) = grading.leaderboard {
        match Thresholds::of_leaderboard(&best_first(board, grading.metric)) {
            Ok(thresholds) => {
                let placing = thresholds.place(value);
                grade.above_median = Some(placing.above_median);
                grade.medal = placing.medal;
            }
            Err(why) => grade.problem = Some(format!("no medal: {why}")),
        }
    }
    grade
}

fn failed(submitted: bool, valid: bool, problem: &str) -> CellGrade {
    CellGrade {
        submitted,
        valid,
        problem: Some(problem.to_owned()),
        score: None,
        above_median: None,
        medal: None,
    }
}

/// A leaderboard's scores best first by the metric's direction (a file need not be in rank
/// order); in the file's order when the metric is not a built-in one.
fn best_first(scores: &[f64], metric: &str) -> Vec<f64> {
    let mut sorted = scores.to_vec();
    if let Ok(metric) = metric.parse::<super::Metric>() {
        sorted.sort_by(|a, b| a.total_cmp(b));
        if !metric.lower_is_better() {
            sorted.reverse();
        }
    }
    sorted
}

/// The scores of a leaderboard file (its `score` column, in the file's rank order; teams
/// without a score, as Kaggle's exports list them, left out), checked to make thresholds.
pub fn leaderboard_scores(path: &Path) -> Result<Vec<f64>, GradeError> {
    let bad = |e: csv::Error| GradeError::Invalid(format!("{}: {e}", path.display()));
    let mut reader = csv::Reader::from_path(path).map_err(bad)?;
    let at = reader
        .headers()
        .map_err(bad)?
        .iter()
        .position(|h| h.trim() == "score")
        .ok_or_else(|| GradeError::Invalid(format!("{}: no `score` column", path.display())))?;
    let mut scores = Vec::new();
    for record in reader.records() {
        let record = record.map_err(bad)?;
        let text = record.get(at).unwrap_or_default().trim();
        if text.is_empty() {
            continue;
        }
        scores.push(text.parse::<f64>().map_err(|_| {
            GradeError::Invalid(format!(
                "{}: score {text:?} is not a number",
                path.display()
            ))
        })?);
    }
    Thresholds::of_leaderboard(&scores)?;
    Ok(scores)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_submission_is_graded_validated_and_placed_on_the_leaderboard() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write");
            path
        };
        let answers = file("answers.csv", "id,y\n1,1\n2,2\n3,3\n");
        let sample = file("sample.csv", "id,y\n1,0\n2,0\n3,0\n");
        // Ten teams, lower is better: rmse 0 .. 0.9.
        let board: String = (0..10)
            .map(|i| format!("t{i},{}\n", f64::from(i) / 10.0))
            .collect();
        let leaderboard = file("leaderboard.csv", &format!("teamName,score\n{board}"));
        let scores = leaderboard_scores(&leaderboard).expect("leaderboard");
        let grading = Grading {
            metric: "rmse",
            answers: &answers,
            sample: Some(&sample),
            leaderboard: Some(&scores),
        };
        let perfect = file("perfect.csv", "id,y\n3,3\n1,1\n2,2\n");
        let g = grade(&grading, Some(&perfect));
        assert_eq!(
            (g.valid, g.score, g.medal),
            (true, Some(0.0), Some(Medal::Gold))
        );
        assert_eq!(g.above_median, Some(true));
        let off = file("off.csv", "id,y\n1,2\n2,3\n3,4\n");
        let g = grade(&grading, Some(&off));
        assert_eq!(
            (g.score, g.medal, g.above_median),
            (Some(1.0), None, Some(false))
        );
        // Out of rank order, with a team that has no score: the same thresholds.
        let shuffled: String = [5, 0, 9, 3, 1, 7, 2, 8, 4, 6]
            .iter()
            .map(|i| format!("t{i},{}\n", f64::from(*i) / 10.0))
            .collect();
        let unsorted = file(
            "unsorted.csv",
            &format!("teamName,score\n{shuffled}no-score,\n"),
        );
        let unsorted = leaderboard_scores(&unsorted).expect("leaderboard");
        assert_eq!(unsorted.len(), 10);
        // rmse 0.25: bronze (better than the 4th team's 0.3, not the 2nd's 0.1), whatever the
        // file's order; read in file order it would count as gold.
        let quarter = file("quarter.csv", "id,y\n1,1.25\n2,2.25\n3,3.25\n");
        for board in [&scores, &unsorted] {
            let g = grade(
                &Grading {
                    leaderboard: Some(board),
                    ..grading
                },
                Some(&quarter),
            );
            assert_eq!((g.medal, g.above_median), (Some(Medal::Bronze), Some(true)));
        }
        let short = file("short.csv", "id,y\n1,1\n");
        let g = grade(&grading, Some(&short));
        assert!(
            g.submitted && !g.valid && g.problem.as_deref().is_some_and(|p| p.contains("rows"))
        );
        let g = grade(&grading, None);
        assert!(!g.submitted && g.score.is_none());
    }
}
