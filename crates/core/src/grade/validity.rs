//! Whether a submission has the shape of the task's sample submission: the same columns in
//! the same order, the same number of rows, and the same ids (first column) — what MLE-bench
//! calls a valid submission, checked before any score is computed.

use std::collections::HashSet;
use std::path::Path;

use super::GradeError;

/// Checks `submission` against `sample`; the error says the first difference found.
pub fn check_submission(sample: &Path, submission: &Path) -> Result<(), GradeError> {
    let (sample_columns, sample_ids) = read(sample, "the sample submission")?;
    let (columns, ids) = read(submission, "the submission")?;
    if columns != sample_columns {
        return Err(GradeError::Invalid(format!(
            "the submission's columns are [{}], the sample's [{}]",
            columns.join(", "),
            sample_columns.join(", ")
        )));
    }
    if ids.len() != sample_ids.len() {
        return Err(GradeError::Invalid(format!(
            "the submission has {} rows, the sample {}",
            ids.len(),
            sample_ids.len()
        )));
    }
    let unique: HashSet<&str> = ids.iter().map(String::as_str).collect();
    if unique.len() != ids.len() {
        return Err(GradeError::Invalid("the submission repeats an id".into()));
    }
    if let Some(missing) = sample_ids.iter().find(|id| !unique.contains(id.as_str())) {
        return Err(GradeError::Invalid(format!(
            "the submission has no row for id {missing:?}"
        )));
    }
    Ok(())
}

/// The header and the first column of a CSV file.
fn read(path: &Path, what: &str) -> Result<(Vec<String>, Vec<String>), GradeError> {
    let bad = |e: csv::Error| GradeError::Invalid(format!("{what} ({}): {e}", path.display()));
    let mut reader = csv::Reader::from_path(path).map_err(bad)?;
    let columns: Vec<String> = reader
        .headers()
        .map_err(bad)?
        .iter()
        .map(|c| c.trim().to_owned())
        .collect();
    let mut ids = Vec::new();
    for record in reader.records() {
        ids.push(
            record
                .map_err(bad)?
                .get(0)
                .unwrap_or_default()
                .trim()
                .to_owned(),
        );
    }
    Ok((columns, ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(sample: &str, submission: &str) -> Result<(), GradeError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        std::fs::write(&a, sample).expect("write");
        std::fs::write(&b, submission).expect("write");
        check_submission(&a, &b)
    }

    #[test]
    fn a_submission_matches_its_sample_or_says_how_it_differs() {
        assert_eq!(check("id,y\n1,0\n2,0\n", "id,y\n2,5\n1,3\n"), Ok(()));
        let err = |s, b| check(s, b).expect_err("invalid").to_string();
        assert!(err("id,y\n1,0\n", "id,z\n1,0\n").contains("columns"));
        assert!(err("id,y\n1,0\n2,0\n", "id,y\n1,0\n").contains("1 rows"));
        assert!(err("id,y\n1,0\n2,0\n", "id,y\n1,0\n1,0\n").contains("repeats"));
        assert!(err("id,y\n1,0\n2,0\n", "id,y\n1,0\n3,0\n").contains("\"2\""));
        assert!(err("id,y\n1,0\n", "id,y\n1,0,9\n").contains("submission"));
    }
}
