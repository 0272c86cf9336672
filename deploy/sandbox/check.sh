#!/usr/bin/env bash
# Smoke test for the sandbox image, run under the same restrictions the Docker backend uses:
# no network, read-only root with a tmpfs /tmp, uid 10001, no capabilities, no new privileges.
# Checks that the whole package set imports, that LightGBM and XGBoost train (so OpenMP /
# libgomp is present), and that the image runs as the sandbox user with a writable /tmp only.
#
# Usage: check.sh [TAG]   (default: $AIDE_SANDBOX_TAG or aide-sandbox:py311)
set -euo pipefail

tag=${1:-${AIDE_SANDBOX_TAG:-aide-sandbox:py311}}

run() { # stdin is passed through (-i) so a script can come from a heredoc
  docker run -i --rm --network none --read-only --tmpfs /tmp --user 10001 \
    --cap-drop ALL --security-opt no-new-privileges --memory 1g --pids-limit 256 \
    "$tag" "$@"
}

run python3 -c "import numpy, pandas, sklearn, scipy, lightgbm, xgboost, statsmodels; print('ok')" </dev/null

run python3 - <<'PY'
import os, sys, tempfile
import numpy as np, pandas as pd, scipy, sklearn, lightgbm as lgb, xgboost as xgb, statsmodels

rng = np.random.default_rng(0)
X = rng.normal(size=(400, 5))
y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)

booster = lgb.train({"objective": "binary", "num_threads": 2, "verbose": -1},
                    lgb.Dataset(X, y), num_boost_round=20)
lgb_acc = float(((booster.predict(X) > 0.5) == y).mean())

model = xgb.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=2)
model.fit(X, y)
xgb_acc = float((model.predict(X) == y).mean())

assert lgb_acc > 0.9 and xgb_acc > 0.9, (lgb_acc, xgb_acc)

# Read-only root, writable /tmp.
try:
    open("/sandbox-write-probe", "w")
    sys.exit("root filesystem is writable")
except OSError:
    pass
with tempfile.NamedTemporaryFile(dir="/tmp"):
    pass

print(f"python {sys.version.split()[0]} uid {os.getuid()} cwd {os.getcwd()}")
print("numpy", np.__version__, "pandas", pd.__version__, "scipy", scipy.__version__,
      "sklearn", sklearn.__version__, "lightgbm", lgb.__version__, "xgboost", xgb.__version__,
      "statsmodels", statsmodels.__version__)
print(f"lightgbm train acc {lgb_acc:.3f}, xgboost train acc {xgb_acc:.3f}: ok")
PY
