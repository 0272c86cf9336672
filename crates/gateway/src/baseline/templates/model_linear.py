def build_linear(kind, p):
    """Ridge regression / logistic regression on scaled numerics and one-hot categories."""
    from sklearn.linear_model import LogisticRegression, Ridge

    if kind == "regression":
        return Ridge(alpha=10.0 * p["reg"]), "onehot"
    return LogisticRegression(C=1.0 / p["reg"], max_iter=2000), "onehot"
