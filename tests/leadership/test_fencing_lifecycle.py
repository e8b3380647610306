"""The lifecycle engine drives under the environment's leadership lease and every write it makes
carries the lease's epoch (issue 16; tui/core/lifecycle/engine.py, lifecycle_store.py):

- in one process, both engines (`any_store`): the lease is taken from a driving engine behind
  its back (it still trusts its local deadline): its next step row is refused by the store
  (`Fenced`): no further provisioner call, no row changed, no audit row begun; the drive stops
  with LeaseBusy and the engine says it was fenced. A TTL's destroy is requested only by the
  leader, and a request under a stale epoch is refused the same way;
- real processes on the Kubernetes API emulator: `envdeck env create --wait` is SIGSTOPped at a
  seeded point of its create, past its lease; `envdeck reconcile --once` takes the lease and
  finishes the create; the old process continued writes no step row and creates nothing more:
  one object made of each (a POST answered 201), counted on the emulator.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from tests.helpers import envdeck, envdeck_env, repo_root
from tests.kubernetes_emulator.support import wait_for
from tests.lifecycle.memory_provisioner import FakeClock, MemoryWorld, managed_env
from tui.core.leases import Fenced
from tui.core.lifecycle.engine import LeaseBusy, LifecycleEngine
from tui.core.lifecycle.lifecycle_store import LifecycleStore
from tui.core.lifecycle.records import EnvLifecycleState, Operation, StepSpec, StepState

ENV = "pr-9"


def _steps() -> list[StepSpec]:
    """ns and bucket in wave 0; deploy (needs ns) and web (needs bucket) in wave 1."""
    return [StepSpec("ns", "kubernetes", "Namespace", {"name": ENV}),
            StepSpec("bucket", "aws", "s3-bucket", {"name": "pr-9-assets"}),
            StepSpec("deploy", "kubernetes", "Deployment", {"replicas": 2}, depends_on=("ns",)),
            StepSpec("web", "aws", "ec2-instance", {}, depends_on=("bucket",))]


async def test_a_driving_engine_whose_lease_moved_writes_nothing_more(any_store):
    store_a, store_b = await any_store.open(), await any_store.open()
    world, clock = MemoryWorld(), FakeClock(tick_s=1.0)
    try:
        lstore = LifecycleStore(store_a)
        await lstore.insert(managed_env(ENV, _steps()), requested_by="ann", origin="cli")
        taken: dict[str, object] = {}

        async def on_change(managed):
            rows = {r.id: r for r in managed.steps}
            # ns created, not healthy yet (deploy starts in the commit of ns's `healthy` row)
            if rows["ns"].state == StepState.WAITING and not taken:
                # another process takes the lease (the engine's own deadline still holds)
                taken["lease"] = await store_b.acquire_lease(ENV, "bob@ops-2:22", 60,
                                                             now=clock.now + timedelta(hours=1))
                taken["rows"] = await LifecycleStore(store_b).steps(ENV)
                taken["audit"] = len(await store_b.audit_entries(ENV))
                taken["creates"] = len([c for c in world.calls if c[0] == "create"])

        engine = LifecycleEngine(store_a, lstore, world.factory, holder="ann@ops-1:11", clock=clock,
                                 on_change=on_change, poll=(0, 0))
        with pytest.raises(LeaseBusy, match="fenced"):
            await engine.drive(ENV)
        assert taken["lease"] is not None and taken["lease"].epoch == 2
        assert len([c for c in world.calls if c[0] == "create"]) == taken["creates"]
        assert not {"deploy", "web"} & set(world.creates), world.creates  # wave 1 never asked
        after = await LifecycleStore(store_b).steps(ENV)
        assert [(r.id, r.state, r.attempts, r.message) for r in after] == \
            [(r.id, r.state, r.attempts, r.message) for r in taken["rows"]]
        assert len(await store_b.audit_entries(ENV)) == taken["audit"]
        assert not engine.leadership.leads(ENV)
        assert engine.leadership.notes[ENV].startswith("fenced: env pr-9: the lease moved on (epoch 2")
        lease = await store_b.lease(ENV)
        assert lease.holder == "bob@ops-2:22" and lease.epoch == 2  # the fenced engine released nothing of bob's
    finally:
        await store_a.close()
        await store_b.close()


async def test_a_ttl_destroy_is_decided_by_the_leader_alone(any_store):
    store_a, store_b = await any_store.open(), await any_store.open()
    clock = FakeClock(tick_s=0.0)
    try:
        lstore = LifecycleStore(store_a)
        await lstore.insert(managed_env(ENV, _steps(), operation=None), requested_by="ann", origin="cli")
        await lstore.set_state(ENV, EnvLifecycleState.READY)
        await lstore.set_expires(ENV, clock.now - timedelta(minutes=1))
        engine = LifecycleEngine(store_a, lstore, MemoryWorld().factory, holder="ann@ops-1:11", clock=clock)
        leadership = engine.leadership
        assert await leadership.claim(ENV)
        # the lease moves on while this process still trusts it: its TTL decision is refused
        assert await store_b.acquire_lease(ENV, "bob@ops-2:22", 60, now=clock.now + timedelta(hours=1))
        stale = leadership.epoch(ENV)
        assert await engine.expire_due() == []
        assert (await LifecycleStore(store_b).require(ENV)).operation is None
        assert "bob@ops-2:22" in leadership.notes[ENV] and not leadership.leads(ENV)
        # the request itself, under the stale epoch, is refused by the store
        with pytest.raises(Fenced, match="epoch 2, held by bob@ops-2:22"):
            await lstore.request(ENV, Operation.DESTROY, "envdeck", "ttl", epoch=stale)
        assert (await LifecycleStore(store_b).require(ENV)).operation is None
        # bob leads: ann's process leaves the TTL to him (no request)
        assert await engine.expire_due() == []
        assert (await LifecycleStore(store_b).require(ENV)).operation is None
        assert (await store_b.lease(ENV)).holder == "bob@ops-2:22"
    finally:
        await store_a.close()
        await store_b.close()


# -- real processes ---------------------------------------------------------------------------------
MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: "registry.example/web:main"
"""
TTL = "3"


def _posts(emu, path: str) -> int:
    """Objects made at `path`: POSTs the server answered 201. A POST the frozen process had
    ready before its lease lapsed and sends on SIGCONT meets 409 (the name exists): no object."""
    return sum(1 for m, p, status in list(emu.response_log)
               if m == "POST" and p.split("?")[0] == path and status == 201)


def _rows(db, name: str) -> list[tuple]:
    with sqlite3.connect(db, timeout=30) as conn:
        return conn.execute("SELECT id, state, attempts, native_id, message FROM lifecycle_steps WHERE env = ? "
                            "ORDER BY seq", (name,)).fetchall()


def _lease(db, name: str) -> tuple | None:
    try:
        with sqlite3.connect(db, timeout=30) as conn:
            return conn.execute("SELECT holder, epoch FROM leases WHERE env = ?", (name,)).fetchone()
    except sqlite3.OperationalError:  # the store is still being made
        return None


def _audit_by(db, holder_pid: int) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        rows = conn.execute("SELECT params FROM audit WHERE action LIKE 'lifecycle.%'").fetchall()
    return sum(1 for (params,) in rows if json.loads(params).get("by", "").endswith(f":{holder_pid}"))


def test_a_create_frozen_past_its_lease_and_continued_creates_nothing_more(k8s_emulator, tmp_path):
    thread, kubeconfig, _token = k8s_emulator
    emu = thread.emu
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "web.yaml").write_text(MANIFEST)
    config = tmp_path / "envdeck.yaml"
    config.write_text(json.dumps({
        "defaults": {"interval": "30s", "timeout": "5s"},
        "templates": {"preview": {
            "ttl": "1h", "repair": "auto", "access": {"admin": ["{creator}"]},
            "kubernetes": {"kubeconfig": str(kubeconfig), "context": "emulator", "namespace": "{env}",
                           "manifests": ["templates/web.yaml"], "timeout": "60s"}}}}))
    state = tmp_path / "state"
    db = state / "envdeck.db"
    common = ("--config", str(config), "--state-dir", str(state))
    rng = random.Random(16)
    try:
        for trial in range(1):  # one seeded point here (each trial is a lease ttl plus two CLI runs)
            emu.set_failure(delay_s=0.25)  # every request slowed: the create lasts long enough to be frozen in it
            name = f"pv{trial}"
            frozen = subprocess.Popen(
                [sys.executable, "-m", "tui.cli", "env", "create", name, "--template", "preview", "--wait", *common],
                cwd=repo_root(), env=envdeck_env(PYTHONPATH=str(repo_root()), ENVDECK_LEASE_TTL=TTL),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                wait_for(lambda n=name, p=frozen.pid: str((_lease(db, n) or ("",))[0]).endswith(f":{p}"),
                         timeout=60, interval=0.02, what="the create taking the lease")
                time.sleep(rng.uniform(0.0, 1.5))  # a seeded point of the create
                frozen.send_signal(signal.SIGSTOP)
                emu.set_failure(delay_s=0.0)
                time.sleep(float(TTL) + 0.5)      # past its lease
                done = envdeck("reconcile", "--once", *common, ENVDECK_LEASE_TTL=TTL)
                assert done.returncode == 0, done.stderr
                assert _rows(db, name) and {r[1] for r in _rows(db, name)} == {"healthy"}, _rows(db, name)
                holder, epoch = _lease(db, name) or (None, 0)
                assert epoch >= 2, (holder, epoch)  # the one-shot led it under the next epoch
                rows, audit = _rows(db, name), _audit_by(db, frozen.pid)
                frozen.send_signal(signal.SIGCONT)
                out, err = frozen.communicate(timeout=60)
            finally:
                if frozen.poll() is None:
                    frozen.send_signal(signal.SIGCONT)
                    frozen.kill()
                    frozen.wait()
            assert "Traceback" not in err, err
            assert frozen.returncode == 0, err   # its --wait followed the create the other finished
            assert _rows(db, name) == rows, f"trial {trial}: the continued process wrote a step row"
            assert _audit_by(db, frozen.pid) == audit, f"trial {trial}: it began an audit row"
            # one object made of each, counted on the server
            assert _posts(emu, "/api/v1/namespaces") == trial + 1
            assert _posts(emu, f"/apis/apps/v1/namespaces/{name}/deployments") == 1, f"trial {trial}"
    finally:
        emu.set_failure(delay_s=0.0)
