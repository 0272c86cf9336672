"""Orchestration time per node of a finished run, from its SQLite store (`<out>/aide.db` of
`aide run`): each node's span (from its creation to the next node's creation, or to its
review for the last node) minus its LLM latency minus its script's wall time, i.e. what aide
itself spends per node (prompting, persistence, dispatch, sandbox set-up, outputs).

    python3 deploy/dev/orchestration_time.py aide-runs/<run>/aide.db
"""
import sqlite3, statistics, sys
db = sqlite3.connect(sys.argv[1])
nodes = db.execute("select id, step, created_at, updated_at from nodes order by step").fetchall()
llm = dict(db.execute("select node_id, sum(latency_ms) from llm_calls group by node_id").fetchall())
wall = dict(db.execute("select node_id, sum(wall_secs)*1000 from executions where status='finished' group by node_id").fetchall())
rows = []
for i, (nid, step, created, updated) in enumerate(nodes):
    end = nodes[i + 1][2] if i + 1 < len(nodes) else updated
    span = end - created
    rows.append((step, span, llm.get(nid, 0), wall.get(nid, 0), span - llm.get(nid, 0) - wall.get(nid, 0)))
orch = sorted(r[4] for r in rows)
print("step span_ms llm_ms script_ms orchestration_ms")
for r in rows: print("%4d %7d %6d %9.0f %9.0f" % r)
q = lambda p: orch[min(len(orch)-1, int(round((len(orch)-1)*p)))]
print("orchestration per node: p50 %.0f ms, p90 %.0f ms, max %.0f ms over %d nodes" % (q(.5), q(.9), orch[-1], len(orch)))
print("script time per node p50 %.0f ms; llm per node p50 %.0f ms" % (statistics.median(r[3] for r in rows), statistics.median(r[2] for r in rows)))
