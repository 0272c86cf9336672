def add_missing_count(frame, numeric):
    """Number of missing values per row: missingness often carries signal."""
    frame["n_missing"] = frame.isna().sum(axis=1).astype(float)
    return frame
