"""Access: every role × every mutating action × every core surface is allowed exactly as
the policy says; denials are audited `denied`; `--read-only` denies everything; an
environment where the user has no role is not shown at all.

Identity is the OS login user (the user running the tests): the configs name it, or
somebody else, in `access:`. Real servers: moto (EC2) and OpenSSH sshd (edge `run`).
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from backends.registry import create_backends
from tests.aws.arrange import instance
from tests.helpers import envdeck_inproc
from tests.security.access_setup import ROLES, access, allowed, audit_rows, write_config
from tui.core.config import parse_config
from tui.core.identity import current_user
from tui.core.model import Origin
from tui.core.session import Session
from tui.core.store import Store

# (role, --read-only): --read-only is tried where it is the only reason to deny
CASES = [(r, False) for r in ROLES] + [("operator", True), ("admin", True)]
CASE_IDS = [f"{r}{'-read-only' if ro else ''}" for r, ro in CASES]
EC2_ACTIONS = {"start": "operator", "stop": "operator", "reboot": "operator", "terminate": "admin"}


def aws_block(url: str, **extra) -> dict:
    return {"region": "us-east-1", "endpoint_url": url, "tags": {"env": "dev"}, **extra}


def ec2_state(aws, iid: str) -> str:
    return aws("ec2").describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"]


def stopped_instance(aws, name: str = "web-1") -> str:
    iid = instance(aws, "dev", name)
    aws("ec2").stop_instances(InstanceIds=[iid])
    assert ec2_state(aws, iid) == "stopped"
    return iid


def assert_denied_row(rows, action: str, target: str | None = None, origin: str = "cli") -> None:
    denied = [r for r in rows if r["result"] == "denied" and r["action"] == action]
    assert denied, rows
    row = denied[-1]
    assert row["user"] == current_user() and row["origin"] == origin and row["env"] == "dev"
    assert row["message"], "a denial says why"
    if target:
        assert row["target"] == target


# -- CLI act ---------------------------------------------------------------------
@pytest.fixture
def own_instances_aws(moto_server, _arrange_clients):
    """The shared moto server NOT reset: for tests that arrange and observe only an instance of
    their own (by its id), whatever else the server holds. Saves moto's EC2 rebuild per test."""
    return _arrange_clients


@pytest.mark.parametrize("action", list(EC2_ACTIONS))
@pytest.mark.parametrize("role,read_only", CASES, ids=CASE_IDS)
def test_cli_act(tmp_path, own_instances_aws, moto_server, role, action, read_only):
    aws, moto_url = own_instances_aws, moto_server
    iid = stopped_instance(aws) if action == "start" else instance(aws, "dev", "web-1")
    before = ec2_state(aws, iid)
    cfg = write_config(tmp_path / "envdeck.yaml", {"dev": {"access": access(role), "aws": aws_block(moto_url)}})
    state = tmp_path / "state"
    args = ["act", "dev", f"aws/ec2-instance/{iid}", action, "--yes", "--json", "--config", str(cfg),
            "--state-dir", str(state)] + (["--read-only"] if read_only else [])
    proc = envdeck_inproc(*args)
    rows = audit_rows(state)
    if allowed(role, EC2_ACTIONS[action], read_only):
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["ok"] is True
        after = ec2_state(aws, iid)
        assert after != before or action == "reboot"
        [row] = rows
        assert (row["action"], row["result"], row["user"], row["origin"]) == (action, "succeeded", current_user(), "cli")
    else:
        assert proc.returncode == 3, (proc.returncode, proc.stderr)
        assert proc.stderr.startswith("envdeck: denied: ") and "Traceback" not in proc.stderr
        assert ec2_state(aws, iid) == before, "a denied action never reaches the backend"
        assert all(r["result"] == "denied" for r in rows)
        if read_only:
            assert "read-only" in proc.stderr
        if role == "none":  # worded like an environment that does not exist (test_verb_scope.py)
            assert "no environment 'dev' that you can see" in proc.stderr
            assert_denied_row(rows, "access", "dev")
        else:
            assert_denied_row(rows, action, f"aws/ec2-instance/{iid}")


# -- reconcile --once --repair, and auto repair --------------------------------
@pytest.mark.parametrize("mode,flag", [("propose", "--repair"), ("auto", None)], ids=["propose+repair", "auto"])
@pytest.mark.parametrize("role,read_only", CASES, ids=CASE_IDS)
def test_reconcile_repair(tmp_path, aws, moto_url, role, read_only, mode, flag):
    iid = stopped_instance(aws)
    desired = [{"kind": "ec2-instance", "name": "web-1", "state": "running"}]
    cfg = write_config(tmp_path / "envdeck.yaml", {"dev": {"repair": mode, "access": access(role),
                                                           "aws": aws_block(moto_url, desired=desired)}})
    state = tmp_path / "state"
    args = ["reconcile", "--once", "--json", "--config", str(cfg), "--state-dir", str(state)]
    args += [flag] if flag else []
    args += ["--read-only"] if read_only else []
    proc = envdeck_inproc(*args)
    assert "Traceback" not in proc.stderr
    rows = audit_rows(state)
    origin = "reconciler" if mode == "auto" else "cli"
    if role == "none":
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == {"environments": []}, "an environment without a role is not shown"
        assert rows == []
        assert ec2_state(aws, iid) == "stopped"
        return
    [env] = json.loads(proc.stdout)["environments"]
    [repair] = env["repairs"]
    assert (repair["resource"], repair["field"], repair["action"]) == (f"aws/ec2-instance/{iid}", "state", "start")
    if allowed(role, "admin", read_only):
        assert proc.returncode == 0, proc.stderr
        assert repair["result"] == "succeeded"
        assert ec2_state(aws, iid) in ("pending", "running")
        [row] = rows
        assert (row["action"], row["result"], row["origin"], row["user"]) == ("start", "succeeded", origin,
                                                                               current_user())
    else:
        assert proc.returncode == 3, (proc.returncode, proc.stderr)
        assert repair["result"] == "denied"
        assert ec2_state(aws, iid) == "stopped"
        assert [r["result"] for r in rows] == ["denied"]
        assert_denied_row(rows, "start", f"aws/ec2-instance/{iid}", origin=origin)


def test_propose_mode_without_repair_flag_does_not_repair(tmp_path, aws, moto_url):
    iid = stopped_instance(aws)
    desired = [{"kind": "ec2-instance", "name": "web-1", "state": "running"}]
    cfg = write_config(tmp_path / "envdeck.yaml", {"dev": {"repair": "propose", "access": access("admin"),
                                                           "aws": aws_block(moto_url, desired=desired)}})
    proc = envdeck_inproc("reconcile", "--once", "--json", "--config", str(cfg), "--state-dir", str(tmp_path / "s"))
    assert proc.returncode == 0, proc.stderr
    [env] = json.loads(proc.stdout)["environments"]
    assert env["repairs"] == [] and [d["field"] for d in env["drifts"]] == ["state"]
    assert ec2_state(aws, iid) == "stopped" and audit_rows(tmp_path / "s") == []


@pytest.mark.parametrize("role", ["operator", "admin"])
async def test_running_reconciler_auto_repair(tmp_path, aws, moto_url, role):
    """The background loop (not the one-shot path) in `auto` mode, under the policy."""
    iid = stopped_instance(aws)
    desired = [{"kind": "ec2-instance", "name": "web-1", "state": "running"}]
    cfg = parse_config(json.dumps({"defaults": {"interval": "1s"}, "environments": {"dev": {
        "repair": "auto", "access": access(role), "aws": aws_block(moto_url, desired=desired)}}}))
    session = await Session.open(cfg, tmp_path / "state", origin=Origin.TUI, backends_factory=create_backends)
    try:
        await session.reconciler.start()
        deadline = time.monotonic() + 90
        while not [e for e in await session.store.audit_entries() if e["result"] != "pending"]:
            assert time.monotonic() < deadline, "no repair was attempted"
            await asyncio.sleep(0.1)
        await asyncio.sleep(2.5)  # two more passes: a denial is not re-audited every pass
    finally:
        await session.close()
    store = await Store.open(tmp_path / "state")
    entries = await store.audit_entries()
    await store.close()
    assert all(e["origin"] == "reconciler" and e["action"] == "start" for e in entries)
    if role == "admin":
        assert entries[-1]["result"] == "succeeded"
        assert ec2_state(aws, iid) in ("pending", "running")
    else:
        assert [e["result"] for e in entries] == ["denied"]
        assert ec2_state(aws, iid) == "stopped"


# -- run on edge nodes ------------------------------------------------------------
@pytest.mark.parametrize("role,read_only", CASES, ids=CASE_IDS)
def test_cli_run_on_edge_nodes(tmp_path, edge_lab, role, read_only):
    server = edge_lab.start_sshd("n1")
    edge_lab.trust(server)
    edge = edge_lab.config([edge_lab.node("gw-01", server)]).model_dump(mode="json", exclude_none=True)
    cfg = write_config(tmp_path / "envdeck.yaml", {"dev": {"access": access(role), "edge": edge}})
    marker = edge_lab.state / "ran"
    state = tmp_path / "state"
    args = ["run", "dev", "--json", "--config", str(cfg), "--state-dir", str(state)]
    args += ["--read-only"] if read_only else []
    proc = envdeck_inproc(*args, "--", f"touch {marker}")
    rows = audit_rows(state)
    if allowed(role, "operator", read_only):
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["summary"] == {"ok": 1, "failed": 0, "unreachable": 0}
        assert marker.exists()
        [row] = rows
        assert (row["action"], row["target"], row["result"]) == ("run", "edge/node/gw-01", "succeeded")
    else:
        assert proc.returncode == 3, (proc.returncode, proc.stderr)
        assert not marker.exists(), "a denied command never reaches the node"
        if role == "none":
            assert_denied_row(rows, "access", "dev")
        else:
            assert_denied_row(rows, "run", "edge/node/gw-01")


def test_run_refuses_an_option_written_as_the_command(tmp_path, edge_lab):
    """Without `--`, `envdeck run dev --read-only touch X` must not run `--read-only touch X`."""
    server = edge_lab.start_sshd("n1")
    edge_lab.trust(server)
    edge = edge_lab.config([edge_lab.node("gw-01", server)]).model_dump(mode="json", exclude_none=True)
    cfg = write_config(tmp_path / "envdeck.yaml", {"dev": {"access": access("admin"), "edge": edge}})
    proc = envdeck_inproc("run", "--config", str(cfg), "--state-dir", str(tmp_path / "s"), "dev", "--read-only",
                   "touch", str(edge_lab.state / "ran"))
    assert proc.returncode == 2 and "looks like an option" in proc.stderr
    assert audit_rows(tmp_path / "s") == [] and edge_lab.calls() == []


# -- visibility -------------------------------------------------------------------
async def test_environment_without_role_is_not_shown(tmp_path, aws, moto_url):
    instance(aws, "dev", "web-1")
    cfg = write_config(tmp_path / "envdeck.yaml", {
        "dev": {"access": access("viewer"), "aws": aws_block(moto_url)},
        "secret-prod": {"access": access("none"), "aws": aws_block(moto_url)},
    })
    state = tmp_path / "state"
    store = await Store.open(state)
    await store.audit_record(user="someone", env="secret-prod", target="aws/ec2-instance/i-1", action="stop",
                             params={}, origin="cli", result="succeeded")
    await store.close()
    proc = envdeck_inproc("status", "--json", "--config", str(cfg), "--state-dir", str(state))
    assert proc.returncode == 0, proc.stderr
    assert [e["name"] for e in json.loads(proc.stdout)["environments"]] == ["dev"]
    assert "secret-prod" not in proc.stdout
    proc = envdeck_inproc("status", "--config", str(cfg), "--state-dir", str(state))
    assert "secret-prod" not in proc.stdout
    proc = envdeck_inproc("audit", "--json", "--config", str(cfg), "--state-dir", str(state))
    assert proc.returncode == 0 and json.loads(proc.stdout) == {"entries": []}
    proc = envdeck_inproc("audit", "--json", "--env", "secret-prod", "--config", str(cfg), "--state-dir", str(state))
    assert proc.returncode == 3 and "secret-prod" not in proc.stdout
