"""bench.diff_bench in its quick mode: it finishes and writes its JSON (never a timing assertion)."""

from __future__ import annotations

from tests.bench.test_bench_quick import run_bench


def test_diff_bench_quick(tmp_path):
    doc = run_bench("diff_bench", tmp_path)
    res = doc["results"]
    for key in ("floor_load_both", "diff", "load_and_diff"):
        assert {"p50_ms", "max_ms"} <= set(res[key]), key
    a, b = res["resources_per_env"]
    assert a >= 500 and b >= 500
    # the environments differ by construction: 5% of the items changed, 1% on one side only
    assert res["differing"] > 0 and res["only_in_a"] > 0 and res["only_in_b"] > 0
    assert res["matched"] > 0.9 * a, "names carrying the environment's name are matched by role"
    assert "diff < 1 s" in doc["goals"]
