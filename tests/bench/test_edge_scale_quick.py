"""The edge scale bench (issue 19) in its quick mode: a few sshd nodes, every phase once.

Checks that each phase ran on every node and wrote its keys; never timings."""

from __future__ import annotations

from tests.bench.test_bench_quick import run_bench


def test_edge_scale_quick(tmp_path):
    doc = run_bench("edge_scale", tmp_path, "--no-ansible", "--sim-procs", "2")  # the shards' merged known_hosts
    res = doc["results"]
    if not res:  # no OpenSSH here: the bench says so instead of failing
        assert any(n.startswith("skipped: OpenSSH") for n in doc["notes"]), doc["notes"]
        return
    n = res["lab"]["nodes"]
    assert n == doc["params"]["nodes"]
    for key in ("cold_envdeck_run", "cold_xargs_ssh"):
        assert {"wall_s", "client_cpu_s", "runs"} <= set(res[key]), key
        assert all(r["ok"] == r["total"] == n and r["load_before"] for r in res[key]["runs"]), res[key]
    warm = res["warm_envdeck"]
    assert warm["open_connections"] == n and all(r["ok"] == n for r in warm["runs"])
    assert warm["rss_mib"] > 0
    assert all(r["ok"] == r["total"] == n for r in res["warm_asyncssh_floor"]["runs"])
    assert res["envdeck_connect_in_process"]["ok"] == n
    observe = res["observe"]
    assert all(r["fresh_nodes"] == n and r["resources"] == 2 * n for r in observe["runs"])  # node + its service
    if res["lab"]["black_hole_node"]:
        blocked = res["black_hole"]
        # the black-holed node fails, every other node answers
        assert all(r["failed"] == [res["lab"]["black_hole_node"]] and r["ok"] == n - 1 for r in blocked["warm"])
        assert blocked["cold_xargs_ssh"]["ok"] == n - 1 and blocked["cold_envdeck_run"]["ok"] == n - 1
        assert all(r["fresh_nodes"] == n - 1 for r in blocked["observe"])
    tui = res["tui_during_observe"]
    assert tui["table_rows"] == 2 * n and tui["passes"] >= 1
    assert tui["during_observe"] >= doc["params"]["tui_keys"]
    sim = res["tui_simulated_nodes"]  # the same against the simulator in its own process
    assert sim["table_rows"] == 2 * n and sim["during_observe"] >= doc["params"]["tui_keys"]
    assert "warm command on all nodes <= 1.5 s" in doc["goals"]
    check_warm_simulated(res["warm_simulated"], n)
    assert res["warm_simulated"]["sim_processes"] == 2


def check_warm_simulated(sim: dict, n: int) -> None:
    """envdeck's warm command and the bare asyncssh floor on the same simulated nodes, with the
    simulator processes' CPU: every run answered on every node."""
    assert sim["connect"]["ok"] == n
    for key in ("warm_envdeck", "warm_envdeck_all_at_once", "warm_asyncssh_floor"):
        assert sim[key]["open_connections"] == n, key
        assert sim[key]["runs"] and all(r["ok"] == r["total"] == n for r in sim[key]["runs"]), sim[key]
        assert all(r["sim_cpu_s"] >= 0 and r["load_before"] for r in sim[key]["runs"]), sim[key]


def test_edge_scale_quick_sim_only(tmp_path):
    """--sim-only: just the warm phase against simulated nodes in a process of their own; needs
    no OpenSSH (the full quick run above covers two simulator processes)."""
    doc = run_bench("edge_scale", tmp_path, "--sim-only", "--sim-reps", "1")
    sim = doc["results"]["warm_simulated"]
    assert sim["sim_processes"] == 1
    check_warm_simulated(sim, doc["params"]["nodes"])
