def build_xgb(kind, p):
    """XGBoost when installed, else scikit-learn's histogram gradient boosting."""
    try:
        import xgboost as xgb
    except ImportError:
        print("xgboost is not installed; using HistGradientBoosting instead")
        return build_hgb(kind, dict(p, depth=2 ** p["depth"]))
    model_class = xgb.XGBRegressor if kind == "regression" else xgb.XGBClassifier
    model = model_class(
        n_estimators=p["trees"],
        learning_rate=p["learning_rate"],
        max_depth=p["depth"],
        min_child_weight=1.0,
        subsample=0.8,
        colsample_bytree=0.5,
        reg_lambda=p["reg"],
        tree_method="hist",
        random_state=SEED,
        n_jobs=1,
        verbosity=0,
    )
    return model, "trees_nan"
