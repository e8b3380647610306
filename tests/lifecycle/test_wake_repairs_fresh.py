"""After wake, the reconciler judges drift on an observation taken after the hold (sleep)
ended, never on the one the watch last brought while the environment slept (0 replicas):
on the demo's Kubernetes emulator, sleep then wake a created preview environment and count,
on the emulator's side, the writes to its Deployment: only wake's own, and no reconciler
repair row (tui/core/reconciler.py `_follow_watch`). The emulator's watches are silenced
after the sleep was seen, so the watch's last observation stays the asleep one, as with a
watch that lags behind wake's restore."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from backends.registry import create_backends, create_provisioner
from backends.sim.demo_world import DemoWorld
from backends.sim.k8s_emulator.rest import RestApi
from tui.cli.demo import write_config
from tui.core.config import load_config
from tui.core.model import Origin
from tui.core.session import Session

GUARD_S = 60.0   # against hanging only; not a timing assertion


@pytest.fixture
def deployment_writes(monkeypatch) -> list[str]:
    """Every PATCH/PUT the emulator answers on a Deployment (counted where it is served)."""
    writes: list[str] = []
    for verb in ("patch", "replace"):
        served = getattr(RestApi, verb)

        def counted(self, rt, ns, name, *args, _served=served, _verb=verb, **kwargs):
            if rt.kind == "Deployment":
                writes.append(f"{_verb} {ns}/{name}")
            return _served(self, rt, ns, name, *args, **kwargs)

        monkeypatch.setattr(RestApi, verb, counted)
    return writes


async def _until(check, what: str) -> None:
    async with asyncio.timeout(GUARD_S):
        while not await check():
            await asyncio.sleep(0.05)


async def test_wake_is_not_followed_by_a_repair_from_the_asleep_observation(tmp_path: Path, deployment_writes):
    with DemoWorld(tmp_path / "servers", log_interval_s=5.0, envs=()) as world:
        config = load_config(write_config(world, tmp_path))
        session = await Session.open(config, tmp_path / "state", origin=Origin.TUI,
                                     backends_factory=create_backends, provisioners=create_provisioner)
        try:
            await session.start_reconciling()
            await session.env_create("pr-5", "preview", {"branch": "x", "replicas": "3"}, wait=True)
            await session.env_sleep("pr-5", wait=True)
            # the watch has shown it asleep: the observation a stale repair would act on
            asleep = "kubernetes/Deployment/web"

            async def seen_asleep() -> bool:
                r = session.state("pr-5").resources.get("kubernetes", {}).get(asleep)
                return r is not None and "asleep" in (r.health_reason or "")

            await _until(seen_asleep, "web seen asleep")
            # from now on the watches bring nothing: the last observation the watch brought is
            # the asleep one until envdeck lists again (a lagging watch, made certain)
            world.emulator.set_failure(silent_watches=True)
            before = len(deployment_writes)
            await session.env_wake("pr-5", wait=True)
            awake_at = session.reconciler.clock()
            assert world.emulator.get("apps/deployments", "pr-5", "web")["spec"]["replicas"] == 3
            woken = len(deployment_writes)
            assert deployment_writes[before:] == ["patch pr-5/web"]   # wake's own restore

            async def observed_awake() -> bool:   # an observation taken after wake, evaluated as ready
                r = session.state("pr-5").resources["kubernetes"].get(asleep)
                at = session.state("pr-5").backends["kubernetes"].observed_at
                return r is not None and "asleep" not in (r.health_reason or "") and at is not None and at > awake_at

            await _until(observed_awake, "web observed awake")
            assert deployment_writes[woken:] == []
            repairs = [r for r in await session.store.audit_entries("pr-5", limit=200)
                       if r["origin"] == Origin.RECONCILER]
            assert repairs == [], [{k: r.get(k) for k in ('action', 'target', 'params', 'result', 'message', 'at')}
                                   for r in repairs]
        finally:
            await session.close()
