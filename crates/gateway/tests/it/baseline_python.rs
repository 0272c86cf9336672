//! Runs the baseline's generated scripts with a real `python3` on real data: the house-prices
//! task from ../shared/data and a synthetic binary-classification task written by the test.
//! Without python3 + pandas + scikit-learn the tests fail when `CI` is set and skip otherwise.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use aide_gateway::baseline::{BaselineAnswer, answer};
use aide_proto::v1::{ActionKind, AideContext, TaskFacts};

fn python_ready() -> bool {
    aide_testkit::python::require_modules("pandas, sklearn, numpy", "bash deploy/dev/python.sh")
        .is_some()
}

fn house_facts() -> TaskFacts {
    TaskFacts {
        goal: "Predict the sales price for each house".into(),
        eval: "Use the RMSE metric between the logarithm of the predicted value and the \
               logarithm of the observed sales price."
            .into(),
        input_files: vec![
            "data_description.txt".into(),
            "sample_submission.csv".into(),
            "test.csv".into(),
            "train.csv".into(),
        ],
        submission_file: "submission.csv".into(),
        sample_submission: "sample_submission.csv".into(),
        k_fold: 5,
        exec_timeout_secs: 600,
        ..Default::default()
    }
}

fn context(action: ActionKind, task: &TaskFacts) -> AideContext {
    AideContext {
        action: action as i32,
        task: Some(task.clone()),
        seed: 7,
        ..Default::default()
    }
}

fn code_of(ctx: &AideContext) -> String {
    let Ok(BaselineAnswer::Text(text)) = answer(ctx) else {
        panic!("expected a text answer");
    };
    let start = text.find("```python\n").expect("python block") + "```python\n".len();
    let end = start + text[start..].find("```").expect("closing fence");
    assert_eq!(
        text.matches("```python").count(),
        1,
        "exactly one code block"
    );
    text[start..end].to_owned()
}

fn review_of(task: &TaskFacts, code: &str, output: &str) -> serde_json::Value {
    let mut ctx = context(ActionKind::Review, task);
    ctx.parent_code = code.to_owned();
    ctx.last_output = output.to_owned();
    let Ok(BaselineAnswer::FunctionArguments(args)) = answer(&ctx) else {
        panic!("expected function arguments");
    };
    args
}

struct Run {
    output: String,
    success: bool,
    elapsed: Duration,
    dir: tempfile::TempDir,
}

impl Run {
    fn submission(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join("working/submission.csv")).ok()
    }
}

fn run_script(code: &str, input: &Path) -> Run {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(input, dir.path().join("input")).unwrap();
    std::fs::create_dir(dir.path().join("working")).unwrap();
    std::fs::write(dir.path().join("solution.py"), code).unwrap();
    let started = Instant::now();
    let out = Command::new("python3")
        .arg("solution.py")
        .current_dir(dir.path())
        .output()
        .expect("python3 runs");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Run {
        output,
        success: out.status.success(),
        elapsed: started.elapsed(),
        dir,
    }
}

#[derive(Debug)]
struct Node {
    code: String,
    buggy: bool,
    metric: Option<f64>,
    parent: Option<usize>,
    output: String,
}

/// Five drafts, then debug a childless buggy node if any, else improve the best: the AIDE
/// loop of ARCHITECTURE §4 with debug always preferred, for 10 steps.
#[test]
fn house_prices_ten_step_loop_reaches_target() {
    if !python_ready() {
        return;
    }
    let task = house_facts();
    let input = aide_testkit::house_prices_dir();
    let mut nodes: Vec<Node> = Vec::new();
    for step in 0..10u32 {
        let mut ctx;
        let parent;
        let buggy_leaf = (0..nodes.len())
            .find(|&i| nodes[i].buggy && !nodes.iter().any(|n| n.parent == Some(i)));
        if nodes.len() < 5 {
            ctx = context(ActionKind::Draft, &task);
            ctx.draft_index = step;
            parent = None;
        } else if let Some(i) = buggy_leaf {
            ctx = context(ActionKind::Debug, &task);
            ctx.parent_code = nodes[i].code.clone();
            ctx.last_output = nodes[i].output.clone();
            parent = Some(i);
        } else {
            let best = (0..nodes.len())
                .filter(|&i| !nodes[i].buggy)
                .min_by(|&a, &b| {
                    nodes[a]
                        .metric
                        .unwrap()
                        .total_cmp(&nodes[b].metric.unwrap())
                })
                .expect("a good node");
            ctx = context(ActionKind::Improve, &task);
            ctx.parent_code = nodes[best].code.clone();
            ctx.parent_metric = nodes[best].metric;
            parent = Some(best);
        }
        ctx.step = step;
        let code = code_of(&ctx);
        let run = run_script(&code, &input);
        let review = review_of(&task, &code, &run.output);
        let buggy = review["is_bug"].as_bool().unwrap() || !run.success;
        let metric = review["metric"].as_f64();
        assert_eq!(review["lower_is_better"], true);
        eprintln!(
            "step {step}: {:?} parent {:?} metric {:?} buggy {buggy} in {:.1}s — {}",
            ActionKind::try_from(ctx.action).unwrap(),
            parent,
            metric,
            run.elapsed.as_secs_f64(),
            code.lines().nth(2).unwrap_or_default()
        );
        if step < 5 {
            assert!(run.success, "draft {step} failed:\n{}", run.output);
            assert!(run.output.contains("AIDE_METRIC: "), "{}", run.output);
            assert!(!buggy && metric.is_some(), "review {review}");
            let submission = run.submission().expect("submission written");
            let mut lines = submission.lines();
            assert_eq!(lines.next(), Some("Id,SalePrice"));
            assert_eq!(lines.count(), 1459);
            assert!(
                run.elapsed < Duration::from_secs(60),
                "draft {step} too slow"
            );
        }
        nodes.push(Node {
            code,
            buggy,
            metric,
            parent,
            output: run.output,
        });
    }
    let best = nodes
        .iter()
        .filter_map(|n| n.metric)
        .fold(f64::INFINITY, f64::min);
    eprintln!("best validation RMSE of log price within 10 steps: {best:.5}");
    assert!(best <= 0.15, "best {best} > 0.15");
}

#[test]
fn debug_of_missing_lightgbm_runs_without_it() {
    if !python_ready() {
        return;
    }
    let task = house_facts();
    let mut draft = context(ActionKind::Draft, &task);
    draft.draft_index = 0;
    let parent = code_of(&draft);
    assert!(parent.contains("import lightgbm"));
    let mut ctx = context(ActionKind::Debug, &task);
    ctx.step = 5;
    ctx.parent_code = parent;
    ctx.last_output = "Traceback (most recent call last):\n  File \"solution.py\", line 40, in \
                       build_gbm\n    import lightgbm as lgb\nModuleNotFoundError: No module \
                       named 'lightgbm'\n"
        .into();
    let code = code_of(&ctx);
    assert!(!code.contains("lightgbm") && !code.contains("xgboost"));
    let run = run_script(&code, &aide_testkit::house_prices_dir());
    assert!(run.success, "{}", run.output);
    let review = review_of(&task, &code, &run.output);
    assert_eq!(review["is_bug"], false, "{review}");
    let metric = review["metric"].as_f64().expect("metric");
    eprintln!(
        "debugged script: metric {metric:.5} in {:.1}s",
        run.elapsed.as_secs_f64()
    );
    assert!(metric < 0.2);
}

/// A small deterministic generator (LCG) for the synthetic task.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn write_synthetic_classification(dir: &Path) {
    let mut rng = Lcg(42);
    let colors = ["red", "green", "blue"];
    let mut train = String::from("row_id,x1,x2,color,size,label\n");
    let mut test = String::from("row_id,x1,x2,color,size\n");
    let mut sample = String::from("row_id,label\n");
    for i in 0..800 {
        let x1 = rng.next() * 4.0 - 2.0;
        let x2 = rng.next() * 4.0 - 2.0;
        let color = colors[(rng.next() * 3.0) as usize % 3];
        let size = if rng.next() < 0.1 {
            String::new()
        } else {
            format!("{:.0}", rng.next() * 100.0)
        };
        let noise = rng.next() - 0.5;
        let score = x1 + 0.7 * x2 + if color == "red" { 1.0 } else { -0.3 } + noise * 0.6;
        let label = if score > 0.0 { "yes" } else { "no" };
        if i < 600 {
            train.push_str(&format!("{i},{x1:.4},{x2:.4},{color},{size},{label}\n"));
        } else {
            test.push_str(&format!("{i},{x1:.4},{x2:.4},{color},{size}\n"));
            sample.push_str(&format!("{i},no\n"));
        }
    }
    std::fs::write(dir.join("train.csv"), train).unwrap();
    std::fs::write(dir.join("test.csv"), test).unwrap();
    std::fs::write(dir.join("sample_submission.csv"), sample).unwrap();
}

#[test]
fn synthetic_binary_classification_works() {
    if !python_ready() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    write_synthetic_classification(data.path());
    let task = TaskFacts {
        goal: "Predict whether each row's label is yes or no".into(),
        eval: "Submissions are evaluated on accuracy.".into(),
        submission_file: "submission.csv".into(),
        sample_submission: "sample_submission.csv".into(),
        k_fold: 5,
        ..Default::default()
    };
    for draft_index in [0, 2] {
        let mut ctx = context(ActionKind::Draft, &task);
        ctx.draft_index = draft_index;
        let code = code_of(&ctx);
        let run = run_script(&code, data.path());
        assert!(run.success, "draft {draft_index} failed:\n{}", run.output);
        let review = review_of(&task, &code, &run.output);
        assert_eq!(review["is_bug"], false, "{review}");
        assert_eq!(review["lower_is_better"], false, "{review}");
        let accuracy = review["metric"].as_f64().unwrap();
        eprintln!("synthetic draft {draft_index}: accuracy {accuracy:.4}");
        assert!(accuracy > 0.8, "accuracy {accuracy}\n{}", run.output);
        assert!(run.output.contains("binary"), "{}", run.output);
        let submission = run.submission().unwrap();
        let mut lines = submission.lines();
        assert_eq!(lines.next(), Some("row_id,label"));
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), 200);
        assert_eq!(rows[0].split(',').next(), Some("600"));
        assert!(
            rows.iter()
                .all(|r| r.ends_with(",yes") || r.ends_with(",no"))
        );
    }
}
