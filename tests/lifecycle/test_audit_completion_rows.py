"""The process that carries a handed-over operation to its end says so in the audit trail: one
row with the request's action and user, origin `reconciler`, the end state in its message and the
request's audit row id in its params (create/destroy/sleep/wake alike). A `--wait` request ends
its own row instead, and gets no second one. Real servers (moto, the Kubernetes emulator, the
simulated edge nodes); every effect counted there."""

from __future__ import annotations

import json

from tests.lifecycle.conftest import World
from tests.security.access_setup import audit_rows

NOTHING = {"instances": [], "security_groups": [], "buckets": [], "tagged": [], "namespaces": [], "objects": []}


def _ok(proc, what: str) -> None:
    assert proc.returncode == 0, (what, proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr


def _rows(world: World, action: str) -> list[dict]:
    return [r for r in audit_rows(world.state_dir) if r["action"] == action and r["target"] == "hand-1"]


def _handed_then_reconciled(world: World, *verb: str, action: str, end: str) -> None:
    _ok(world.envdeck(*verb), f"{action} handed over")
    [request] = [r for r in _rows(world, action) if r["origin"] == "cli"][-1:]
    assert "handed over" in request["message"], request
    _ok(world.envdeck("reconcile", "--once"), f"{action} carried out")
    ends = [r for r in _rows(world, action) if r["origin"] == "reconciler"
            and json.loads(r["params"] or "{}").get("request") == request["id"]]
    assert len(ends) == 1, (action, _rows(world, action))
    [row] = ends
    assert row["result"] == "succeeded" and row["message"].startswith(end), row
    assert row["user"] == request["user"]


def test_each_handed_over_operation_ends_with_one_row(world: World):
    _handed_then_reconciled(world, "env", "create", "hand-1", "--template", "preview", "--param", "branch=main",
                            action="env.create", end="ready")
    assert world.counts("hand-1") == {"instances": 1, "security_groups": 1, "buckets": 1, "namespaces": 1,
                                      "deployments": 1}
    _handed_then_reconciled(world, "env", "sleep", "hand-1", action="env.sleep", end="sleeping")
    [ns] = world.namespaces("hand-1")
    assert world.deployment(ns)["spec"]["replicas"] == 0
    _handed_then_reconciled(world, "env", "wake", "hand-1", action="env.wake", end="ready")
    _handed_then_reconciled(world, "env", "destroy", "hand-1", "--yes", action="env.destroy", end="destroyed")
    assert world.leftovers("hand-1") == NOTHING


def test_a_wait_request_ends_its_own_row_and_no_second_one(world: World):
    _ok(world.envdeck("env", "create", "hand-1", "--template", "preview", "--param", "branch=main", "--wait"),
        "create --wait")
    [row] = _rows(world, "env.create")
    assert row["origin"] == "cli" and row["result"] == "succeeded" and row["message"].startswith("ready"), row
