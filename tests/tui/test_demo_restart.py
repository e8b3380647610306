"""`envdeck demo --state-dir DIR` restarted on the state dir of an earlier demo: the environments
that run created point at its servers, gone with it (random ports, its temporary directory
removed). They showed `● ready` with `✗aws ✗k8s ✗edge`, and a create still pending resumed
against the dead servers and failed. Now the demo names them and marks them destroyed at start
(tui/cli/demo_earlier.py): no pending operation is left to resume, their edge claims are released,
an audit row says why. Real servers: the demo's own (moto, the Kubernetes emulator, edge nodes),
in their process, as `envdeck demo` starts them. Its headless run is also the suite's
`envdeck demo --headless` end to end (its report, exit status and clean-up)."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import envdeck, envdeck_env, repo_root
from tui.cli.demo import DEMO_AWS_ENV, ServersProcess, write_config

pytestmark = pytest.mark.slow


def _rows(state: Path, sql: str, *args: object) -> list[dict]:
    with sqlite3.connect(state / "envdeck.db") as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute(sql, args)]


def test_a_restarted_demo_retires_the_environments_of_the_earlier_run(tmp_path):
    state = tmp_path / "state"
    earlier = tmp_path / "envdeck-demo-earlier"      # the earlier run's temporary directory
    servers = ServersProcess(earlier / "servers", 1)
    with servers as world:
        # how far each piece got while starting (what a start-up failure names): all of them ready
        assert servers.progress == {"aws": "ready", "kubernetes": "ready", "edge": "ready (8 nodes listening)"}
        proc = servers.proc
        config_path = write_config(world, earlier, state)
        cli = {"ENVDECK_CONFIG": str(config_path), "ENVDECK_STATE_DIR": str(state), **DEMO_AWS_ENV}
        made = envdeck("env", "create", "pr-1", "--template", "preview", "--param", "branch=main", "--wait", **cli)
        assert made.returncode == 0, made.stderr
        asked = envdeck("env", "create", "pr-2", "--template", "preview", "--param", "branch=two", **cli)
        assert asked.returncode == 0, asked.stderr           # handed over: nobody carried it out
    assert proc is not None and proc.returncode == 0  # ended on its stdin's end (not killed)
    shutil.rmtree(earlier)                                    # as that demo does when it ends
    before = {r["name"]: (r["state"], r["operation"]) for r in _rows(state, "SELECT * FROM managed_env")}
    assert before == {"pr-1": ("ready", None), "pr-2": ("planned", "create")}, before
    assert _rows(state, "SELECT node FROM edge_claims WHERE env = 'pr-1'")

    (tmp_path / "tmp").mkdir()
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "demo", "--headless", "--state-dir", str(state)],
                          cwd=str(repo_root()), capture_output=True, text=True, timeout=400,
                          env=envdeck_env(PYTHONPATH=str(repo_root()), TMPDIR=str(tmp_path / "tmp")))
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]   # a string: shown whole on failure
    said = [line for line in proc.stderr.splitlines() if "earlier demo run" in line]
    assert said == [f"envdeck demo: {state} kept 2 environment(s) created in an earlier demo run: "
                    "pr-1 (ready), pr-2 (planned, create pending); their servers ended with that run, so they "
                    "are marked destroyed (the audit trail keeps them; create them again here)"], proc.stderr
    # the headless demo's own report (this run serves as `envdeck demo --headless` end to end too):
    # one line per environment, every backend observed and reachable (exit 0), its temporary directory gone
    summary = [line for line in proc.stdout.splitlines() if line.startswith(("staging:", "prod:"))]
    assert sorted(line.split(":")[0] for line in summary) == ["prod", "staging"], proc.stdout
    assert all("compliance" in line and "aws ok, kubernetes ok, edge ok" in line for line in summary), proc.stdout
    assert list((tmp_path / "tmp").glob("envdeck-demo-*")) == []

    after = {r["name"]: (r["state"], r["operation"]) for r in _rows(state, "SELECT * FROM managed_env")}
    assert after == {"pr-1": ("destroyed", None), "pr-2": ("destroyed", None)}, after
    assert _rows(state, "SELECT node FROM edge_claims") == []
    # the pending create did not resume: none of its steps was started against the dead servers
    assert {r["state"] for r in _rows(state, "SELECT state FROM lifecycle_steps WHERE env = 'pr-2'")} <= {"pending"}
    audit = _rows(state, "SELECT env, result, message FROM audit WHERE action = 'env.destroy' ORDER BY id")
    assert [(r["env"], r["result"]) for r in audit] == [("pr-1", "succeeded"), ("pr-2", "succeeded")], audit
    assert all("earlier envdeck demo run" in r["message"] for r in audit), audit


def _managed(tmp_path: Path, demo_dir: Path | None, endpoint: str) -> object:
    from tui.core.lifecycle.records import EnvLifecycleState, ManagedEnvironment, RenderedEnvironment
    from tui.core.model import now_utc

    kubeconfig = str((demo_dir or tmp_path / "kube") / "servers" / "kubeconfig-preview")
    section = {"aws": {"region": "us-east-1", "endpoint_url": endpoint}, "kubernetes": {"kubeconfig": kubeconfig}}
    spec = RenderedEnvironment(name="pr-9", template="preview", parameters={}, creator="alice", steps=[],
                               environment=section)
    return ManagedEnvironment(name="pr-9", template="preview", parameters={}, owner="alice",
                              state=EnvLifecycleState.READY, spec=spec, created_at=now_utc())


def test_only_environments_whose_demo_servers_are_gone_are_retired(tmp_path):
    import socket

    from tui.cli.demo_earlier import servers_gone

    this_run = tmp_path / "envdeck-demo-now"
    other = tmp_path / "envdeck-demo-other"
    other.mkdir()
    with socket.create_server(("127.0.0.1", 0)) as listening:
        alive = f"http://127.0.0.1:{listening.getsockname()[1]}"
        assert not servers_gone(_managed(tmp_path, None, alive), this_run)          # a real config's environment
        assert not servers_gone(_managed(tmp_path, this_run, alive), this_run)      # this run's own
        assert not servers_gone(_managed(tmp_path, other, alive), this_run)         # another demo, still running
    dead = alive                                                                    # nothing listens there now
    assert servers_gone(_managed(tmp_path, other, dead), this_run)                  # that demo was killed
    assert servers_gone(_managed(tmp_path, tmp_path / "envdeck-demo-gone", alive), this_run)  # its dir removed
    assert not servers_gone(_managed(tmp_path, None, dead), this_run)               # not a demo's: untouched


def test_servers_that_did_not_start_are_named_with_how_far_they_got_and_a_smaller_scale(tmp_path):
    from tui.cli.demo import not_started_message

    log = tmp_path / "servers.log"
    log.write_text("", encoding="utf-8")  # the tester's run: nothing in the log
    said = not_started_message(None, 630.0, {"aws": "seeding prod: 900 instances created",
                                             "kubernetes": "ready"}, log, 300)
    assert said == ("the demo's servers did not start (not ready within 630s); aws: seeding prod: 900 instances "
                    "created; kubernetes: ready; edge: not started. try a smaller --scale (e.g. --scale 100), "
                    "or the same on a less busy machine")
    log.write_text("Traceback (most recent call last):\nOSError: [Errno 24] Too many open files\n", encoding="utf-8")
    said = not_started_message(1, 180.0, {}, log, 1)
    assert said.startswith("the demo's servers did not start (their process ended with exit 1); aws: not started")
    assert "their log ends: Traceback (most recent call last): | OSError: [Errno 24] Too many open files" in said
    assert said.endswith("try again on a less busy machine")
