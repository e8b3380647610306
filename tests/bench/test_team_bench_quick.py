"""The team benches (issue 16) in their quick modes: bench/fencing_trials.py (two SIGSTOP trials
of two agents on one store, writes counted on the emulator) and bench/team_bench.py (audit write
latency on SQLite and PostgreSQL, one SIGKILL failover). Asserts what they wrote, never timings."""

from __future__ import annotations

import pytest

from tests.bench.test_bench_quick import run_bench
from tests.postgres_server import _bin_dir


def test_fencing_trials_quick(tmp_path):
    doc = run_bench("fencing_trials", tmp_path)
    res = doc["results"]
    assert res["trials"] == 2 and len(res["rows"]) == 2
    assert res["doubles"] == 0 and res["old_leader_repairs"] == 0, res["rows"]
    assert all(r["writes_first"] == 1 and r["writes_second"] == 1 for r in res["rows"]), res["rows"]
    assert doc["goals"]["zero double repairs"]["met"] is True


@pytest.mark.skipif(_bin_dir() is None, reason="PostgreSQL is not installed (apt-get install postgresql)")
def test_team_bench_quick(tmp_path):
    res = run_bench("team_bench", tmp_path)["results"]
    assert [a["engine"] for a in res["audit"]] == ["sqlite", "postgres"]
    assert all(a["writes"] == 30 and a["record_p99_ms"] is not None and a["pair_p99_ms"] is not None
               for a in res["audit"])
    failover = res["failover"]
    assert failover["kills"] == 1 and len(failover["rows"]) == 1
    assert all(r["leads_and_passed_s"] >= r["leads_s"] > 0 for r in failover["rows"])
