"""bench.tui_first_visit --quick visits an environment whose screen is built on the switch and,
with --count, counts the bytecodes run before each frame (no timings asserted: the bench records
them)."""

from __future__ import annotations

from tests.bench.test_bench_quick import run_bench


def test_tui_first_visit_quick_counts_the_work_per_frame(tmp_path):
    doc = run_bench("tui_first_visit", tmp_path, "--count")
    res = doc["results"]
    assert res["counted"] is True and len(res["visits"]) == doc["params"]["visits"] == 1
    visit = res["visits"][0]
    assert visit["cpu_ms"] > 0 and visit["frames"] >= 1
    at_frames = visit["kilo_opcodes_at_frames"]
    assert len(at_frames) == visit["frames"] and at_frames == sorted(at_frames)
    assert 0 < at_frames[-1] <= visit["kilo_opcodes"]  # the last frame ends the window
    assert "first visit built on the switch < 100 ms CPU (median)" in doc["goals"]
