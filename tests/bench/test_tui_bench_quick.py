"""bench.tui --quick measures view and environment switches besides the keystrokes (no timings
asserted: bench/tui.py records them)."""

from __future__ import annotations

from tests.bench.test_bench_quick import run_bench


def test_tui_bench_switches_quick(tmp_path):
    doc = run_bench("tui", tmp_path)
    res = doc["results"]
    assert res["view_switches"] == 2 * doc["params"]["switches"]
    assert res["env_switches"] >= 2
    assert {"keystroke_cpu_p50_ms", "view_switch_p50_ms", "env_switch_max_ms", "env_switch_cpu_p50_ms"} <= set(res)
    assert res["rows_seen"][0] < res["resources"] == res["rows_seen"][-1]  # typing narrowed, erasing restored
    assert {"keystroke p99 < 50 ms", "environment switch < 100 ms"} <= set(doc["goals"])
    # the cold first visit built its screen on the switch; the third environment's was built ahead
    assert res["env_first_visit_built_ahead"] is False
    assert res["env_first_visit_ahead_ms"] > 0 and "first visit of an environment built ahead < 100 ms" in doc["goals"]
