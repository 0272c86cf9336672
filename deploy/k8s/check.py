#!/usr/bin/env python3
"""Checks one rendered kustomization of deploy/k8s (validate.sh runs it; see README.md).

    check.py --name NAME --kubernetes-version 1.33.0 --repo ROOT [--pinned] RENDERED.yaml

1. Schemas, offline: every object against the Kubernetes JSON schemas that the
   kubernetes-validate package ships, strictly (unknown fields are errors); a kind it has
   no schema for is an error, except KEDA's ScaledObject, which is checked against
   schemas/scaledobject-keda-v1alpha1.json (our own schema of the fields we use).
2. Invariants of this deployment (resources, probes, replicas, network policies, pinned
   images, references between objects, and flags that the service binaries really have).

Prints one line, "ok   NAME: …" or "FAIL NAME: …" and then one line per problem; exits 0
when everything holds, 1 otherwise.
"""

import argparse
import json
import pathlib
import re
import sys
import tomllib

import jsonschema
import kubernetes_validate.utils as kv
import yaml

HERE = pathlib.Path(__file__).resolve().parent
SCALEDOBJECT_SCHEMA = HERE / "schemas" / "scaledobject-keda-v1alpha1.json"
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
SERVICE_METRICS_ENV = {
    "coordinator": "AIDE_COORDINATOR_METRICS_LISTEN",
    "gateway": "AIDE_GATEWAY_METRICS_LISTEN",
    "runner": "AIDE_RUNNER_METRICS_LISTEN",
}
COORDINATOR = {"app.kubernetes.io/name": "aide-coordinator"}
RUNNER = {"app.kubernetes.io/name": "aide-runner"}


class Problems(list):
    def add(self, obj, message):
        where = f"{obj['kind']}/{obj['metadata']['name']}" if obj else "-"
        line = f"{where}: {message}"
        if line not in self:
            self.append(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--kubernetes-version", required=True)
    parser.add_argument("--repo", required=True, type=pathlib.Path)
    parser.add_argument("--pinned", action="store_true", help="refuse untagged and :latest images")
    parser.add_argument("rendered", type=pathlib.Path)
    args = parser.parse_args()

    objects = [o for o in yaml.safe_load_all(args.rendered.read_text()) if o]
    problems = Problems()
    by_k8s, by_local = validate_schemas(objects, args.kubernetes_version, problems)
    check_invariants(objects, args, problems)

    if problems:
        print(f"FAIL {args.name}: {len(problems)} problem(s) in {len(objects)} objects")
        for p in problems:
            print(f"     - {p}")
        return 1
    print(
        f"ok   {args.name}: {len(objects)} objects; {by_k8s} valid against Kubernetes "
        f"{args.kubernetes_version} (kubernetes-validate --strict), {by_local} ScaledObject "
        f"against {SCALEDOBJECT_SCHEMA.relative_to(HERE)}; invariants hold"
    )
    return 0


# --- schemas ---------------------------------------------------------------------------------


def validate_schemas(objects, version, problems):
    scaled = json.loads(SCALEDOBJECT_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(scaled)
    scaled_validator = jsonschema.Draft202012Validator(scaled)
    by_k8s = by_local = 0
    for obj in objects:
        if obj.get("kind") == "ScaledObject":
            errors = sorted(scaled_validator.iter_errors(obj), key=lambda e: list(e.path))
            for e in errors:
                path = ".".join(str(p) for p in e.path) or "(root)"
                problems.add(obj, f"schema: {path}: {e.message}")
            by_local += not errors
            continue
        try:
            kv.validate(obj, version, strict=True)
            by_k8s += 1
        except kv.ValidationError as e:
            path = ".".join(str(p) for p in e.path) or "(root)"
            problems.add(obj, f"schema (Kubernetes {e.version}, strict): {path}: {e.message}")
        except kv.SchemaNotFoundError as e:
            problems.add(obj, f"no schema: {e.message} (only ScaledObject has a local schema)")
        except kv.VersionNotSupportedError:
            problems.add(None, f"kubernetes-validate has no schemas for Kubernetes {version}")
            return by_k8s, by_local
    return by_k8s, by_local


# --- invariants ------------------------------------------------------------------------------


def pod_spec(obj):
    return obj["spec"]["template"]["spec"]


def all_containers(spec):
    return [("init", c) for c in spec.get("initContainers", [])] + [
        ("main", c) for c in spec.get("containers", [])
    ]


def matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def code_env_names(repo: pathlib.Path, service: str) -> set:
    """The variables the flags of aide-<service> read: its crate's and the shared TLS ones."""
    names = set()
    for crate in (service, "service"):
        for path in repo.glob(f"crates/{crate}/src/**/*.rs"):
            text = path.read_text(errors="replace")
            names.update(re.findall(r'env\s*=\s*"([A-Z0-9_]+)"', text))
    return names


def runner_config_fields(repo: pathlib.Path) -> dict:
    """Field names of the runner's config structs (serde deny_unknown_fields), by table."""
    text = (repo / "crates/runner/src/config.rs").read_text()
    fields = {}
    for struct in ("Config", "LimitDefaults", "DockerConfig", "ProcessConfig"):
        m = re.search(r"pub struct " + struct + r" \{(.*?)\n\}", text, re.S)
        if not m:
            raise SystemExit(f"check.py: no struct {struct} in crates/runner/src/config.rs")
        body = re.sub(r"#\[serde\(skip\)\]\s*pub \w+", "", m.group(1))
        fields[struct] = set(re.findall(r"^\s*pub (\w+):", body, re.M))
    return {
        "": fields["Config"],
        "limits": fields["LimitDefaults"],
        "docker": fields["DockerConfig"],
        "process": fields["ProcessConfig"],
    }


def check_invariants(objects, args, problems):
    index = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    workloads = [o for o in objects if o["kind"] in WORKLOADS]
    configmaps = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
    env_names = {s: code_env_names(args.repo, s) for s in SERVICE_METRICS_ENV}

    for w in workloads:
        spec = pod_spec(w)
        template = w["spec"]["template"]
        labels = template["metadata"].get("labels", {})
        annotations = template["metadata"].get("annotations", {})
        if annotations.get("prometheus.io/scrape") != "true" or annotations.get("prometheus.io/port") != "9090":
            problems.add(w, "pod template lacks prometheus.io/scrape=true and prometheus.io/port=9090")
        if not any(o["kind"] == "PodDisruptionBudget" and matches(o["spec"]["selector"]["matchLabels"], labels) for o in objects):
            problems.add(w, "no PodDisruptionBudget selects its pods")
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for v in spec.get("volumes", []):
            sources = [k for k in v if k != "name"]
            if len(sources) != 1:
                problems.add(w, f"volume {v['name']} has {len(sources)} sources ({', '.join(sources)})")
            if "configMap" in v:
                check_configmap_ref(w, configmaps, v["configMap"]["name"], None, v["configMap"].get("optional"), problems)
        for role, c in all_containers(spec):
            name = f"{role} container {c['name']}"
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                missing = [r for r in ("cpu", "memory") if r not in res.get(kind, {})]
                if missing:
                    problems.add(w, f"{name}: resources.{kind} lacks {', '.join(missing)}")
            sidecar = role == "init" and c.get("restartPolicy") == "Always"
            if role == "main" or sidecar:
                needed = ("livenessProbe", "startupProbe") if sidecar else ("readinessProbe", "livenessProbe")
                for probe in needed:
                    if probe not in c:
                        problems.add(w, f"{name}: no {probe}")
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    problems.add(w, f"{name}: mounts unknown volume {m['name']}")
            env = {e["name"]: e for e in c.get("env", [])}
            service = (c.get("command") or [""])[0].removeprefix("aide-")
            for e in c.get("env", []):
                if e["name"].startswith("AIDE_") and service in env_names and e["name"] not in env_names[service]:
                    problems.add(w, f"{name}: {e['name']} is no variable of aide-{service}'s flags")
                ref = e.get("valueFrom", {}).get("configMapKeyRef")
                if ref:
                    check_configmap_ref(w, configmaps, ref["name"], ref["key"], ref.get("optional"), problems)
            for src in c.get("envFrom", []):
                if "configMapRef" in src:
                    check_configmap_ref(w, configmaps, src["configMapRef"]["name"], None, src["configMapRef"].get("optional"), problems)
            if role == "main" and service in SERVICE_METRICS_ENV:
                check_service_probes(w, c, env, SERVICE_METRICS_ENV[service], problems)
                if service == "coordinator" and "startupProbe" not in c:
                    problems.add(w, f"{name}: no startupProbe (the first start migrates the database)")
        if args.pinned:
            for _, c in all_containers(spec):
                check_pinned(w, c["image"], problems)

    coordinator = index.get(("Deployment", "aide-coordinator"))
    if not coordinator:
        problems.add(None, "no Deployment aide-coordinator")
    elif coordinator["spec"].get("replicas") != 2:
        problems.add(coordinator, f"replicas is {coordinator['spec'].get('replicas')}, expected 2")

    for svc in (o for o in objects if o["kind"] == "Service"):
        selector = svc["spec"].get("selector", {})
        if not any(matches(selector, w["spec"]["template"]["metadata"].get("labels", {})) for w in workloads):
            problems.add(svc, f"selector {selector} matches no workload's pods")

    check_network_policies(objects, workloads, problems)
    check_scaled_objects(objects, index, configmaps, args, problems)
    if args.pinned:
        for cm in configmaps.values():
            image = cm.get("data", {}).get("sandbox-image")
            if image:
                check_pinned(cm, image, problems)


def check_configmap_ref(obj, configmaps, name, key, optional, problems):
    cm = configmaps.get(name)
    if cm is None:
        if not optional:
            problems.add(obj, f"refers to ConfigMap {name}, which is not rendered")
        return
    if key is not None and key not in cm.get("data", {}) and not optional:
        problems.add(obj, f"ConfigMap {name} has no key {key}")


def check_service_probes(w, c, env, metrics_env, problems):
    """Probes are gRPC health on the plaintext metrics port that the service really serves."""
    listen = env.get(metrics_env, {}).get("value", "")
    port = listen.rpartition(":")[2]
    if not port.isdigit():
        problems.add(w, f"container {c['name']}: {metrics_env} is not set to an address (got {listen!r})")
        return
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        if probe in c:
            grpc = c[probe].get("grpc")
            if not grpc or grpc.get("port") != int(port):
                problems.add(w, f"container {c['name']}: {probe} is not a grpc probe on the metrics port {port}")


def check_pinned(obj, image, problems):
    if "@sha256:" in image:
        return
    last = image.rsplit("/", 1)[-1]
    tag = last.partition(":")[2]
    if not tag or tag == "latest":
        problems.add(obj, f"image {image} is not pinned (no tag, or latest)")


def check_network_policies(objects, workloads, problems):
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    for np in policies:
        selector = np["spec"]["podSelector"].get("matchLabels", {})
        if not any(matches(selector, w["spec"]["template"]["metadata"].get("labels", {})) for w in workloads):
            problems.add(np, f"podSelector {selector} matches no workload's pods")
    runner_labels = next(
        (w["spec"]["template"]["metadata"]["labels"] for w in workloads if matches(RUNNER, w["spec"]["template"]["metadata"].get("labels", {}))),
        None,
    )
    if runner_labels is None:
        problems.add(None, "no runner workload")
        return
    if not any(np["metadata"]["name"] == "aide-runner" for np in policies):
        problems.add(None, "no NetworkPolicy aide-runner")
    applying = [np for np in policies if matches(np["spec"]["podSelector"].get("matchLabels", {}), runner_labels)]
    for direction, key in (("Ingress", "ingress"), ("Egress", "egress")):
        if not any(direction in np["spec"].get("policyTypes", []) for np in applying):
            problems.add(None, f"no NetworkPolicy restricts runner {key}")
    # Everything any policy lets runner pods do, rule by rule.
    for np in applying:
        for rule in np["spec"].get("ingress", []):
            ports = sorted(p.get("port") for p in rule.get("ports", []))
            peers = rule.get("from", [])
            from_coordinator = peers and all(set(p) == {"podSelector"} and p["podSelector"].get("matchLabels") == COORDINATOR for p in peers)
            from_monitoring = peers and all("namespaceSelector" in p for p in peers)
            if not ((from_coordinator and ports == [50053]) or (from_monitoring and ports == [9090])):
                problems.add(np, f"admits runner ingress beyond coordinator:50053 and monitoring:9090: {rule}")
        for rule in np["spec"].get("egress", []):
            ports = sorted(p.get("port") for p in rule.get("ports", []))
            peers = rule.get("to", [])
            to_coordinator = peers and all(set(p) == {"podSelector"} and p["podSelector"].get("matchLabels") == COORDINATOR for p in peers)
            to_dns = peers and ports == [53, 53] and all(p.get("podSelector", {}).get("matchLabels") == {"k8s-app": "kube-dns"} for p in peers)
            image_pull = np["metadata"]["name"] == "aide-runner-image-pull" and ports == [443] and peers and all(set(p) == {"ipBlock"} for p in peers)
            if not ((to_coordinator and ports == [50051]) or to_dns or image_pull):
                problems.add(np, f"lets runners reach more than the coordinator (50051), DNS and the image pull (443): {rule}")


def check_scaled_objects(objects, index, configmaps, args, problems):
    scaled = [o for o in objects if o["kind"] == "ScaledObject"]
    if not scaled:
        problems.add(None, "no ScaledObject for the runners")
    slots = None
    for cm in configmaps.values():
        text = cm.get("data", {}).get("runner.toml")
        if text is None:
            continue
        try:
            config = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            problems.add(cm, f"runner.toml: {e}")
            continue
        fields = runner_config_fields(args.repo)
        for key, value in config.items():
            if isinstance(value, dict):
                known = fields.get(key)
                if known is None:
                    problems.add(cm, f"runner.toml: unknown table [{key}]")
                    continue
                for sub in value:
                    if sub not in known:
                        problems.add(cm, f"runner.toml: [{key}] {sub} is no field of the runner's configuration")
            elif key not in fields[""]:
                problems.add(cm, f"runner.toml: {key} is no field of the runner's configuration")
        slots = config.get("slots", 2)
    for so in scaled:
        spec = so["spec"]
        ref = spec.get("scaleTargetRef", {})
        if (ref.get("kind", "Deployment"), ref.get("name")) not in index:
            problems.add(so, f"scaleTargetRef {ref.get('kind')}/{ref.get('name')} is not rendered")
        lo, hi = spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)
        if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
            problems.add(so, f"replica range {lo}..{hi} (expected 1 <= min <= max)")
        for t in spec.get("triggers", []):
            if t.get("type") != "prometheus":
                continue
            md = t.get("metadata", {})
            if "aide_coordinator_queue_depth" not in md.get("query", ""):
                problems.add(so, "the prometheus query does not use aide_coordinator_queue_depth")
            if slots is not None and str(md.get("threshold")) != str(slots):
                problems.add(so, f"threshold {md.get('threshold')} differs from the runners' slots ({slots})")


if __name__ == "__main__":
    sys.exit(main())
