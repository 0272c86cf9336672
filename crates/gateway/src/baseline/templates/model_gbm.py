def build_gbm(kind, p):
    """LightGBM when installed, else scikit-learn's histogram gradient boosting."""
    try:
        import lightgbm as lgb
    except ImportError:
        print("lightgbm is not installed; using HistGradientBoosting instead")
        return build_hgb(kind, p)
    model_class = lgb.LGBMRegressor if kind == "regression" else lgb.LGBMClassifier
    model = model_class(
        n_estimators=p["trees"],
        learning_rate=p["learning_rate"],
        num_leaves=p["depth"],
        min_child_samples=10,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.5,
        reg_lambda=p["reg"],
        random_state=SEED,
        n_jobs=1,
        verbose=-1,
    )
    return model, "trees_nan"
