"""A manual action against the declared desired state, under a running reconciler in `auto`
mode, against the Kubernetes emulator: without a choice the reconciler undoes it (the
fight); kept as a desired-state overlay or with its repair held, it stays, and the server
sees exactly one change. Pausing repairs keeps observing."""

from __future__ import annotations

import asyncio

import pytest

from backends.registry import create_backends
from tests.desired_web import WEB, desired_web_yaml, patches, replicas
from tests.kubernetes.support import NS
from tui.core import overrides
from tui.core.config import parse_config
from tui.core.errors import PolicyDenied
from tui.core.model import Origin
from tui.core.session import Session


def config(kubeconfig, repair="auto"):
    return parse_config(desired_web_yaml(kubeconfig, NS, repair=repair))


async def until(predicate, what, timeout=60.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"never: {what}"
        await asyncio.sleep(0.02)


async def running_session(kubeconfig, tmp_path, repair="auto"):
    session = await Session.open(config(kubeconfig, repair), tmp_path / "state", origin=Origin.TUI, user="bob",
                                 backends_factory=create_backends)
    await session.reconciler.start()
    env = session.reconciler.envs["prod"]
    await until(lambda: env.resource(WEB) is not None and env.backends["kubernetes"].reachable, "a first pass")
    return session, env


@pytest.fixture
async def web_session(emulator, kubeconfig, tmp_path):
    """web at 3 replicas on the server, and a session whose reconciler runs (auto mode) and has
    made its first pass: (session, the environment's state)."""
    emulator.create_deployment(NS, "web", replicas=3)
    session, env = await running_session(kubeconfig, tmp_path)
    try:
        yield session, env
    finally:
        await session.close()


async def settle(session, passes=4):
    """Let the reconciler run a few more passes (each action asks for one)."""
    for _ in range(passes):
        session.reconciler.request_pass("prod", "kubernetes")
        await asyncio.sleep(0.3)


async def test_without_a_choice_auto_repair_undoes_the_action(emulator, web_session):
    session, env = web_session
    web = env.resource(WEB)
    found = overrides.conflicts(session, "prod", web, "scale", {"replicas": "5"})
    assert [(c.field, c.desired, c.value) for c in found] == [("replicas", 3, 5)]
    assert overrides.conflicts(session, "prod", web, "scale", {"replicas": "3"}) == []
    assert overrides.conflicts(session, "prod", web, "restart", {}) == []
    await session.act("prod", WEB, "scale", {"replicas": "5"})
    await until(lambda: replicas(emulator, NS) == 3 and patches(emulator, NS) >= 2, "the repair back to 3")
    audit = await session.store.audit_entries("prod")
    assert [(a["action"], a["origin"]) for a in reversed(audit)][:2] == [("scale", "tui"), ("scale", "reconciler")]


async def test_set_desired_keeps_the_action_and_shows_the_overlay(emulator, web_session):
    session, env = web_session
    found = overrides.conflicts(session, "prod", env.resource(WEB), "scale", {"replicas": "5"})
    await overrides.set_desired(session, "prod", found, reason="load test")
    await session.act("prod", WEB, "scale", {"replicas": "5"})
    await until(lambda: env.resource(WEB).attributes.get("replicas") == 5, "the scale observed")
    await settle(session)
    assert replicas(emulator, NS) == 5
    assert patches(emulator, NS) == 1  # the action only: no repair back to 3
    assert env.all_drifts() == []
    [overlay] = env.to_json()["desired_overlays"]
    assert (overlay["resource"], overlay["field"], overlay["value"], overlay["user"], overlay["reason"]) == \
        (WEB, "replicas", 5, "bob", "load test")
    audit = await session.store.audit_entries("prod")
    assert ("set-desired", WEB, "succeeded") in {(a["action"], a["target"], a["result"]) for a in audit}
    # the overlay is now what is enforced: scaling back to 3 is the conflict
    assert [c.desired for c in overrides.conflicts(session, "prod", env.resource(WEB), "scale",
                                                   {"replicas": "3"})] == [5]

    # drop it: the config's 3 is desired again, and auto mode repairs to it
    assert await overrides.clear_desired(session, "prod", WEB) == 1
    await settle(session, 1)
    await until(lambda: replicas(emulator, NS) == 3, "the repair back to the config's value")
    assert env.to_json()["desired_overlays"] == []


async def test_an_overlay_from_another_process_is_honoured(emulator, web_session):
    """The CLI keeps the overlay in the store; a running reconciler reads it on its next pass."""
    session, env = web_session
    await session.store.set_overlay("prod", WEB, "replicas", 4, user="alice", reason="from the CLI")
    await settle(session, 1)
    await until(lambda: replicas(emulator, NS) == 4, "the overlay's value repaired")
    assert env.to_json()["desired_overlays"][0]["user"] == "alice"


async def test_hold_repair_keeps_the_action_and_keeps_observing(emulator, web_session):
    session, env = web_session
    until_at = await overrides.hold_repair(session, "prod", [WEB], 600, reason="scale prod web to 5")
    await session.act("prod", WEB, "scale", {"replicas": "5"})
    await until(lambda: [d.actual for d in env.all_drifts()] == [5], "the drift observed while held")
    await settle(session)
    assert replicas(emulator, NS) == 5 and patches(emulator, NS) == 1
    assert env.resource(WEB).drift == "Drifted"
    [hold] = env.to_json()["repair_holds"]
    assert hold["resource"] == WEB and hold["until"] is not None
    assert session.reconciler.held("prod", WEB) == until_at
    # an explicit repair (R) is not held
    records = await session.repair("prod", resource=WEB)
    assert [r.result for r in records] == ["succeeded"]
    await until(lambda: replicas(emulator, NS) == 3, "the explicit repair")


async def test_pause_stops_repairs_not_observing(emulator, web_session):
    session, env = web_session
    await session.set_paused("prod", True)
    emulator.patch("deployments", NS, "web", {"spec": {"replicas": 7}})  # someone else scales it
    await until(lambda: [d.actual for d in env.all_drifts()] == [7], "the drift observed while paused")
    assert env.resource(WEB).drift == "Drifted"
    await settle(session)
    assert replicas(emulator, NS) == 7
    await session.set_paused("prod", False)
    await until(lambda: replicas(emulator, NS) == 3 and env.all_drifts() == [], "the repair after resuming")


async def test_keeping_a_value_as_desired_needs_admin_and_a_denial_is_audited(emulator, kubeconfig, tmp_path):
    emulator.create_deployment(NS, "web", replicas=3)
    cfg = parse_config(desired_web_yaml(kubeconfig, NS, access="{operator: [oscar], admin: [bob]}"))
    session = await Session.open(cfg, tmp_path / "state", origin=Origin.CLI, user="oscar",
                                 backends_factory=create_backends)
    try:
        web = await session.resource("prod", WEB)
        found = overrides.conflicts(session, "prod", web, "scale", {"replicas": "5"})
        with pytest.raises(PolicyDenied, match="admin"):
            await overrides.set_desired(session, "prod", found, reason="try")
        assert await session.store.overlays("prod") == []
        [row] = await session.store.audit_entries("prod")
        assert (row["action"], row["result"], row["user"]) == ("set-desired", "denied", "oscar")
        with pytest.raises(PolicyDenied):
            await overrides.clear_desired(session, "prod", WEB)
        # holding the repair is the operator's, like pausing
        await overrides.hold_repair(session, "prod", [WEB], 60, reason="scale")
        assert [h["resource"] for h in await session.store.holds("prod")] == [WEB]
        with pytest.raises(ValueError):
            await overrides.hold_repair(session, "prod", [WEB], 0, reason="never")
    finally:
        await session.close()


async def test_resume_after_pause_repairs_at_once_on_a_watch_backend(emulator, kubeconfig, tmp_path):
    """Resuming repairs (`p`) repairs the drift seen while paused from the latest watch
    observation, without waiting for another watch event: with a 300 s interval (the metrics
    sampling that would bring the next observation) only the wake can repair it in time."""
    emulator.create_deployment(NS, "web", replicas=3)
    cfg = parse_config(desired_web_yaml(kubeconfig, NS, defaults="defaults: {interval: 300s}"))
    session = await Session.open(cfg, tmp_path / "state", origin=Origin.TUI, user="bob",
                                 backends_factory=create_backends)
    try:
        assert session.reconciler.backends["prod"]["kubernetes"].supports_watch
        await session.reconciler.start()
        env = session.reconciler.envs["prod"]
        await until(lambda: env.resource(WEB) is not None and env.backends["kubernetes"].reachable, "a first pass")
        await session.set_paused("prod", True)
        emulator.patch("deployments", NS, "web", {"spec": {"replicas": 7}})
        await until(lambda: [d.actual for d in env.all_drifts()] == [7], "the drift observed while paused")
        assert replicas(emulator, NS) == 7
        before = patches(emulator, NS)
        await session.set_paused("prod", False)
        await until(lambda: replicas(emulator, NS) == 3, "the repair after resuming", timeout=120.0)
        await until(lambda: env.all_drifts() == [], "the repair observed")
        assert patches(emulator, NS) == before + 1  # one repair, not one per wake
        repairs = [a for a in await session.store.audit_entries("prod") if a["origin"] == "reconciler"]
        assert [(a["action"], a["target"], a["result"]) for a in repairs] == [("scale", WEB, "succeeded")]
    finally:
        await session.close()
