#!/usr/bin/env python3
"""Where a step's time goes in `aide run`: an OpenAI-compatible stand-in answers every model
call after a fixed latency, `aide run` searches an example task through it (embedded, on
SQLite), and the run's own records say how long its model calls and its scripts took. What
is left of the wall time is aide's own orchestration. Prints, for the run:

- the wall time, and the start-up time from launching `aide run` to its first model request;
- per step: model time, script time (the sandbox's wall time) and orchestration overhead
  (wall - model - scripts) / steps;
- prompt characters per step, and per call by purpose (draft, improve, debug, review, ...),
  with the prompt tokens aide recorded for them.

The stand-in writes the same ridge-regression solution for every code call (with a new
alpha each time) and reviews each execution from the metric it printed, so the search
always has something to improve and the answer sequence is the same from run to run.

    python3 deploy/bench/perf.py --aide target/release/aide --steps 10 --latency 0.5
    python3 deploy/bench/perf.py --steps 3 --latency 0.05      # the short version CI runs

Only the Python standard library is used. Exits non-zero when the run fails or when the
numbers are missing, never because of how large they are.
"""
import argparse
import http.server
import json
import os
import pathlib
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

SOLUTION = """import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.model_selection import cross_val_predict

train = pd.read_csv("./input/train.csv")
test = pd.read_csv("./input/test.csv")
features = [c for c in test.columns if c != "id"]
model = Ridge(alpha={alpha})
predicted = cross_val_predict(model, train[features], train["progression"], cv=3)
rmse = float(np.sqrt(np.mean((predicted - train["progression"]) ** 2)))
print(f"Validation RMSE: {{rmse:.4f}}")
model.fit(train[features], train["progression"])
submission = pd.DataFrame({{"id": test["id"], "progression": model.predict(test[features])}})
submission.to_csv("./working/submission.csv", index=False)
"""


class StandIn:
    """The OpenAI-compatible server and what it saw."""

    def __init__(self, latency):
        self.latency = latency
        self.lock = threading.Lock()
        self.requests = []  # (arrival time, prompt characters, has tools)
        self.code_calls = 0

    def answer(self, body):
        prompt = "\n".join(
            m["content"] if isinstance(m.get("content"), str) else json.dumps(m.get("content"))
            for m in body.get("messages", [])
        )
        with self.lock:
            self.requests.append((time.monotonic(), len(prompt), "tools" in body))
            self.code_calls += "tools" not in body
            alpha = 0.5 + self.code_calls
        time.sleep(self.latency)
        if "tools" in body:
            found = re.findall(r"Validation RMSE: ([0-9.]+)", prompt)
            review = {
                "is_bug": not found,
                "summary": "ridge regression, cross-validated",
                "metric": float(found[-1]) if found else None,
                "lower_is_better": True,
            }
            call = {"id": "call_1", "type": "function",
                    "function": {"name": "submit_review", "arguments": json.dumps(review)}}
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
        else:
            code = SOLUTION.format(alpha=alpha)
            message = {"role": "assistant",
                       "content": f"Ridge regression with alpha {alpha}.\n```python\n{code}```"}
        return {"id": "chatcmpl-perf", "object": "chat.completion", "model": body.get("model"),
                "choices": [{"index": 0, "finish_reason": "stop", "message": message}]}

    def serve(self):
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                reply = json.dumps(stand_in.answer(json.loads(self.rfile.read(length)))).encode()
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


def steady_overheads(db_path):
    """Per node after the first: its span (creation to the next node's creation) minus its
    model calls and its script's wall time, in ms. The first node also waits for the
    sandbox's warm interpreter to import its libraries, which start-up covers."""
    db = sqlite3.connect(db_path)
    nodes = db.execute("select id, created_at from nodes order by step").fetchall()
    llm = dict(db.execute(
        "select node_id, sum(latency_ms) from llm_calls group by node_id").fetchall())
    script = dict(db.execute(
        "select node_id, sum(wall_secs) * 1000 from executions where status = 'finished' "
        "group by node_id").fetchall())
    spans = []
    for (node, created), (_, following) in zip(nodes[1:-1], nodes[2:]):
        spans.append(following - created - llm.get(node, 0) - script.get(node, 0))
    return sorted(spans)


def run_records(db_path):
    """Model calls (purpose, latency ms, prompt tokens) in order, and scripts' wall seconds."""
    db = sqlite3.connect(db_path)
    # The tokens aide counted itself (the stand-in reports none, as the baseline author).
    calls = db.execute(
        "select purpose, latency_ms, coalesce(prompt_tokens_counted, prompt_tokens) "
        "from llm_calls order by created_at, id"
    ).fetchall()
    exec_secs = db.execute(
        "select coalesce(sum(wall_secs), 0) from executions where status = 'finished'"
    ).fetchone()[0]
    steps = db.execute("select count(*) from nodes").fetchone()[0]
    return calls, exec_secs, steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    root = pathlib.Path(__file__).resolve().parents[2]
    parser.add_argument("--aide", default=str(root / "target/release/aide"))
    parser.add_argument("--task", default=str(root / "examples/diabetes"))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per model answer")
    parser.add_argument("--sandbox", default="process", choices=["process", "docker"])
    args = parser.parse_args()

    stand_in = StandIn(args.latency)
    server = stand_in.serve()
    out = pathlib.Path(tempfile.mkdtemp(prefix="aide-perf-"))
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["OPENAI_BASE_URL"] = f"http://127.0.0.1:{server.server_address[1]}/v1"
    env["OPENAI_API_KEY"] = "stand-in"
    command = [args.aide, "run", args.task, "--steps", str(args.steps), "--workers",
               str(args.workers), "--sandbox", args.sandbox, "--model", "openai/perf-stand-in",
               "--out", str(out / "run")]
    launched = time.monotonic()
    done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True)
    wall = time.monotonic() - launched
    server.shutdown()
    if done.returncode != 0:
        sys.exit(f"aide run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    if not stand_in.requests:
        sys.exit("the stand-in received no request")
    calls, exec_secs, steps = run_records(out / "run" / "aide.db")
    if len(calls) != len(stand_in.requests) or steps == 0:
        sys.exit(f"{len(calls)} recorded calls for {len(stand_in.requests)} requests, {steps} steps")
    llm_secs = sum(c[1] for c in calls) / 1000
    startup = stand_in.requests[0][0] - launched
    print(f"aide run, {steps} steps, {args.workers} worker(s), {args.sandbox} sandbox, "
          f"stand-in latency {args.latency:.3f} s")
    print(f"  wall {wall:.2f} s; start-up to the first model request {startup * 1000:.0f} ms")
    print(f"  per step: model {llm_secs / steps:.3f} s, scripts {exec_secs / steps:.3f} s, "
          f"orchestration overhead {(wall - llm_secs - exec_secs) / steps:.3f} s "
          "(wall - model - scripts, start-up included)")
    steady = steady_overheads(out / "run" / "aide.db")
    if steady:
        print(f"  steady state (nodes after the first): orchestration per node p50 "
              f"{steady[len(steady) // 2]:.0f} ms, max {steady[-1]:.0f} ms")
    total_chars = sum(r[1] for r in stand_in.requests)
    print(f"  prompt characters per step {total_chars / steps:,.0f}")
    by_purpose = {}
    for (purpose, _, tokens), (_, chars, _) in zip(calls, stand_in.requests):
        seen = by_purpose.setdefault(purpose, [0, 0, 0])
        seen[0] += 1
        seen[1] += chars
        seen[2] += tokens
    print("  purpose     calls  chars/call  tokens/call")
    for purpose, (n, chars, tokens) in sorted(by_purpose.items()):
        print(f"  {purpose:10} {n:6} {chars / n:11,.0f} {tokens / n:12,.0f}")
    tokens = sum(c[2] for c in calls)
    print(f"  prompt tokens per step {tokens / steps:,.0f}")
    print(f"  the run's records: {out / 'run'}")


if __name__ == "__main__":
    main()
