"""bench.k8s_scale10 (issue 19: five environments on one emulator) in its quick mode: it
finishes and writes its JSON with every client and every pod. Never timings."""

from __future__ import annotations

from tests.bench.test_bench_quick import run_bench


def test_k8s_scale10_quick(tmp_path):
    doc = run_bench("k8s_scale10", tmp_path)
    params, res = doc["params"], doc["results"]
    total = params["pods_per_namespace"] * params["namespaces"]
    inv = res["inventory"]
    for key in ("floor_http_client", "envdeck_observe"):
        assert {"process_s", "in_process_s", "rss_mib", "cpu_s", "pods", "load_1m"} <= set(inv[key]), key
        assert inv[key]["pods"] == total, key  # every namespace listed, by both clients
    assert len(inv["per_rep_ratio_process"]) == params["reps"]
    assert ("kubectl_get_pods_all_json" in inv) or "kubectl not found: its row is missing" in doc["notes"]
    tui = res["tui"]
    assert {"rss_all_envs_mib", "peak_rss_mib", "table_p99_ms", "all_p99_ms", "load_1m_updates",
            "app_cpu_s_updates", "app_cpu_ms_per_change"} <= set(tui)
    assert tui["app_cpu_s_updates"] > 0
    # every change, in every one of the five environments, reached the app; some on the visible table
    assert tui["namespaces"] == 5 and tui["checked"] == params["changes"] and tui["missing"] == 0
    assert tui["table_shown"] == tui["table_checked"] > 0
    assert {"table row p99 < 500 ms", "TUI RSS < 1 GB (all environments held)", "no change missed"} <= set(doc["goals"])
    # the TUI phase on its own emulator process; the emulator's stalls and CPU and the bench hook's CPU
    assert res["tui_emulator"] == "a fresh emulator process (the inventory's one stopped)"
    assert isinstance(res["emulator_gc_pauses_inventory"], list) and isinstance(tui["emulator_gc_pauses_updates"], list)
    assert tui["emulator_cpu_s_updates"] is not None and tui["emulator_cpu_s_updates"] >= 0  # read from /proc
    assert tui["bench_hook_cpu_s"] >= 0
    assert len(tui["app_gc"]["passes_by_generation"]) == 3 and tui["app_gc"]["cpu_s"] >= 0  # the app's collector
    assert tui["app_cpu_ms_per_change_without_hook"] <= tui["app_cpu_ms_per_change"]
