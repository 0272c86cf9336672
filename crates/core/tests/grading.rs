//! The built-in metrics against scikit-learn, and MLE-bench's medal rule against a direct
//! Python implementation of it, on the same generated data (issue 11). Needs python3 with
//! numpy and scikit-learn (`bash deploy/dev/python.sh`): under CI a missing one fails.

use std::process::Command;

use aide_core::grade::metrics::{
    accuracy, binary_log_loss, f1, log_loss, macro_f1, mae, map_at_k, quadratic_weighted_kappa,
    rmse, rmsle, roc_auc,
};
use aide_core::grade::{Medal, Thresholds};
use aide_core::rng::RunRng;
use serde_json::{Value, json};

const ROWS: usize = 400;

/// Runs `script` with `data` (JSON) on stdin; its stdout parsed as JSON.
fn python(script: &str, data: &Value) -> Option<Value> {
    aide_testkit::python::require_modules("numpy, sklearn", "bash deploy/dev/python.sh")?;
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("data.json");
    std::fs::write(&input, data.to_string()).expect("write");
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&input)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("JSON from python"))
}

fn close(what: &str, ours: f64, theirs: &Value) {
    let theirs = theirs
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: {theirs}"));
    assert!(
        (ours - theirs).abs() <= 1e-9 * theirs.abs().max(1.0),
        "{what}: ours {ours}, scikit-learn {theirs}"
    );
}

#[test]
fn every_built_in_metric_agrees_with_scikit_learn() {
    let mut rng = RunRng::from_seed(11);
    let truth: Vec<f64> = (0..ROWS).map(|_| rng.next_f64() * 100.0).collect();
    let predicted: Vec<f64> = truth
        .iter()
        .map(|t| (t + (rng.next_f64() - 0.5) * 20.0).max(0.0))
        .collect();
    let binary: Vec<bool> = (0..ROWS).map(|_| rng.chance(0.4)).collect();
    // Scores with ties (rounded to a tenth) to exercise the tie rule.
    let scores: Vec<f64> = binary
        .iter()
        .map(|b| ((rng.next_f64() * 0.7 + if *b { 0.3 } else { 0.0 }) * 10.0).round() / 10.0)
        .map(|s: f64| s.clamp(0.01, 0.99))
        .collect();
    let classes: Vec<usize> = (0..ROWS).map(|_| rng.index(4)).collect();
    let probabilities: Vec<Vec<f64>> = classes
        .iter()
        .map(|c| {
            let mut row: Vec<f64> = (0..4).map(|_| rng.next_f64() + 0.05).collect();
            row[*c] += rng.next_f64();
            let sum: f64 = row.iter().sum();
            row.iter().map(|p| p / sum).collect()
        })
        .collect();
    let guessed: Vec<usize> = classes
        .iter()
        .map(|c| if rng.chance(0.7) { *c } else { rng.index(4) })
        .collect();
    let ratings: Vec<i64> = (0..ROWS).map(|_| rng.index(5) as i64).collect();
    let rated: Vec<i64> = ratings
        .iter()
        .map(|r| (r + rng.index(3) as i64 - 1).clamp(0, 4))
        .collect();
    let answers: Vec<String> = (0..ROWS).map(|_| format!("c{}", rng.index(8))).collect();
    let rankings: Vec<Vec<String>> = (0..ROWS)
        .map(|_| (0..5).map(|_| format!("c{}", rng.index(8))).collect())
        .collect();

    let data = json!({
        "truth": truth, "predicted": predicted, "binary": binary, "scores": scores,
        "classes": classes, "probabilities": probabilities, "guessed": guessed,
        "ratings": ratings, "rated": rated, "answers": answers, "rankings": rankings,
    });
    let script = r#"
import json, sys
import numpy as np
from sklearn import metrics as m
d = json.load(open(sys.argv[1]))
def apk(actual, predicted, k):
    score, hits = 0.0, 0.0
    for i, p in enumerate(predicted[:k]):
        if p in actual and p not in predicted[:i]:
            hits += 1.0
            score += hits / (i + 1.0)
    return score / min(len(actual), k)
y, p = np.array(d["truth"]), np.array(d["predicted"])
b, s = np.array(d["binary"]), np.array(d["scores"])
c, g = [str(x) for x in d["classes"]], [str(x) for x in d["guessed"]]
print(json.dumps({
    "rmse": float(np.sqrt(m.mean_squared_error(y, p))),
    "rmsle": float(np.sqrt(m.mean_squared_log_error(y, p))),
    "mae": float(m.mean_absolute_error(y, p)),
    "accuracy": float(m.accuracy_score(c, g)),
    "auc": float(m.roc_auc_score(b, s)),
    "binary_log_loss": float(m.log_loss(b, s)),
    "log_loss": float(m.log_loss(d["classes"], d["probabilities"], labels=[0, 1, 2, 3])),
    "f1": float(m.f1_score(b.astype(int), (s >= 0.5).astype(int))),
    "macro_f1": float(m.f1_score(c, g, average="macro")),
    "qwk": float(m.cohen_kappa_score(d["ratings"], d["rated"], weights="quadratic")),
    "map5": float(np.mean([apk([a], r, 5) for a, r in zip(d["answers"], d["rankings"])])),
}))
"#;
    let Some(theirs) = python(script, &data) else {
        return;
    };
    close("rmse", rmse(&truth, &predicted).unwrap(), &theirs["rmse"]);
    close(
        "rmsle",
        rmsle(&truth, &predicted).unwrap(),
        &theirs["rmsle"],
    );
    close("mae", mae(&truth, &predicted).unwrap(), &theirs["mae"]);
    let text = |v: &[usize]| v.iter().map(ToString::to_string).collect::<Vec<_>>();
    let (c, g) = (text(&classes), text(&guessed));
    let (c, g): (Vec<&str>, Vec<&str>) = (
        c.iter().map(String::as_str).collect(),
        g.iter().map(String::as_str).collect(),
    );
    close("accuracy", accuracy(&c, &g).unwrap(), &theirs["accuracy"]);
    close("auc", roc_auc(&binary, &scores).unwrap(), &theirs["auc"]);
    close(
        "binary log loss",
        binary_log_loss(&binary, &scores).unwrap(),
        &theirs["binary_log_loss"],
    );
    close(
        "log loss",
        log_loss(&classes, &probabilities).unwrap(),
        &theirs["log_loss"],
    );
    let truth01: Vec<&str> = binary.iter().map(|b| if *b { "1" } else { "0" }).collect();
    let pred01: Vec<&str> = scores
        .iter()
        .map(|s| if *s >= 0.5 { "1" } else { "0" })
        .collect();
    close("f1", f1(&truth01, &pred01, "1").unwrap(), &theirs["f1"]);
    close("macro f1", macro_f1(&c, &g).unwrap(), &theirs["macro_f1"]);
    close(
        "qwk",
        quadratic_weighted_kappa(&ratings, &rated).unwrap(),
        &theirs["qwk"],
    );
    let truth_sets: Vec<Vec<&str>> = answers.iter().map(|a| vec![a.as_str()]).collect();
    let guesses: Vec<Vec<&str>> = rankings
        .iter()
        .map(|r| r.iter().map(String::as_str).collect())
        .collect();
    close(
        "map@5",
        map_at_k(&truth_sets, &guesses, 5).unwrap(),
        &theirs["map5"],
    );
}

#[test]
fn medal_thresholds_follow_the_rule_for_50_150_500_and_2000_teams() {
    let mut rng = RunRng::from_seed(7);
    let mut boards = Vec::new();
    for (teams, lower_is_better) in [(50, false), (150, true), (500, false), (2000, true)] {
        let mut scores: Vec<f64> = (0..teams)
            .map(|_| (rng.next_f64() * 1000.0).round() / 1000.0)
            .collect();
        scores.sort_by(f64::total_cmp);
        if !lower_is_better {
            scores.reverse();
        }
        boards.push(scores);
    }
    let script = r#"
import json, sys
import pandas as pd
def rule(scores):
    n = len(scores)
    at = lambda pos: scores[pos - 1]
    if n < 100:
        g, s, b = at(max(1, int(n * 0.1))), at(max(1, int(n * 0.2))), at(max(1, int(n * 0.4)))
    elif n < 250:
        g, s, b = at(10), at(max(1, int(n * 0.2))), at(max(1, int(n * 0.4)))
    elif n < 1000:
        g, s, b = at(10 + int(n * 0.002)), at(50), at(100)
    else:
        g, s, b = at(10 + int(n * 0.002)), at(max(1, int(n * 0.05))), at(max(1, int(n * 0.1)))
    return {"gold": g, "silver": s, "bronze": b, "median": float(pd.Series(scores).median())}
print(json.dumps([rule(b) for b in json.load(open(sys.argv[1]))]))
"#;
    let Some(theirs) = python(script, &json!(boards)) else {
        return;
    };
    for (board, expected) in boards.iter().zip(theirs.as_array().expect("a list")) {
        let t = Thresholds::of_leaderboard(board).expect("thresholds");
        for (name, ours) in [
            ("gold", t.gold),
            ("silver", t.silver),
            ("bronze", t.bronze),
            ("median", t.median),
        ] {
            close(
                &format!("{} teams: {name}", board.len()),
                ours,
                &expected[name],
            );
        }
        // A score exactly at a threshold earns that medal, one just worse the next one.
        let worse = |v: f64| {
            if t.lower_is_better {
                v + 1e-9
            } else {
                v - 1e-9
            }
        };
        assert_eq!(t.place(t.gold).medal, Some(Medal::Gold));
        if t.silver != t.gold {
            assert_eq!(t.place(worse(t.gold)).medal, Some(Medal::Silver));
        }
        assert!(t.place(t.bronze).medal.is_some());
        assert!(!t.place(t.median).above_median);
    }
}
