def build_forest(kind, p):
    """A random forest on median-imputed, ordinal-encoded features."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    if kind == "regression":
        model = RandomForestRegressor(
            n_estimators=p["trees"],
            max_features=0.33,
            max_depth=p["depth"] or None,
            min_samples_leaf=1,
            random_state=SEED,
            n_jobs=2,
        )
    else:
        model = RandomForestClassifier(
            n_estimators=p["trees"],
            max_features="sqrt",
            max_depth=p["depth"] or None,
            min_samples_leaf=1,
            random_state=SEED,
            n_jobs=2,
        )
    return model, "trees"
