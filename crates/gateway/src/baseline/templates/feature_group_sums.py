def name_tokens(name):
    parts = re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+", str(name))
    return {p.lower() for p in parts if len(p) >= 2}


def add_group_sums(frame, numeric):
    """Sums numeric columns that share a name token and a unit scale (e.g. all *Area columns)."""
    groups = {}
    for col in numeric:
        values = frame[col]
        if values.min() < 0:
            continue
        for token in name_tokens(col):
            groups.setdefault(token, []).append(col)
    added = 0
    for token in sorted(groups):
        cols = groups[token]
        if len(cols) < 2 or len(cols) == len(numeric) or added >= 10:
            continue
        maxima = [float(frame[c].max()) for c in cols]
        if min(maxima) <= 0 or max(maxima) / min(maxima) > 20:
            continue
        frame[f"sum_{token}"] = frame[cols].fillna(0).sum(axis=1)
        added += 1
    return frame
