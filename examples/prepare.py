"""Exports the example tasks' data from datasets bundled with scikit-learn.

Each task gets data/train.csv (features and target), data/test.csv (features only),
data/sample_submission.csv (id and a placeholder target) and answers.csv (the held-back
test targets, outside data/ so a solution never sees them). The split is fixed (seed 0),
so rerunning this script reproduces the committed files byte for byte.

    python3 examples/prepare.py
"""

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent


def export(name: str, frame: pd.DataFrame, target: str, placeholder, stratify: bool) -> None:
    frame = frame.copy()
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    train, test = train_test_split(
        frame,
        test_size=0.25,
        random_state=0,
        stratify=frame[target] if stratify else None,
    )
    train, test = train.sort_values("id"), test.sort_values("id")
    data = HERE / name / "data"
    data.mkdir(parents=True, exist_ok=True)
    train.to_csv(data / "train.csv", index=False, float_format="%.6g")
    test.drop(columns=[target]).to_csv(data / "test.csv", index=False, float_format="%.6g")
    sample = pd.DataFrame({"id": test["id"], target: placeholder})
    sample.to_csv(data / "sample_submission.csv", index=False)
    test[["id", target]].to_csv(HERE / name / "answers.csv", index=False, float_format="%.6g")
    print(f"{name}: {len(train)} train rows, {len(test)} test rows, {frame.shape[1] - 2} features")


def main() -> None:
    diabetes = load_diabetes(as_frame=True, scaled=False).frame.rename(columns={"target": "progression"})
    export("diabetes", diabetes, "progression", placeholder=150.0, stratify=False)

    cancer = load_breast_cancer(as_frame=True).frame
    cancer.columns = [c.replace(" ", "_") for c in cancer.columns]
    cancer = cancer.rename(columns={"target": "benign"})
    export("breast-cancer", cancer, "benign", placeholder=1, stratify=True)


if __name__ == "__main__":
    main()
