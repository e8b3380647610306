"""A frozen API server thawed: the Timeline records the outage's end (one `Reachable` row,
"kubernetes answered again after 4s unreachable"), once per recovery and not on each later
observation; while the reconciler retries a frozen server, the status bar says so (`retrying`),
never a countdown stuck at `retry 0s`."""

from __future__ import annotations

import asyncio

from tests.kubernetes.support import NS, eventually, now, watched_prod
from tui.core.model import now_utc
from tui.widgets.cells import Palette
from tui.widgets.status_bar import backend_summary


async def _rows(session, reason: str) -> list[dict]:
    return [t for t in await session.store.timeline("prod") if t.get("reason") == reason]


async def test_a_thawed_server_gets_one_recovery_row_and_the_retry_reads_retrying(
        emulator, kubeconfig, tmp_path, monkeypatch):
    async with watched_prod(emulator, kubeconfig, tmp_path, monkeypatch) as (session, env, state):

        emulator.freeze()
        await eventually(lambda: now(state.reachable is False), "unreachable")
        await eventually(lambda: _rows(session, "Unreachable"), "the Unreachable row")
        # the loop watches again after its backoff; the frozen server keeps that retry waiting
        seen: list[str] = []
        for _ in range(200):
            seen.append(backend_summary(state, now_utc(), Palette({}), verbose=False).plain)
            if seen[-1].endswith(" retrying"):
                break
            await asyncio.sleep(0.05)
        assert seen[-1].startswith("k8s ✗") and seen[-1].endswith(" retrying"), seen
        assert not [s for s in seen if " 0s" in s.split("old")[-1]], seen  # a countdown, never `retry 0s`

        emulator.thaw()
        await eventually(lambda: now(state.reachable and state.watching), "reachable and watching again")
        rows = await eventually(lambda: _rows(session, "Reachable"), "the recovery row")
        assert len(rows) == 1, rows
        assert rows[0]["resource"] == "kubernetes", rows
        assert rows[0]["message"].startswith("kubernetes answered again after "), rows
        assert rows[0]["message"].endswith("s unreachable"), rows

        # later observations of the live backend add no recovery row
        emulator.create_configmap(NS, "made-after-thaw", {"k": "v"})
        await eventually(lambda: now(env.resource("kubernetes/ConfigMap/made-after-thaw")), "a later observation")
        assert len(await _rows(session, "Reachable")) == 1
        timeline = await session.store.timeline("prod")
        backend_rows = [t["reason"] for t in timeline if t.get("kind") == "backend"]
        assert backend_rows[0] == "Reachable", timeline  # newest first: the outage's last word is its end
