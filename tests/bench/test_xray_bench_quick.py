"""bench.xray_bench in its quick mode: it finishes and writes its JSON (never a timing assertion)."""

from __future__ import annotations

from tests.bench.test_bench_quick import run_bench


def test_xray_bench_quick(tmp_path):
    doc = run_bench("xray_bench", tmp_path)
    res = doc["results"]
    assert res["objects"] >= 1_000 and res["links"] > res["objects"]
    for kind in ("Deployment", "Ingress", "Service", "Pod", "ConfigMap", "HPA", "Node"):
        assert {"p50_ms", "p99_ms", "max_ms", "out", "in", "rolled"} <= set(res[kind]), kind
    assert res["Ingress"]["rolled"] == "Degraded", "one crashing pod per app: the Ingress's roll-up is red"
    assert "xray < 50 ms" in doc["goals"]
