"""A pause of an environment's repairs is the store's, not one process's: an `envdeck agent` leads
`staging` (auto) against the Kubernetes API emulator in a thread, on the shared SQLite file or on
PostgreSQL; another session on the same store (alice's TUI session, or the CLI verbs) pauses.
Repairs are counted on the emulator (its request log of writes to the Deployment), never in envdeck.

- paused by alice: the agent shows it paused (/metrics) and a drift it observes is not repaired;
  `envdeck status --json` says paused and by whom; a viewer (mallory) can neither resume nor pause
  (denied, audited, the pause unchanged); alice resumes: the drift is repaired by exactly one write;
- paused with `envdeck pause --reason`: a restarted agent reads the pause at its start and does not
  repair; `status` says who paused it; `--read-only` cannot resume; `envdeck resume` repairs once.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import yaml

from backends.registry import create_backends
from tests.agent.support import Agent, KubeEnv, kube_config
from tests.helpers import envdeck
from tests.kubernetes_emulator.support import wait_for
from tui.core.config import load_config
from tui.core.errors import PolicyDenied
from tui.core.identity import current_user
from tui.core.model import Origin
from tui.core.session import Session
from tui.core.store import open_store

ME = current_user()
ENVS = {"staging": KubeEnv("staging", "auto", {"web": 3})}
WEB = "kubernetes/Deployment/web"


def _writes(emu) -> int:
    path = "/apis/apps/v1/namespaces/staging/deployments/web"
    return sum(1 for m, p in list(emu.request_log)
               if m in ("PATCH", "PUT", "POST") and p.split("?")[0] in (path, path + "/scale"))


def _replicas(emu) -> int:
    return emu.get("deployments", "staging", "web")["spec"]["replicas"]


@pytest.fixture
def world(k8s_emulator, tmp_path):
    thread, kubeconfig, _token = k8s_emulator
    emu = thread.emu
    emu.create_deployment("staging", "web", replicas=3)
    config = yaml.safe_load(kube_config(kubeconfig, ENVS, defaults={"interval": "1s"}))
    # the agent (this OS user) repairs; alice may pause; everyone else only looks
    config["environments"]["staging"]["access"] = {"viewer": ["*"], "operator": ["alice"], "admin": [ME]}
    path = tmp_path / "envdeck.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return emu, path, tmp_path / "state"


def _engine(engine: str, request, monkeypatch) -> dict[str, str]:
    """The environment of the processes for `engine` (this one's too: the in-process sessions)."""
    if engine == "sqlite":
        return {}
    url = request.getfixturevalue("pg_url")  # its pgpass fixture sets PGPASSFILE
    monkeypatch.setenv("ENVDECK_STATE_URL", url)
    return {"ENVDECK_STATE_URL": url}


def _start_agent(config, state, env: dict[str, str]) -> Agent:
    agent = Agent(config, state, env=env)
    agent.wait_listening()
    wait_for(lambda: agent.metric("envdeck_lease_held", env="staging") == 1, timeout=60, interval=0.2,
             what="the agent to lead staging")
    wait_for(lambda: agent.metric("envdeck_environment_paused", env="staging") is not None, timeout=60,
             interval=0.2, what="the agent's first pass")
    return agent


def _paused_in(agent: Agent) -> bool:
    return agent.metric("envdeck_environment_paused", env="staging") == 1


def _drift_not_repaired(emu, agent: Agent) -> int:
    """Make web drift (1 replica, 3 desired), wait until the agent has observed it, let it run a
    few passes more: nothing written. The emulator's write count."""
    before = _writes(emu)
    seen = len(agent.lines)
    emu.patch("deployments", "staging", "web", {"spec": {"replicas": 1}})
    wait_for(lambda: any(r["msg"].startswith("drift") and r.get("resource") == WEB for r in agent.records()[seen:]),
             timeout=60, interval=0.1, what="the agent to observe the drift")
    time.sleep(3)  # three passes of the agent: a repair would land here
    assert _replicas(emu) == 1, "a paused environment was repaired"
    assert _writes(emu) == before
    assert not [r for r in agent.records()[seen:] if r["msg"].startswith("repair ")]
    return before


def _repaired_once(emu, before: int) -> None:
    wait_for(lambda: _replicas(emu) == 3, timeout=60, interval=0.1, what="the repair after resuming")
    time.sleep(2)  # two passes more: a second repair would land here
    assert _writes(emu) - before == 1


def _session_call(config, state, user: str, paused: bool, reason: str = "") -> None:
    """`user`'s TUI session on the store pauses or resumes staging (Session.set_paused, as `p` does)."""
    async def run() -> None:
        cfg = load_config(config)
        session = await Session.open(cfg, state, origin=Origin.TUI, user=user, backends_factory=create_backends)
        try:
            await session.set_paused("staging", paused, reason=reason)
        finally:
            await session.close()
    asyncio.run(run())


def _store_rows(config, state) -> tuple[dict | None, list[dict]]:
    """The store's pause of staging and its pause/resume audit rows (oldest first)."""
    async def run():
        store = await open_store(load_config(config), state)
        try:
            pause = await store.pause("staging")
            rows = [e for e in await store.audit_entries("staging") if e["action"] in ("pause", "resume")]
        finally:
            await store.close()
        return (pause.to_json() if pause is not None else None), rows[::-1]
    return asyncio.run(run())


def _status(config, state, *flags: str) -> str:
    proc = envdeck("status", "--config", str(config), "--state-dir", str(state), "--env", "staging", *flags)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.stdout


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_a_pause_in_one_session_stops_the_agent_repairing_until_resumed(world, engine, request, monkeypatch):
    emu, config, state = world
    env = _engine(engine, request, monkeypatch)
    agent = _start_agent(config, state, env)
    try:
        assert not _paused_in(agent)
        _session_call(config, state, "alice", True, reason="incident 7")
        # the agent learns it from the store (PostgreSQL: the change feed; SQLite: its poll)
        wait_for(lambda: _paused_in(agent), timeout=30, interval=0.1, what="the agent to see the pause")
        paused = agent.wait_record(lambda r: r["msg"] == "repairs paused", "the pause in the agent's log")
        assert (paused["by"], paused["reason"]) == ("alice", "incident 7")
        before = _drift_not_repaired(emu, agent)

        shown = json.loads(_status(config, state, "--json"))["environments"][0]
        assert shown["paused"] is True
        assert (shown["pause"]["user"], shown["pause"]["reason"]) == ("alice", "incident 7")

        for paused in (False, True):  # a viewer neither resumes nor pauses
            with pytest.raises(PolicyDenied):
                _session_call(config, state, "mallory", paused)
        pause, rows = _store_rows(config, state)
        assert pause is not None and pause["user"] == "alice"
        assert [(r["user"], r["action"], r["result"]) for r in rows] == [
            ("alice", "pause", "succeeded"), ("mallory", "pause", "denied"), ("mallory", "pause", "denied")]
        assert rows[0]["params"] == {"reason": "incident 7"} and rows[0]["origin"] == "tui"
        assert _paused_in(agent)
        assert _replicas(emu) == 1

        _session_call(config, state, "alice", False)
        resumed = agent.wait_record(lambda r: r["msg"] == "repairs resumed", "the resume in the agent's log")
        assert (resumed["by"], resumed["paused_by"]) == ("alice", "alice")  # who resumed, whose pause it ended
        _repaired_once(emu, before)
        assert not _paused_in(agent)
        pause, rows = _store_rows(config, state)
        assert pause is None and (rows[-1]["user"], rows[-1]["action"], rows[-1]["result"]) == (
            "alice", "resume", "succeeded")
        assert json.loads(_status(config, state, "--json"))["environments"][0]["paused"] is False
    finally:
        agent.stop()


def test_the_pause_survives_a_restart_of_the_agent(world):
    emu, config, state = world
    agent = _start_agent(config, state, {})
    try:
        proc = envdeck("pause", "staging", "--reason", "db migration", "--config", str(config),
                       "--state-dir", str(state))
        assert proc.returncode == 0, proc.stderr
        assert "paused for every envdeck" in proc.stdout
        wait_for(lambda: _paused_in(agent), timeout=30, interval=0.1, what="the agent to see the pause")
    finally:
        agent.stop()
    agent = _start_agent(config, state, {})  # a new process: the pause is read from the store at its start
    try:
        assert _paused_in(agent)
        before = _drift_not_repaired(emu, agent)
        assert f"PAUSED by {ME}" in _status(config, state) and "(db migration)" in _status(config, state)

        refused = envdeck("resume", "staging", "--read-only", "--config", str(config), "--state-dir", str(state))
        assert refused.returncode == 3, refused.stderr
        assert "denied" in refused.stderr
        assert _store_rows(config, state)[0] is not None and _paused_in(agent)

        proc = envdeck("resume", "staging", "--json", "--config", str(config), "--state-dir", str(state))
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout) == {"env": "staging", "paused": False, "pause": None, "was_paused": True}
        resumed = agent.wait_record(lambda r: r["msg"] == "repairs resumed", "the resume in the agent's log")
        assert (resumed["by"], resumed["paused_by"]) == (ME, ME)
        _repaired_once(emu, before)
    finally:
        agent.stop()
