def build_hgb(kind, p):
    """scikit-learn's histogram gradient boosting (handles missing values natively)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    model_class = HistGradientBoostingRegressor if kind == "regression" else HistGradientBoostingClassifier
    model = model_class(
        max_iter=p["trees"],
        learning_rate=p["learning_rate"],
        max_leaf_nodes=max(p["depth"], 2),
        min_samples_leaf=10,
        l2_regularization=p["reg"],
        early_stopping=False,
        random_state=SEED,
    )
    return model, "trees_nan"
