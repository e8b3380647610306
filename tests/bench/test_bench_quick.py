"""Every benchmark runs in its tiny quick mode, so bench/ keeps working in CI.

Asserts only that each bench finished and wrote its JSON with the expected
keys: never timings (speed goals are measured and recorded by bench/, not here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMON_KEYS = {"bench", "quick", "machine", "params", "results", "goals", "notes"}


def run_bench(name: str, tmp_path: Path, *extra: str, timeout: float = 600) -> dict:
    out = tmp_path / f"{name}.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", f"bench.{name}", "--quick", "--out", str(out), *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"bench.{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    doc = json.loads(out.read_text())
    assert COMMON_KEYS <= set(doc), doc.keys()
    assert doc["bench"] == name and doc["quick"] is True
    assert {"nproc", "python", "loadavg"} <= set(doc["machine"])
    return doc


def test_reconciler_store_quick(tmp_path):
    res = run_bench("reconciler_store", tmp_path)["results"]
    assert {"passes", "audit", "timeline"} <= set(res)
    assert {"diff_only", "first_pass", "unchanged_pass", "steady_pass", "drifts"} <= set(res["passes"])
    assert res["passes"]["drifts"] > 0
    assert {"cpu_ms", "wall_ms"} <= set(res["passes"]["first_pass"])
    assert {"pairs", "pairs_per_s", "pair_p50_ms", "pair_p99_ms"} <= set(res["audit"])
    assert {"single_rows_per_s", "batched_rows_per_s"} <= set(res["timeline"])


def test_fleet_quick(tmp_path):
    doc = run_bench("fleet", tmp_path)
    res = doc["results"]
    if not res:  # no OpenSSH here: the bench says so instead of failing
        assert any(n.startswith("skipped: OpenSSH") for n in doc["notes"]), doc["notes"]
        return
    for key in ("envdeck_cold", "envdeck_warm", "envdeck_restart_warm", "envdeck_run_cli",
                "xargs_ssh_default_kex", "xargs_ssh_curve25519", "xargs_ssh_restart", "sequential_ssh_curve25519"):
        assert {"wall_s", "node_p50_s", "node_p99_s", "ok", "total"} <= set(res[key]), key
        assert res[key]["ok"] == res[key]["total"], (key, res[key])
    assert ("ansible_cold" in res) or any(n.startswith("ansible skipped: not installed") for n in doc["notes"])
    assert "warm <= 0.25 s" in doc["goals"]


def test_k8s_scale_quick(tmp_path):
    doc = run_bench("k8s_scale", tmp_path)
    inv, upd = doc["results"]["inventory"], doc["results"]["updates"]
    for key in ("floor_http_client", "envdeck_observe"):
        assert {"process_s", "in_process_s", "rss_mib", "pods"} <= set(inv[key]), key
        assert inv[key]["pods"] == doc["params"]["pods"], key
    assert ("kubectl_get_pods_json" in inv) or "kubectl not found: its row is missing" in doc["notes"]
    assert {"reflected", "missing", "p50_ms", "p99_ms"} <= set(upd)
    assert upd["reflected"] == doc["params"]["changes"] and upd["missing"] == 0
    assert "update p99 < 500 ms" in doc["goals"]


def test_logs_quick(tmp_path):
    doc = run_bench("logs", tmp_path, "--rate", "2000")
    env = doc["results"]["envdeck_backend_logs"]
    assert {"produced", "received", "dropped", "order_kept", "loop_lag_p99_ms", "rss_peak_mib",
            "drain_after_source_s"} <= set(env)
    assert env["produced"] == 2000 and env["received"] == 2000 and env["order_kept"] is True
    assert ("kubectl_logs_f" in doc["results"]) or "kubectl not found: no comparison row" in doc["notes"]
    assert "envdeck_tui_log_view" in doc["results"] or any(
        n.startswith("the TUI log view is not available") for n in doc["notes"])
    assert "raw_aiohttp_floor" in doc["results"]
    for key in ("raw_aiohttp_floor", "envdeck_tui_log_view"):
        if key in doc["results"]:
            assert {"produced", "received", "order_kept"} <= set(doc["results"][key]), key
            assert doc["results"][key]["received"] == 2000, key


def test_tui_quick(tmp_path):
    doc = run_bench("tui", tmp_path)
    res = doc["results"]
    assert {"first_paint_s", "first_paint_one_env_s", "keystroke_p50_ms", "keystroke_p99_ms", "rss_after_paint_mib", "peak_rss_mib",
            "rows_seen"} <= set(res)
    assert res["keystrokes"] == doc["params"]["keys"]
    assert len(res["rows_seen"]) > 1  # the filter changed what the table shows
    assert "first paint < 1.5 s (one environment of 20k)" in doc["goals"]


def test_k8s_tui_quick(tmp_path):
    doc = run_bench("k8s_tui", tmp_path)
    res = doc["results"]
    assert {"first_full_table_s", "shown", "missing", "p50_ms", "p99_ms", "max_ms", "peak_rss_mib"} <= set(res)
    # every pod change made it from the emulator through the reconciler to the table
    assert res["pods"] == 200 and res["changes"] == 20 and res["shown"] == 20 and res["missing"] == 0
    assert "update p99 < 500 ms" in doc["goals"]


def test_plan_bench_quick(tmp_path):
    doc = run_bench("plan_bench", tmp_path)
    res = doc["results"]
    assert res["steps"] == doc["params"]["resources"] + 1  # + the namespace step
    for key in ("check", "render", "plan", "build_plan_only"):
        assert {"p50_ms", "p99_ms", "max_ms", "reps"} <= set(res[key]), key
    assert "plan < 100 ms" in doc["goals"]


def test_lifecycle_bench_quick(tmp_path):
    doc = run_bench("lifecycle_bench", tmp_path)
    res = doc["results"]
    assert len(res["waves"]) >= 2 and len(res["create"]) == len(res["destroy"]) == doc["params"]["runs"] == 1
    for op in ("create", "destroy"):
        run = res[op][0]
        # every wave had a timed step (a missing span would make the sum, and the ratio, None)
        assert len(run["provider"]["wave_slowest_s"]) == len(res["waves"]), run
        assert run["provider"]["ratio"] is not None and run["whole_s"] > 0
        assert {"ratio_p50", "ratio_max", "whole_p50_s", "sum_p50_s"} <= set(res[f"{op}_summary"]["provider"])
    assert "create <= 1.2x sum of wave maxima" in doc["goals"]
