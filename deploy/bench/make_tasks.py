"""Writes 20 benchmark tasks in MLE-bench's directory layout from datasets that ship inside
Python wheels (scikit-learn's bundled sets and statsmodels' datasets; nothing is downloaded),
each with a synthetic leaderboard.csv, plus a sweep spec that runs them.

    python make_tasks.py OUT_DIR [--seeds 3] [--steps 4] [--tasks N] [--arms greedy,mcts]

--tasks keeps the first N tasks; --arms adds one arm per search policy named.

Layout per task (as `mlebench prepare` writes it):
    OUT_DIR/<id>/prepared/public/{train.csv,test.csv,sample_submission.csv,description.md}
    OUT_DIR/<id>/prepared/private/test.csv            (the answers: id, target)
    OUT_DIR/<id>/leaderboard.csv                      (teamName, score; best first)

The leaderboard is synthetic: a reference model's test score sets the top, chance level the
bottom, and the team count varies (40 to 2,500) so every one of MLE-bench's medal rules is
exercised.
"""

import argparse
import pathlib

import numpy as np
import pandas as pd
from sklearn import datasets as skd
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.model_selection import train_test_split
from sklearn import metrics as skm
import statsmodels.api as sm

LOWER_IS_BETTER = {"rmse", "rmsle", "mae", "log_loss"}
TEAMS = [40, 120, 400, 1500, 2500]


def sklearn_frame(loader, target_name):
    bunch = loader(as_frame=True)
    frame = bunch.frame.copy()
    if "target" in frame.columns and target_name != "target":
        frame = frame.rename(columns={"target": target_name})
    return frame


def sm_frame(module):
    return module.load_pandas().data.copy()


def numeric(frame):
    """Only numeric columns, categories as codes, no missing targets."""
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        series = frame[col]
        if series.dtype.kind in "biuf":
            out[col] = series
        else:
            out[col] = series.astype("category").cat.codes
    return out


def tasks():
    """(id, frame, target, metric, kind, description) for each task."""
    iris = sklearn_frame(skd.load_iris, "species")
    wine = sklearn_frame(skd.load_wine, "cultivar")
    cancer = sklearn_frame(skd.load_breast_cancer, "malignant")
    digits = sklearn_frame(skd.load_digits, "digit")
    diabetes = sklearn_frame(skd.load_diabetes, "progression")
    linnerud = skd.load_linnerud(as_frame=True)
    linn = pd.concat([linnerud.data, linnerud.target], axis=1)
    fair = numeric(sm_frame(sm.datasets.fair))
    randhie = numeric(sm_frame(sm.datasets.randhie))
    anes = numeric(sm_frame(sm.datasets.anes96))
    engel = numeric(sm_frame(sm.datasets.engel))
    grunfeld = numeric(sm_frame(sm.datasets.grunfeld))
    macro = numeric(sm_frame(sm.datasets.macrodata))
    star = numeric(sm_frame(sm.datasets.star98))
    modechoice = numeric(sm_frame(sm.datasets.modechoice))
    sunspots = numeric(sm_frame(sm.datasets.sunspots))
    for lag in (1, 2, 3, 11):
        sunspots[f"lag{lag}"] = sunspots["SUNACTIVITY"].shift(lag)
    sunspots = sunspots.dropna()
    digits_parity = digits.assign(even=(digits["digit"] % 2 == 0).astype(int)).drop(columns="digit")
    iris_versicolor = iris.assign(versicolor=(iris["species"] == 1).astype(int)).drop(columns="species")
    fair_any = fair.assign(any_affair=(fair["affairs"] > 0).astype(int)).drop(columns="affairs")
    fair_marriage = fair.drop(columns="affairs")
    wine_alcohol = wine.drop(columns="cultivar")
    randhie_any = randhie.assign(any_visit=(randhie["mdvis"] > 0).astype(int)).drop(columns="mdvis")
    return [
        ("iris-species", iris, "species", "accuracy", "Classify iris flowers into their three species from four measurements."),
        ("wine-cultivar", wine, "cultivar", "macro_f1", "Identify the cultivar (0, 1 or 2) of Italian wines from their chemical analysis."),
        ("breast-cancer-auc", cancer, "malignant", "auc", "Predict whether a breast mass is benign (1) or malignant (0); graded by ROC AUC."),
        ("digits", digits, "digit", "accuracy", "Recognise the handwritten digit (0-9) in 8x8 images given as 64 pixel intensities."),
        ("digits-parity", digits_parity, "even", "log_loss", "Predict whether a handwritten digit is even (1) from its 64 pixel intensities; graded by log loss of the predicted probability."),
        ("diabetes-progression", diabetes, "progression", "rmse", "Predict diabetes progression after one year from ten baseline variables."),
        ("linnerud-weight", linn.drop(columns=["Waist", "Pulse"]), "Weight", "mae", "Predict a man's weight from his exercise results (chins, situps, jumps)."),
        ("iris-versicolor", iris_versicolor, "versicolor", "f1", "Tell whether an iris is Iris versicolor (1) from four measurements; graded by F1."),
        ("wine-alcohol", wine_alcohol, "alcohol", "rmse", "Predict the alcohol content of a wine from the rest of its chemical analysis."),
        ("fair-affairs", fair_any, "any_affair", "auc", "Predict whether a survey respondent reported any extramarital affair (1)."),
        ("fair-marriage-rating", fair_marriage, "rate_marriage", "qwk", "Predict the self-rated quality of a marriage (1 to 5); graded by quadratic weighted kappa."),
        ("randhie-visits", randhie, "mdvis", "rmsle", "Predict the number of outpatient visits in the RAND health insurance experiment."),
        ("randhie-any-visit", randhie_any, "any_visit", "accuracy", "Predict whether a person made any outpatient visit (1) in the RAND experiment."),
        ("anes96-vote", anes, "vote", "accuracy", "Predict the 1996 US presidential vote (1 = Dole) of survey respondents."),
        ("engel-food", engel, "foodexp", "rmse", "Predict a household's food expenditure from its income (Engel's data)."),
        ("grunfeld-invest", grunfeld, "invest", "mae", "Predict a firm's gross investment from its value and capital stock (Grunfeld)."),
        ("macro-investment", macro, "realinv", "rmse", "Predict US real private investment from the other quarterly macro series."),
        ("star98-math", star, "NABOVE", "rmse", "Predict how many students of a California school district scored above the national math median."),
        ("modechoice", modechoice, "choice", "auc", "Predict whether a travel mode is the one chosen (1) for an intercity trip."),
        ("sunspots", sunspots, "SUNACTIVITY", "rmse", "Predict the yearly sunspot activity from earlier years' activity."),
    ]


def reference_score(train, test, target, metric, classify):
    features = [c for c in train.columns if c != target]
    model = (RandomForestClassifier if classify else RandomForestRegressor)(n_estimators=100, random_state=0)
    model.fit(train[features], train[target])
    truth = test[target]
    if metric in ("auc", "log_loss"):
        proba = model.predict_proba(test[features])[:, 1]
        return skm.roc_auc_score(truth, proba) if metric == "auc" else skm.log_loss(truth, proba)
    pred = model.predict(test[features])
    return {
        "accuracy": lambda: skm.accuracy_score(truth, pred),
        "macro_f1": lambda: skm.f1_score(truth, pred, average="macro"),
        "f1": lambda: skm.f1_score(truth, pred),
        "qwk": lambda: skm.cohen_kappa_score(truth, np.rint(pred).astype(int), weights="quadratic"),
        "rmse": lambda: skm.mean_squared_error(truth, pred) ** 0.5,
        "mae": lambda: skm.mean_absolute_error(truth, pred),
        "rmsle": lambda: skm.mean_squared_log_error(truth, np.maximum(pred, 0)) ** 0.5,
    }[metric]()


def leaderboard(reference, metric, teams):
    """Scores best first: the top half from well beyond the reference model's score down to
    it (so the median team scores about as the reference does), the bottom half from there
    down to chance level, as on a real board where most teams crowd near the good scores."""
    lower = metric in LOWER_IS_BETTER
    if lower:
        best, worst = reference * 0.8, reference * 2.5
    else:
        chance = 0.5 if metric in ("auc", "accuracy", "f1", "macro_f1") else 0.0
        best, worst = reference + (1.0 - reference) * 0.5, chance
    half = teams // 2
    top = best + (reference - best) * np.linspace(0.0, 1.0, half) ** 0.5
    bottom = reference + (worst - reference) * np.linspace(0.0, 1.0, teams - half + 1)[1:] ** 2
    return np.concatenate([top, bottom])


def write_task(out, task_id, frame, target, metric, description, teams):
    frame = frame.dropna(subset=[target]).reset_index(drop=True)
    frame = frame.fillna(frame.median(numeric_only=True))
    # Shuffled before numbering: some datasets are sorted by their target, and the id must
    # not give it away.
    frame = frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    frame.insert(0, "id", range(len(frame)))
    classify = metric in ("accuracy", "macro_f1", "f1", "auc", "log_loss", "qwk")
    stratify = frame[target] if classify and frame[target].value_counts().min() >= 2 else None
    train, test = train_test_split(frame, test_size=0.3, random_state=42, stratify=stratify)
    public = out / task_id / "prepared" / "public"
    private = out / task_id / "prepared" / "private"
    public.mkdir(parents=True, exist_ok=True)
    private.mkdir(parents=True, exist_ok=True)
    train.to_csv(public / "train.csv", index=False)
    test.drop(columns=target).to_csv(public / "test.csv", index=False)
    sample = test[["id"]].assign(**{target: train[target].mode()[0]})
    sample.to_csv(public / "sample_submission.csv", index=False)
    test[["id", target]].to_csv(private / "test.csv", index=False)
    direction = "lower" if metric in LOWER_IS_BETTER else "higher"
    (public / "description.md").write_text(
        f"# {task_id}\n\n{description}\n\n"
        f"train.csv holds `{target}` for {len(train)} rows; predict it for the {len(test)} rows "
        f"of test.csv and write `id,{target}` like sample_submission.csv.\n\n"
        f"Submissions are graded by {metric} ({direction} is better).\n"
    )
    reference = reference_score(train, test, target, metric, classify)
    scores = leaderboard(reference, metric, teams)
    board = pd.DataFrame({"teamName": [f"team-{i}" for i in range(teams)], "score": scores})
    board.to_csv(out / task_id / "leaderboard.csv", index=False)
    return reference


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=pathlib.Path)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--cells-at-once", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=None, help="keep the first N tasks")
    parser.add_argument("--arms", default="", help="comma-separated search policies, one arm each")
    args = parser.parse_args()
    data = args.out / "data"
    data.mkdir(parents=True, exist_ok=True)
    metrics = {}
    for i, (task_id, frame, target, metric, description) in enumerate(tasks()[: args.tasks]):
        teams = TEAMS[i % len(TEAMS)]
        reference = write_task(data, task_id, frame, target, metric, description, teams)
        metrics[task_id] = metric
        print(f"{task_id:<22} {metric:<9} reference {reference:.4f} · {teams} teams")
    ids = "\n".join(metrics) + "\n"
    (args.out / "competitions.txt").write_text(ids)
    metric_lines = "\n".join(f'"{k}" = "{v}"' for k, v in metrics.items())
    (args.out / "spec.toml").write_text(
        f"seeds = {args.seeds}\n\n[settings]\nsteps = {args.steps}\nk_fold_validation = 3\n"
        f"exec_timeout_secs = 300\n\n[mlebench]\ndata_dir = \"data\"\n"
        f"competitions = {{ file = \"competitions.txt\" }}\n\n[mlebench.metrics]\n{metric_lines}\n\n"
        f"[budget]\ncells_at_once = {args.cells_at_once}\n"
        + "".join(
            f'\n[[arms]]\nname = "{policy}"\nsettings = {{ search = {{ policy = "{policy}" }} }}\n'
            for policy in filter(None, args.arms.split(","))
        )
    )
    print(f"wrote {len(metrics)} tasks and {args.out / 'spec.toml'}")


if __name__ == "__main__":
    main()
