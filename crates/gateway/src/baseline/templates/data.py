INPUT_DIR = "./input"
WORK_DIR = "./working"
REGRESSION_METRICS = ("log_rmse", "rmse", "mae")
CLASSIFICATION_METRICS = ("accuracy", "auc", "logloss", "f1")
MISSING = "__missing__"


def csv_header(path):
    try:
        return list(pd.read_csv(path, nrows=5).columns)
    except Exception:
        return []


def discover_files():
    """Finds the training, test and sample-submission CSV files under ./input."""
    csvs = []
    for root, dirs, files in os.walk(INPUT_DIR, followlinks=True):
        dirs.sort()
        for name in sorted(files):
            if name.lower().endswith(".csv"):
                csvs.append(os.path.normpath(os.path.join(root, name)))
    if not csvs:
        raise FileNotFoundError("no CSV file found in ./input")

    def base(path):
        return os.path.basename(path).lower()

    hinted = os.path.normpath(os.path.join(INPUT_DIR, SAMPLE_HINT)) if SAMPLE_HINT else ""
    if hinted in csvs:
        sample = hinted
    else:
        sample = next((p for p in csvs if base(p).startswith("sample_submission")), None)
        if sample is None:
            sample = next((p for p in csvs if "sample" in base(p)), None)
    rest = [p for p in csvs if p != sample]
    test = next((p for p in rest if base(p) == "test.csv"), None)
    if test is None:
        test = next((p for p in rest if "test" in base(p)), None)
    rest = [p for p in rest if p != test]
    train = next((p for p in rest if base(p) == "train.csv"), None)
    if train is None:
        if not rest:
            raise FileNotFoundError("no training CSV found in ./input")
        train = max(rest, key=lambda p: (len(csv_header(p)), os.path.getsize(p)))
    return train, test, sample


def looks_like_id(name):
    text = str(name)
    lower = text.lower()
    return lower in ("id", "index") or lower.endswith("_id") or text.endswith(("Id", "ID"))


def infer_columns(train, test, sample):
    """Returns (id column or None, target columns, probability columns or None)."""
    id_col = None
    if sample is not None and (test is None or sample.columns[0] in test.columns):
        id_col = sample.columns[0]
    if id_col is None and test is not None:
        id_col = next((c for c in test.columns if looks_like_id(c)), None)
    if id_col is None and test is None:
        id_col = next((c for c in train.columns if looks_like_id(c) and train[c].is_unique), None)
    absent = [c for c in train.columns if c != id_col and (test is None or c not in test.columns)]
    proba_columns = None
    if sample is not None:
        wanted = [c for c in sample.columns[1:]]
        targets = [c for c in wanted if c in train.columns]
        if not targets and len(absent) == 1 and len(wanted) > 1:
            targets, proba_columns = absent, wanted
        elif not targets:
            targets = absent[:1]
    else:
        targets = absent if test is not None else []
    if not targets:
        targets = [train.columns[-1]]
    return id_col, targets, proba_columns


def split_columns(frame):
    """Numeric and categorical feature columns; drops constant and free-text columns."""
    numeric, categorical = [], []
    n = len(frame)
    for col in frame.columns:
        series = frame[col]
        if series.nunique(dropna=False) <= 1:
            continue
        if pd.api.types.is_bool_dtype(series):
            categorical.append(col)
        elif pd.api.types.is_numeric_dtype(series):
            numeric.append(col)
        elif series.nunique() <= max(50, n // 2):
            categorical.append(col)
    return numeric, categorical


def prepare_frame(frame, categorical):
    for col in categorical:
        frame[col] = frame[col].astype(object).where(frame[col].notna(), MISSING).astype(str).astype(object)
    return frame


def infer_kind(y):
    """regression, binary or multiclass, from the metric and the target's values."""
    distinct = y.nunique()
    if METRIC in REGRESSION_METRICS:
        return "regression"
    if METRIC not in CLASSIFICATION_METRICS and pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y):
        values = y.to_numpy(dtype=float)
        integral = np.all(np.isclose(values, np.round(values)))
        if not integral or distinct > 20:
            return "regression"
    return "binary" if distinct <= 2 else "multiclass"


def metric_for(kind):
    if METRIC in REGRESSION_METRICS and kind == "regression":
        return METRIC
    if METRIC in CLASSIFICATION_METRICS and kind != "regression":
        return METRIC
    return "rmse" if kind == "regression" else "accuracy"


def score(metric, y, out):
    """The validation metric of outputs `out` (n x 1 values, or n x classes probabilities)."""
    if metric in ("rmse", "log_rmse"):
        return float(np.sqrt(np.mean((y - out[:, 0]) ** 2)))
    if metric == "mae":
        return float(np.mean(np.abs(y - out[:, 0])))
    labels = out.argmax(axis=1)
    if metric == "accuracy":
        return float(accuracy_score(y, labels))
    if metric == "f1":
        return float(f1_score(y, labels, average="binary" if out.shape[1] == 2 else "macro"))
    if metric == "auc":
        if out.shape[1] == 2:
            return float(roc_auc_score(y, out[:, 1]))
        return float(roc_auc_score(y, out, multi_class="ovr", labels=list(range(out.shape[1]))))
    if metric == "logloss":
        probs = np.clip(out, 1e-15, 1.0)
        probs = probs / probs.sum(axis=1, keepdims=True)
        return float(log_loss(y, probs, labels=list(range(out.shape[1]))))
    raise ValueError(f"unknown metric {metric}")


class TargetMeanEncoder(BaseEstimator, TransformerMixin):
    """Smoothed target mean per category; out-of-fold on the data it is fitted on.
    With more than two classes it encodes category frequency instead."""

    def __init__(self, multiclass=False, smoothing=10.0, folds=5, seed=0):
        self.multiclass = multiclass
        self.smoothing = smoothing
        self.folds = folds
        self.seed = seed

    def _tables(self, X, y):
        prior = float(y.mean())
        tables = []
        for j in range(X.shape[1]):
            stats = pd.DataFrame({"key": X[:, j], "y": y}).groupby("key")["y"].agg(["sum", "count"])
            if self.multiclass:
                encoded = stats["count"] / len(y)
            else:
                encoded = (stats["sum"] + prior * self.smoothing) / (stats["count"] + self.smoothing)
            tables.append(encoded.to_dict())
        return (0.0 if self.multiclass else prior), tables

    @staticmethod
    def _apply(X, prior, tables):
        out = np.empty(X.shape, dtype=float)
        for j, table in enumerate(tables):
            out[:, j] = [table.get(v, prior) for v in X[:, j]]
        return out

    def fit(self, X, y):
        X = np.asarray(X, dtype=object)
        y = np.asarray(y, dtype=float)
        self.prior_, self.tables_ = self._tables(X, y)
        return self

    def transform(self, X):
        return self._apply(np.asarray(X, dtype=object), self.prior_, self.tables_)

    def fit_transform(self, X, y=None, **fit_params):
        self.fit(X, y)
        X = np.asarray(X, dtype=object)
        y = np.asarray(y, dtype=float)
        out = np.empty(X.shape, dtype=float)
        splitter = KFold(n_splits=max(2, min(self.folds, len(y))), shuffle=True, random_state=self.seed)
        for tr, va in splitter.split(X):
            prior, tables = self._tables(X[tr], y[tr])
            out[va] = self._apply(X[va], prior, tables)
        return out


class SkewLog(BaseEstimator, TransformerMixin):
    """log1p of the columns that are non-negative and strongly right-skewed in the fit data."""

    def __init__(self, threshold=0.75):
        self.threshold = threshold

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=float)
        self.columns_ = []
        for j in range(X.shape[1]):
            values = pd.Series(X[:, j]).dropna()
            if len(values) and values.min() >= 0 and values.nunique() > 10 and values.skew() > self.threshold:
                self.columns_.append(j)
        return self

    def transform(self, X):
        X = np.array(X, dtype=float)
        for j in self.columns_:
            X[:, j] = np.log1p(np.clip(X[:, j], 0, None))
        return X
