def build_knn(kind, p):
    """Distance-weighted k nearest neighbours on scaled numerics and one-hot categories."""
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

    model_class = KNeighborsRegressor if kind == "regression" else KNeighborsClassifier
    return model_class(n_neighbors=p["neighbors"], weights="distance"), "onehot"
