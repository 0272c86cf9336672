//! A small synthetic MLE-bench competition, laid out the way `mlebench prepare` writes one
//! (`<data_dir>/<id>/prepared/public/` with `description.md` inside, the answers in
//! `prepared/private/test.csv`) with a `leaderboard.csv` beside `prepared/`: a binary
//! classification of two noisy features, graded by accuracy, with a leaderboard of 60 teams.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Writes competition `id` with `rows` training rows (and half as many test rows) under
/// `data_dir`; returns its directory.
pub fn competition(data_dir: &Path, id: &str, rows: usize) -> PathBuf {
    let dir = data_dir.join(id);
    let public = dir.join("prepared").join("public");
    let private = dir.join("prepared").join("private");
    for d in [&public, &private] {
        std::fs::create_dir_all(d).expect("create competition directories");
    }
    let mut random = Lcg(0x5eed ^ id.len() as u64);
    let (mut train, mut test, mut answers, mut sample) = (
        String::from("id,x1,x2,label\n"),
        String::from("id,x1,x2\n"),
        String::from("id,label\n"),
        String::from("id,label\n"),
    );
    for i in 0..rows + rows / 2 {
        let (x1, x2) = (random.unit(), random.unit());
        let noise = random.unit() < 0.1;
        let label = u8::from((x1 + x2 > 1.0) != noise);
        if i < rows {
            let _ = writeln!(train, "{i},{x1:.4},{x2:.4},{label}");
        } else {
            let _ = writeln!(test, "{i},{x1:.4},{x2:.4}");
            let _ = writeln!(answers, "{i},{label}");
            let _ = writeln!(sample, "{i},0");
        }
    }
    let mut leaderboard = String::from("teamName,score\n");
    for team in 0..60 {
        let _ = writeln!(
            leaderboard,
            "team-{team},{:.4}",
            0.99 - f64::from(team) * 0.008
        );
    }
    let files: [(PathBuf, &str); 6] = [
        (public.join("train.csv"), &train),
        (public.join("test.csv"), &test),
        (public.join("sample_submission.csv"), &sample),
        (
            public.join("description.md"),
            "# Synthetic classification\n\nPredict `label` (0 or 1) for each row of test.csv \
             from `x1` and `x2`. Submissions are graded by accuracy.\n",
        ),
        (private.join("test.csv"), &answers),
        (dir.join("leaderboard.csv"), &leaderboard),
    ];
    for (path, text) in files {
        std::fs::write(&path, text).expect("write competition file");
    }
    dir
}

/// A deterministic generator, so every run of a test sees the same data.
struct Lcg(u64);

impl Lcg {
    fn unit(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Writes the spec of the sweep tests into `dir`: the diabetes and breast-cancer examples
/// and the synthetic competition `synthetic-clf` (under `dir/mle`, graded by accuracy),
/// with `seeds` (TOML: `2` or `[3, 4]`), two steps per run, arms `short` (the settings as
/// they are) and `long` (with `long_arm`, a TOML table), and `cells_at_once`.
pub fn sweep_spec(dir: &Path, seeds: &str, long_arm: &str, cells_at_once: u32) -> PathBuf {
    competition(&dir.join("mle"), "synthetic-clf", 300);
    let spec = dir.join("spec.toml");
    let text = format!(
        r#"seeds = {seeds}
[settings]
steps = 2
k_fold_validation = 2
exec_timeout_secs = 120

[[tasks]]
path = "{diabetes}"

[[tasks]]
path = "{cancer}"

[mlebench]
data_dir = "mle"
competitions = ["synthetic-clf"]
metrics = {{ "synthetic-clf" = "accuracy" }}

[[arms]]
name = "short"

[[arms]]
name = "long"
settings = {long_arm}

[budget]
cells_at_once = {cells_at_once}
"#,
        diabetes = crate::example_dir("diabetes").display(),
        cancer = crate::example_dir("breast-cancer").display(),
    );
    std::fs::write(&spec, text).expect("write the spec");
    spec
}
