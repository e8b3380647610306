"""The process that carries a handed-over operation to its end says so in the audit trail: one
row with the request's action and user, origin `reconciler`, the end state in its message and the
request's audit row id in its params (create/destroy/sleep/wake alike). A `--wait` request ends
its own row instead, and gets no second one, also when it joins the run of another process that
leads the environment. Real servers (moto, the Kubernetes emulator, the simulated edge nodes);
every effect counted there; the rows counted in the store's audit table."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time

from backends.registry import create_backends, create_provisioner
from tests.lifecycle.conftest import World
from tests.security.access_setup import audit_rows
from tui.core.config import load_config
from tui.core.model import Origin
from tui.core.session import Session

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


def _joined_while_led_here(world: World, *verb: str, handed_first: str = "") -> subprocess.CompletedProcess:
    """This process leads hand-1 (as a TUI does); `handed_first` (sleep/wake): it requests that
    operation first without waiting. The CLI's `VERB --wait` then joins, and this process carries
    the operation out as its reconciler's lifecycle loop does (`run_pending`: the drive that
    audits its end)."""
    async def scenario() -> subprocess.CompletedProcess:
        session = await Session.open(load_config(world.config_path), world.state_dir, origin=Origin.TUI,
                                     backends_factory=create_backends, provisioners=create_provisioner)
        lines: list[str] = []
        try:
            assert await session.reconciler.leadership.claim("hand-1")
            if handed_first:
                await getattr(session, f"env_{handed_first}")("hand-1")         # handed over, not driven
            proc = world.popen(*verb, "--wait")
            reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
            reader.start()
            deadline = time.monotonic() + 60   # a guard against hanging, not a timing assertion
            while not any("joined it" in line for line in lines):
                assert proc.poll() is None and time.monotonic() < deadline, lines
                await asyncio.sleep(0.05)
            await session.reconciler.lifecycle.run_pending()
        finally:
            await session.close()
        out, _ = proc.communicate(timeout=120)
        reader.join(timeout=10)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, "".join(lines))

    return asyncio.run(scenario())


def test_a_wait_request_that_joins_another_process_run_gets_exactly_one_end_row(world: World):
    _ok(world.envdeck("env", "create", "hand-1", "--template", "preview", "--param", "branch=main", "--wait"),
        "create --wait")
    joined = _joined_while_led_here(world, "env", "sleep", "hand-1")
    _ok(joined, "sleep --wait joined")
    assert "this command joined it" in joined.stdout, joined.stdout
    [ns] = world.namespaces("hand-1")
    assert world.deployment(ns)["spec"]["replicas"] == 0          # carried out, by this process
    rows = _rows(world, "env.sleep")
    assert len(rows) == 1, rows                                    # the request's own row, and no second one
    [row] = rows
    assert (row["origin"], row["result"]) == ("cli", "succeeded"), row
    assert row["message"].startswith("joined: ") and row["message"].endswith("sleeping"), row
    assert not [r for r in audit_rows(world.state_dir) if r["target"] == "hand-1" and r["origin"] == "reconciler"]


def test_a_handed_over_request_joined_by_a_wait_one_each_end_once(world: World):
    """Two requests of one wake: the TUI's handed over (ended by the process that carries it out,
    naming it) and the CLI's --wait that joined (its own row): one end each."""
    _ok(world.envdeck("env", "create", "hand-1", "--template", "preview", "--param", "branch=main", "--wait"),
        "create --wait")
    _ok(world.envdeck("env", "sleep", "hand-1", "--wait"), "sleep --wait")
    joined = _joined_while_led_here(world, "env", "wake", "hand-1", handed_first="wake")
    _ok(joined, "wake --wait joined")
    [ns] = world.namespaces("hand-1")
    assert world.deployment(ns)["spec"]["replicas"] != 0
    rows = _rows(world, "env.wake")
    [tui] = [r for r in rows if r["origin"] == "tui"]
    [cli] = [r for r in rows if r["origin"] == "cli"]
    assert tui["message"].startswith("handed over to the reconciler"), tui
    assert cli["message"].startswith("joined: ") and cli["message"].endswith("ready"), cli
    ends = [r for r in rows if r["origin"] == "reconciler"]
    assert len(rows) == 3 and len(ends) == 1, rows
    [end] = ends
    assert json.loads(end["params"] or "{}")["request"] == tui["id"], end
    assert (end["result"], end["message"].split(" (by ")[0]) == ("succeeded", "ready"), end
