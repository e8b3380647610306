"""A destroyed environment's hand-set state does not pass to the next environment of its name:
destroy drops its desired-state overlays, repair holds and repair pause, and a create of a name
destroyed earlier starts without them (a new environment of a predictable name such as `pr-123`,
maybe another user's, would otherwise be repaired toward an earlier user's overlay, or not
repaired at all under an earlier user's hold or pause)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from tests.lifecycle.conftest import World
from tui.core.model import now_utc
from tui.core.store import Store

WEB = "kubernetes/ConfigMap/note"


async def _hand_set(world: World, env: str) -> None:
    store = await Store.open(world.state_dir)
    try:
        await store.set_overlay(env, WEB, "data", {"note": "planted"}, user="earlier", reason="planted")
        await store.set_hold(env, WEB, now_utc() + timedelta(hours=2), user="earlier", reason="planted")
        await store.set_pause(env, user="earlier", reason="planted")
    finally:
        await store.close()


async def _hand_state(world: World, env: str) -> tuple[int, int, bool]:
    store = await Store.open(world.state_dir)
    try:
        return len(await store.overlays(env)), len(await store.holds(env)), await store.pause(env) is not None
    finally:
        await store.close()


def test_destroy_drops_hand_set_state_and_a_new_env_of_the_name_starts_clean(world: World):
    made = world.envdeck("env", "create", "r1", "--template", "note", "--param", "note=x", "--wait")
    assert made.returncode == 0, made.stderr
    asyncio.run(_hand_set(world, "r1"))
    assert asyncio.run(_hand_state(world, "r1")) == (1, 1, True)

    gone = world.envdeck("env", "destroy", "r1", "--yes", "--wait")
    assert gone.returncode == 0, gone.stderr
    assert asyncio.run(_hand_state(world, "r1")) == (0, 0, False), "destroy keeps no overlay, hold or pause"

    # rows written after the destroy (as a member's, or a process that missed it, could) are not inherited either
    asyncio.run(_hand_set(world, "r1"))
    again = world.envdeck("env", "create", "r1", "--template", "note", "--param", "note=y", "--wait")
    assert again.returncode == 0, again.stderr
    assert asyncio.run(_hand_state(world, "r1")) == (0, 0, False), "the new environment starts from its template"
    desired = world.envdeck("desired", "r1", "--json")
    assert desired.returncode == 0, desired.stderr
    shown = json.loads(desired.stdout)
    assert not shown.get("overlays") and not shown.get("holds"), shown
    status = world.envdeck("status", "--env", "r1", "--json")
    assert status.returncode in (0, 1), status.stderr
    [env] = [e for e in json.loads(status.stdout)["environments"] if e["name"] == "r1"]
    assert env["paused"] is False, env
