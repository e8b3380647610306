"""Exactly one reconciler per environment (issue 16), with real processes: two `envdeck agent`
processes on one store (the shared SQLite file; PostgreSQL for the first test too) against the
Kubernetes API emulator in a thread. Repairs are counted on the emulator (its request log of
writes to the Deployment), not in envdeck: every drift made is repaired by exactly one write.

- both up: one of them leads (/metrics envdeck_lease_held), each drift is repaired once;
- SIGKILL the leader: the other takes the lease (after its ttl) and repairs;
- SIGSTOP the leader past its lease, the other takes over and repairs, then a drift is made and
  the old leader continued at once: it does not repair (its lease lapsed on its own clock, the
  store refuses its stale epoch) and logs that it no longer leads. Three trials (the issue asks
  for 50; these run in the shared suite).
  One settling wait per trial covers both drifts: a second repair of either lands in it.
- `envdeck reconcile --repair` while an agent leads refuses: "env X is led by HOLDER".
The lease ttl is shortened to 4 s with $ENVDECK_LEASE_TTL.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import time

import pytest

from tests.agent.support import Agent, KubeEnv, kube_config
from tests.helpers import envdeck
from tests.kubernetes_emulator.support import wait_for

TTL = "4"
ENVS = {"staging": KubeEnv("staging", "auto", {"web": 3}), "quiet": KubeEnv("quiet", "propose", {"api": 2})}

def _writes(emu, namespace: str, name: str) -> int:
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
    return sum(1 for m, p in list(emu.request_log)
               if m in ("PATCH", "PUT", "POST") and p.split("?")[0] in (path, path + "/scale"))


def _replicas(emu, namespace: str = "staging", name: str = "web") -> int:
    return emu.get("deployments", namespace, name)["spec"]["replicas"]


def _held(agent: Agent, env: str = "staging") -> bool:
    return agent.metric("envdeck_lease_held", env=env) == 1


def _write_lock_held(state) -> bool:
    """Whether some process holds the shared SQLite file's write lock now."""
    con = sqlite3.connect(state / "envdeck.db", timeout=0.2, isolation_level=None)
    try:
        con.execute("BEGIN IMMEDIATE")
        con.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        return True
    finally:
        con.close()


def _freeze_until_taken_over(leader: Agent, other: Agent, state) -> None:
    """SIGSTOP the leader; the other takes the lease once it has lapsed. A leader frozen INSIDE a
    store transaction holds the SQLite file's write lock, and nobody can write the store (nor take
    the lease) until it runs again: a limit of a shared SQLite file (docs/architecture.md), met
    here when the SIGSTOP lands in one of the leader's commits (more often on a loaded machine,
    where an fsync takes long). Then the leader is let run until the lock is free and frozen
    again, at most 3 times; a takeover that does not come while the store is free still fails."""
    for attempt in range(4):
        leader.proc.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if _held(other):
                return
            time.sleep(0.2)
            if attempt < 3 and time.monotonic() > deadline - 40 and _write_lock_held(state):
                break  # 20 s frozen with the write lock: let it commit, freeze it again
        else:
            raise AssertionError("timed out waiting for the takeover (the store's write lock is free)")
        leader.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: not _write_lock_held(state), timeout=30, interval=0.1, what="the leader's commit")
    raise AssertionError("the frozen leader held the store's write lock at each of 4 SIGSTOPs")


def _leader(agents: list[Agent]) -> tuple[Agent, Agent]:
    """(the leader, the other) once exactly one of two running agents holds the lease."""
    def one():
        held = [a for a in agents if _held(a)]
        return held[0] if len(held) == 1 else None
    leader = wait_for(one, timeout=60, interval=0.2, what="exactly one leader")
    return leader, next(a for a in agents if a is not leader)


def _drift_and_settle(emu, before: int, expected: int) -> int:
    """Make the Deployment drift (1 replica, desired 3), wait for its repair, let every agent
    run a few passes more; the emulator's write count after."""
    emu.patch("deployments", "staging", "web", {"spec": {"replicas": 1}})
    wait_for(lambda: _replicas(emu) == 3, timeout=60, interval=0.1, what="the repair")
    time.sleep(3)  # three passes of each agent: a second repair would land here
    writes = _writes(emu, "staging", "web")
    assert writes - before == expected, f"{writes - before} writes for {expected} drift(s)"
    return writes


@pytest.fixture
def world(k8s_emulator, tmp_path):
    thread, kubeconfig, _token = k8s_emulator
    emu = thread.emu
    emu.add_namespace("quiet")
    emu.create_deployment("staging", "web", replicas=3)
    emu.create_deployment("quiet", "api", replicas=1)
    config = tmp_path / "envdeck.yaml"
    config.write_text(kube_config(kubeconfig, ENVS, defaults={"interval": "1s"}))
    return emu, config, tmp_path / "state"


def _agents(config, state, n: int = 2, **env: str) -> list[Agent]:
    # one after the other: two processes creating one new SQLite file at once race in its
    # first migration (a known limit of store_sqlite.migrate, not of the leases)
    agents = []
    for _ in range(n):
        agents.append(Agent(config, state, env={"ENVDECK_LEASE_TTL": TTL, **env}))
        agents[-1].wait_listening()
    return agents


def _stop_all(agents: list[Agent]) -> None:
    for agent in agents:
        if agent.proc.poll() is None:
            agent.proc.send_signal(signal.SIGCONT)
        agent.stop()


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_two_agents_one_leader_each_drift_repaired_once(world, engine, request):
    emu, config, state = world
    env = {"ENVDECK_STATE_URL": request.getfixturevalue("pg_url")} if engine == "postgres" else {}
    if env:
        env["PGPASSFILE"] = str(request.getfixturevalue("pgpass"))
    agents = _agents(config, state, **env)
    try:
        leader, other = _leader(agents)
        assert leader.metric("envdeck_lease_epoch", env="staging") >= 1
        writes = _writes(emu, "staging", "web")
        for _ in range(3):
            writes = _drift_and_settle(emu, writes, 1)
        assert _held(leader) and not _held(other)
        repaired = [r for r in other.records() if r["msg"].startswith("repair")]
        assert repaired == [], repaired  # the follower observed, never repaired
    finally:
        _stop_all(agents)


def test_sigkill_the_leader_the_other_takes_over(world):
    emu, config, state = world
    agents = _agents(config, state)
    try:
        leader, other = _leader(agents)
        epoch = leader.metric("envdeck_lease_epoch", env="staging")
        leader.proc.kill()
        leader.proc.wait()
        wait_for(lambda: _held(other), timeout=60, interval=0.2, what="the takeover")
        assert other.metric("envdeck_lease_epoch", env="staging") == epoch + 1
        _drift_and_settle(emu, _writes(emu, "staging", "web"), 1)
    finally:
        _stop_all(agents)


def test_sigstop_the_leader_past_its_lease_then_sigcont_no_double_repair(world):
    emu, config, state = world
    agents = _agents(config, state)
    try:
        writes = _writes(emu, "staging", "web")
        for _trial in range(3):
            leader, other = _leader(agents)
            _freeze_until_taken_over(leader, other, state)
            # a drift while the old leader is frozen: repaired by the new leader
            emu.patch("deployments", "staging", "web", {"spec": {"replicas": 1}})
            wait_for(lambda: _replicas(emu) == 3, timeout=60, interval=0.1, what="the repair")
            seen = len(leader.lines)
            # a drift the old leader meets as soon as it runs again: it must not repair it
            emu.patch("deployments", "staging", "web", {"spec": {"replicas": 1}})
            leader.proc.send_signal(signal.SIGCONT)
            wait_for(lambda: _replicas(emu) == 3, timeout=60, interval=0.1, what="the repair")
            time.sleep(3)  # three passes of each agent: a second repair of either drift would land here
            # each drift was repaired (back to 3 replicas) before the next one was made, so each
            # took at least one write: two writes in all is exactly one per drift
            now = _writes(emu, "staging", "web")
            assert now - writes == 2, f"{now - writes} writes for two drifts, one at a time (trial {_trial})"
            writes = now
            assert _held(other) and not _held(leader)
            after = leader.records()[seen:]
            assert not [r for r in after if r["msg"].startswith("repair")], after
            assert [r for r in after if r["msg"].startswith("leader") and r.get("note")], after[-10:]
    finally:
        _stop_all(agents)


def test_one_shot_repair_refused_while_an_agent_leads(world):
    emu, config, state = world
    (agent,) = _agents(config, state, n=1)
    try:
        wait_for(lambda: _held(agent, "quiet"), timeout=60, interval=0.2, what="the agent leading quiet")
        out = envdeck("reconcile", "--once", "--repair", "--env", "quiet", "--config", str(config),
                      "--state-dir", str(state), ENVDECK_LEASE_TTL=TTL)
        assert "env quiet is led by " in out.stderr, out.stderr
        assert _writes(emu, "quiet", "api") == 0 and _replicas(emu, "quiet", "api") == 1
        status = envdeck("status", "--json", "--config", str(config), "--state-dir", str(state))
        assert status.returncode == 0, status.stderr
        shown = {e["name"]: e for e in json.loads(status.stdout)["environments"]}
        assert shown["quiet"]["leader"].endswith(f":{agent.proc.pid}") and "@" in shown["quiet"]["leader"]
        assert shown["quiet"]["epoch"] >= 1 and shown["quiet"]["lease_age_s"] >= 0
    finally:
        agent.stop()
    # with nobody leading, the one-shot takes the lease for its pass and repairs
    out = envdeck("reconcile", "--once", "--repair", "--env", "quiet", "--config", str(config),
                  "--state-dir", str(state))
    assert out.returncode == 0, out.stderr
    assert _writes(emu, "quiet", "api") == 1 and _replicas(emu, "quiet", "api") == 2
