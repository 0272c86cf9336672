def make_pipeline(family, kind, params, numeric, categorical):
    model, style = BUILDERS[family](kind, params)
    many_levels = [c for c in categorical if c in HIGH_CARDINALITY]
    parts = []
    if style == "onehot":
        steps = [("impute", SimpleImputer(strategy="median")), ("log", SkewLog()), ("scale", StandardScaler())]
        scaled = Pipeline(steps)
        parts.append(("num", scaled, numeric))
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore"), categorical))
    else:
        numbers = "passthrough" if style == "trees_nan" else SimpleImputer(strategy="median")
        parts.append(("num", numbers, numeric))
        codes = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        parts.append(("cat", codes, categorical))
    if TARGET_ENCODE and many_levels:
        encoder = TargetMeanEncoder(multiclass=kind == "multiclass", seed=SEED)
        if style == "onehot":
            encoder = Pipeline([("encode", encoder), ("scale", StandardScaler())])
        parts.append(("target_mean", encoder, many_levels))
    parts = [part for part in parts if len(part[2]) > 0]
    return Pipeline([("prepare", ColumnTransformer(parts, remainder="drop")), ("model", model)])


def predict_outputs(pipeline, X, kind, n_classes):
    """Regression values as an n x 1 array, or class probabilities as n x classes."""
    if kind == "regression":
        return np.asarray(pipeline.predict(X), dtype=float).reshape(-1, 1)
    probs = np.asarray(pipeline.predict_proba(X), dtype=float)
    full = np.zeros((len(X), n_classes))
    for j, label in enumerate(pipeline.classes_):
        full[:, int(label)] = probs[:, j]
    return full


def fit_predict(X_train, y_train, X_eval, X_test, kind, n_classes, numeric, categorical):
    """Fits every model of the recipe and averages their outputs on eval and test rows."""
    eval_out, test_out = 0.0, 0.0
    for family, params in MODELS:
        pipeline = make_pipeline(family, kind, params, numeric, categorical)
        pipeline.fit(X_train, y_train)
        eval_out = eval_out + predict_outputs(pipeline, X_eval, kind, n_classes) / len(MODELS)
        if X_test is not None:
            test_out = test_out + predict_outputs(pipeline, X_test, kind, n_classes) / len(MODELS)
    return eval_out, test_out


def validate_target(X, y_raw, X_test, numeric, categorical):
    """K-fold validation of one target; returns (metric, value, test outputs, decoder)."""
    kind = infer_kind(y_raw)
    metric = metric_for(kind)
    decoder = None
    n_classes = 0
    if kind == "regression":
        y = y_raw.to_numpy(dtype=float)
        if metric == "log_rmse" and y.min() <= -1:
            print("the target has values <= -1, so RMSE is computed on the raw scale")
            metric = "rmse"
        if metric == "log_rmse":
            y = np.log1p(y)
    else:
        decoder = LabelEncoder()
        y = decoder.fit_transform(y_raw.to_numpy())
        n_classes = len(decoder.classes_)
    folds = max(2, min(K_FOLDS, len(y)))
    print(f"target {y_raw.name!r}: {kind}, metric {metric}, {folds}-fold validation")
    if kind != "regression" and np.bincount(y).min() >= folds:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
    else:
        splitter = KFold(n_splits=folds, shuffle=True, random_state=SEED)
    width = 1 if kind == "regression" else n_classes
    oof = np.zeros((len(y), width))
    test_out = np.zeros((0 if X_test is None else len(X_test), width))
    for fold, (tr, va) in enumerate(splitter.split(X, y)):
        started = time.time()
        eval_out, fold_test = fit_predict(
            X.iloc[tr], y[tr], X.iloc[va], X_test, kind, n_classes, numeric, categorical
        )
        oof[va] = eval_out
        if X_test is not None:
            test_out += fold_test / folds
        try:
            fold_value = f"{score(metric, y[va], eval_out):.5f}"
        except ValueError:
            fold_value = "n/a"
        print(f"  fold {fold + 1}/{folds}: {metric} {fold_value} ({time.time() - started:.1f}s)")
    value = score(metric, y, oof)
    return metric, value, kind, test_out, decoder


def submission_values(metric, kind, outputs, decoder, proba_columns):
    """Turns model outputs into the values the submission file expects."""
    if kind == "regression":
        values = outputs[:, 0]
        return {None: np.expm1(values) if metric == "log_rmse" else values}
    if proba_columns:
        names = [str(c) for c in decoder.classes_]
        return {col: outputs[:, names.index(str(col))] if str(col) in names else 0.0 for col in proba_columns}
    if metric in ("auc", "logloss") and kind == "binary":
        return {None: outputs[:, 1]}
    return {None: decoder.inverse_transform(outputs.argmax(axis=1))}


def write_submission(columns, test, sample, id_col):
    if sample is not None:
        submission = sample.copy()
        for col, values in columns.items():
            if id_col is not None and id_col in test.columns:
                by_id = pd.Series(np.asarray(values), index=test[id_col].to_numpy())
                mapped = submission[id_col].map(by_id)
                if mapped.isna().any() and len(submission) == len(test):
                    mapped = np.asarray(values)
                submission[col] = mapped
            else:
                submission[col] = np.asarray(values)[: len(submission)]
    else:
        submission = pd.DataFrame({id_col: test[id_col]}) if id_col is not None else pd.DataFrame()
        for col, values in columns.items():
            submission[col] = values
    os.makedirs(WORK_DIR, exist_ok=True)
    path = os.path.join(WORK_DIR, SUBMISSION_FILE)
    submission.to_csv(path, index=False)
    print(f"wrote {path} with {len(submission)} rows and columns {list(submission.columns)}")


def main():
    started = time.time()
    train_path, test_path, sample_path = discover_files()
    train = pd.read_csv(train_path)
    test = pd.read_csv(test_path) if test_path else None
    sample = pd.read_csv(sample_path) if sample_path else None
    print(f"train {train_path} {train.shape}; test {test_path} {None if test is None else test.shape}")
    id_col, targets, proba_columns = infer_columns(train, test, sample)
    train = train.dropna(subset=targets).reset_index(drop=True)
    if MAX_ROWS and len(train) > MAX_ROWS:
        train = train.sample(n=MAX_ROWS, random_state=SEED).reset_index(drop=True)
        print(f"training on a sample of {MAX_ROWS} rows")
    features = [c for c in train.columns if c not in targets and c != id_col]
    if test is not None:
        features = [c for c in features if c in test.columns]
    parts = [train[features]] if test is None else [train[features], test[features]]
    frame = pd.concat(parts, ignore_index=True)
    numeric, categorical = split_columns(frame)
    frame = add_features(frame[numeric + categorical].copy(), numeric)
    numeric = [c for c in frame.columns if c not in categorical]
    frame = prepare_frame(frame, categorical)
    HIGH_CARDINALITY.update(c for c in categorical if frame[c].nunique() >= 10)
    X = frame.iloc[: len(train)].reset_index(drop=True)
    X_test = None if test is None else frame.iloc[len(train) :].reset_index(drop=True)
    print(f"id {id_col!r}, targets {targets}, {len(numeric)} numeric and {len(categorical)} categorical features")

    values, columns, metric = [], {}, None
    for target in targets:
        metric, value, kind, test_out, decoder = validate_target(X, train[target], X_test, numeric, categorical)
        values.append(value)
        if X_test is not None:
            for col, column in submission_values(metric, kind, test_out, decoder, proba_columns).items():
                columns[target if col is None else col] = column
    value = float(np.mean(values))
    folds = max(2, min(K_FOLDS, len(X)))
    print(f"Validation {metric} ({folds}-fold cross-validation, {MODEL_NAME}): {value:.6f}")
    if test is not None and SUBMISSION_FILE:
        write_submission(columns, test, sample, id_col)
    print(f"finished in {time.time() - started:.1f}s")
    print(f"AIDE_METRIC: {value:.6f}")


HIGH_CARDINALITY = set()

if __name__ == "__main__":
    main()
