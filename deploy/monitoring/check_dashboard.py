#!/usr/bin/env python3
"""Checks the Grafana dashboard and the alert rules of deploy/monitoring against the code.

  - the dashboard is JSON with the `datasource` and `namespace` variables;
  - its panel ids are unique and its panels do not overlap on the 24-column grid;
  - every panel and every query uses the `datasource` variable;
  - every aide_* / grpc_* metric named in the dashboard, alerts.yaml and alerts.test.yaml
    is declared in the Rust sources (Def::counter / Def::gauge / Def::histogram; a
    histogram only as name_bucket, name_sum or name_count);
  - every alert has a severity label, a summary and a description, and a unit test in
    which it fires and one in which it stays quiet;
  - every PromQL expression of the dashboard parses (`promtool check rules` on the
    expressions written as recording rules, variables replaced by sample values).

Prints one `ok:` line per check; on failure prints `FAIL:` lines and exits 1.
Run by check.sh; needs PyYAML and promtool (check.sh provides both).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SOURCES = [
    "crates/coordinator/src/metrics.rs",
    "crates/gateway/src/metrics.rs",
    "crates/runner/src/metrics.rs",
    "crates/telemetry/src/grpc_metrics.rs",
]
DS_VALUES = {"${datasource}", "$datasource"}
# Values a check gives the dashboard's variables before parsing its expressions.
VARIABLES = {
    "namespace": "aide",
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1h",
    "__range_s": "3600",
    "__interval_ms": "60000",
}
DEF_RE = re.compile(r'Def::(counter|gauge|histogram)\(\s*"([A-Za-z_:][A-Za-z0-9_:]*)"')
METRIC_RE = re.compile(r"(?<![\w:])((?:aide|grpc)_[A-Za-z0-9_]+)")
VAR_RE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)|\[\[(\w+)\]\]")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
GRID_COLUMNS = 24


class Checks:
    def __init__(self):
        self.failed = False

    def report(self, name, problems):
        if problems:
            self.failed = True
            print(f"FAIL: {name}")
            for p in problems:
                print(f"  - {p}")
        else:
            print(f"ok: {name}")


def declared_metrics(root):
    """Metric names and kinds declared in the Rust sources."""
    kinds = {}
    for rel in SOURCES:
        path = os.path.join(root, rel)
        with open(path, encoding="utf-8") as f:
            for kind, name in DEF_RE.findall(f.read()):
                kinds[name] = kind
    return kinds


def series_names(kinds):
    """Every series name a scrape can hold: a histogram's only with its suffixes."""
    names = set()
    for name, kind in kinds.items():
        if kind == "histogram":
            names.update(name + s for s in HISTOGRAM_SUFFIXES)
        else:
            names.add(name)
    return names


def all_panels(dashboard):
    """(panel, siblings key) for every panel, the panels of collapsed rows included."""
    for panel in dashboard.get("panels", []):
        yield panel, "top"
        for inner in panel.get("panels", []) or []:
            yield inner, f"row {panel.get('id')}"


def uses_ds(ds):
    if isinstance(ds, dict):
        return ds.get("uid") in DS_VALUES
    return ds in DS_VALUES


def label(panel):
    return f"panel {panel.get('id')} ({panel.get('title', '?')!r})"


def check_variables(dashboard):
    problems = []
    if not isinstance(dashboard.get("schemaVersion"), int):
        problems.append("no integer schemaVersion")
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append("no `datasource` variable of type datasource, query prometheus")
    ns = variables.get("namespace")
    if not ns:
        problems.append("no `namespace` variable")
    else:
        query = ns.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if query != "label_values(aide_coordinator_runs, namespace)":
            problems.append(f"namespace variable query is {query!r}")
        if not ns.get("includeAll"):
            problems.append("namespace variable lacks includeAll")
        if not uses_ds(ns.get("datasource")):
            problems.append("namespace variable does not use the datasource variable")
    return problems


def check_ids(dashboard):
    seen, problems = {}, []
    for panel, _ in all_panels(dashboard):
        pid = panel.get("id")
        if not isinstance(pid, int):
            problems.append(f"{label(panel)} has no integer id")
        elif pid in seen:
            problems.append(f"id {pid} used by {seen[pid]!r} and {panel.get('title')!r}")
        else:
            seen[pid] = panel.get("title")
    return problems


def check_grid(dashboard):
    problems, groups = [], {}
    for panel, group in all_panels(dashboard):
        g = panel.get("gridPos") or {}
        try:
            x, y, w, h = (int(g[k]) for k in ("x", "y", "w", "h"))
        except (KeyError, TypeError, ValueError):
            problems.append(f"{label(panel)} has no complete gridPos")
            continue
        if x < 0 or y < 0 or w < 1 or h < 1 or x + w > GRID_COLUMNS:
            problems.append(f"{label(panel)} is off the grid: {g}")
        groups.setdefault(group, []).append((panel, x, y, w, h))
    for boxes in groups.values():
        for i, (a, ax, ay, aw, ah) in enumerate(boxes):
            for b, bx, by, bw, bh in boxes[i + 1:]:
                if ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah:
                    problems.append(f"{label(a)} overlaps {label(b)}")
    return problems


def targets(dashboard):
    for panel, _ in all_panels(dashboard):
        for target in panel.get("targets", []) or []:
            yield panel, target


def check_datasources(dashboard):
    problems = []
    for panel, _ in all_panels(dashboard):
        if not uses_ds(panel.get("datasource")):
            problems.append(f"{label(panel)} datasource is {panel.get('datasource')!r}")
    for panel, target in targets(dashboard):
        if not uses_ds(target.get("datasource")):
            problems.append(f"{label(panel)} target {target.get('refId')} datasource is "
                            f"{target.get('datasource')!r}")
        if not target.get("expr"):
            problems.append(f"{label(panel)} target {target.get('refId')} has no expr")
    return problems


def check_names(where, text, kinds, known):
    problems = []
    for name in sorted(set(METRIC_RE.findall(text))):
        if name in known:
            continue
        if kinds.get(name) == "histogram":
            problems.append(f"{where}: {name} is a histogram: use {name}_bucket, _sum or _count")
        else:
            problems.append(f"{where}: {name} is not declared in the Rust sources")
    return problems


def substitute(expr):
    unknown = []

    def value(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name not in VARIABLES:
            unknown.append(name)
            return m.group(0)
        return VARIABLES[name]

    return VAR_RE.sub(value, expr), unknown


def check_promql(dashboard, promtool):
    problems, rules, names = [], [], {}
    for panel, target in targets(dashboard):
        expr, unknown = substitute(target.get("expr", ""))
        where = f"{label(panel)} target {target.get('refId')}"
        if unknown:
            problems.append(f"{where}: unknown variable(s) {', '.join(unknown)}")
            continue
        record = f"dashboard:panel_{panel.get('id')}:{target.get('refId')}"
        names[record] = where
        rules.append({"record": record, "expr": expr})
    if not rules:
        return problems + ["no expressions found"]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "dashboard-exprs.yaml")
        with open(path, "w", encoding="utf-8") as f:
            yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
        run = subprocess.run([promtool, "check", "rules", path],
                             capture_output=True, text=True)
    if run.returncode != 0:
        out = (run.stdout + run.stderr).strip()
        for record, where in names.items():
            out = out.replace(f'"{record}"', f'"{record}" [{where}]')
        problems.append("promtool check rules failed on the dashboard's expressions:\n    "
                        + out.replace("\n", "\n    "))
    return problems


def check_alerts(rules_path, tests_path):
    with open(rules_path, encoding="utf-8") as f:
        rules = yaml.safe_load(f)
    with open(tests_path, encoding="utf-8") as f:
        tests = yaml.safe_load(f)
    problems, alerts = [], []
    for group in rules.get("groups", []):
        for rule in group.get("rules", []):
            if "alert" not in rule:
                continue
            name = rule["alert"]
            alerts.append(name)
            if (rule.get("labels") or {}).get("severity") not in ("critical", "warning", "info"):
                problems.append(f"{name}: no severity label (critical, warning or info)")
            annotations = rule.get("annotations") or {}
            for key in ("summary", "description"):
                if not annotations.get(key):
                    problems.append(f"{name}: no {key} annotation")
    fires, quiet = set(), set()
    for test in tests.get("tests", []):
        for case in test.get("alert_rule_test", []) or []:
            (fires if case.get("exp_alerts") else quiet).add(case.get("alertname"))
    for name in sorted(set(alerts)):
        if name not in fires:
            problems.append(f"{name}: no unit test where it fires")
        if name not in quiet:
            problems.append(f"{name}: no unit test where it stays quiet")
    if not alerts:
        problems.append("no alert found")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dashboard", default=os.path.join(HERE, "grafana-dashboard.json"))
    parser.add_argument("--rules", default=os.path.join(HERE, "alerts.yaml"))
    parser.add_argument("--tests", default=os.path.join(HERE, "alerts.test.yaml"))
    parser.add_argument("--root", default=ROOT, help="the repository, for the Rust sources")
    parser.add_argument("--promtool", default=os.environ.get("PROMTOOL", "promtool"))
    args = parser.parse_args()
    checks = Checks()

    try:
        with open(args.dashboard, encoding="utf-8") as f:
            dashboard = json.load(f)
    except (OSError, ValueError) as e:
        checks.report(f"dashboard parses as JSON ({e})", ["cannot go on"])
        return 1
    checks.report("dashboard is JSON with the datasource and namespace variables",
                  check_variables(dashboard))
    checks.report("dashboard panel ids are unique", check_ids(dashboard))
    checks.report("dashboard panels are on the grid without overlapping", check_grid(dashboard))
    checks.report("every dashboard panel and target uses the datasource variable",
                  check_datasources(dashboard))

    kinds = declared_metrics(args.root)
    if len(kinds) < 10:
        checks.report("metric declarations found in the Rust sources",
                      [f"only {len(kinds)} in {', '.join(SOURCES)}: did they move?"])
        return 1
    known = series_names(kinds)
    exprs = [t.get("expr", "") for _, t in targets(dashboard)]
    queries = [json.dumps(v.get("query")) for v in dashboard["templating"]["list"]]
    problems = check_names("dashboard", "\n".join(exprs + queries), kinds, known)
    for path in (args.rules, args.tests):
        with open(path, encoding="utf-8") as f:
            problems += check_names(os.path.basename(path), f.read(), kinds, known)
    checks.report(f"every metric named exists in the Rust sources ({len(kinds)} declared)",
                  problems)
    checks.report("every alert has severity, summary, description, a firing and a quiet test",
                  check_alerts(args.rules, args.tests))
    checks.report(f"every dashboard expression parses ({len(exprs)} checked by promtool)",
                  check_promql(dashboard, args.promtool))
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
