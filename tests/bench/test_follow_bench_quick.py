"""bench.follow_bench in its quick mode: it finishes, writes its JSON, every change reached every
follower and the followers' own emulator served no request (a count, never a timing assertion)."""

from __future__ import annotations

from tests.bench.test_bench_quick import run_bench


def test_follow_bench_quick(tmp_path):
    doc = run_bench("follow_bench", tmp_path)
    res = doc["results"]
    assert "sqlite" in res
    for engine, r in res.items():
        assert r["changes_seen"] == r["followers"] * r["samples"], engine
        assert r["follower_cloud_requests"] == 0, engine
        assert {"latency_p50_ms", "latency_p99_ms", "latency_max_ms", "leader_cloud_requests"} <= set(r), engine
    assert "sqlite: leader -> follower p99 < 1 s" in doc["goals"]
