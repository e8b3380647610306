"""A frozen API server thawed: the Timeline records the outage's end (one `Reachable` row,
"kubernetes answered again after 4s unreachable"), once per recovery and not on each later
observation; while the reconciler retries a frozen server, the status bar says so (`retrying`),
never a countdown stuck at `retry 0s`."""

from __future__ import annotations

import asyncio

from tests.kubernetes.support import NS, eventually
from tui.core.model import now_utc
from tui.widgets.cells import Palette
from tui.widgets.status_bar import backend_summary


async def _async(value):
    return value


async def _rows(session, reason: str) -> list[dict]:
    return [t for t in await session.store.timeline("prod") if t.get("reason") == reason]


async def test_a_thawed_server_gets_one_recovery_row_and_the_retry_reads_retrying(
        emulator, kubeconfig, tmp_path, monkeypatch):
    from backends.kubernetes import KubernetesBackend
    from backends.registry import create_backends
    from tests.desired_web import desired_web_yaml
    from tui.core.config import parse_config
    from tui.core.model import Origin
    from tui.core.session import Session

    monkeypatch.setattr(KubernetesBackend, "liveness_interval_s", 0.3)
    monkeypatch.setattr(KubernetesBackend, "silence_floor_s", 2.0)  # unreachable after max(3 x 1 s, 2 s)
    emulator.create_deployment(NS, "web", replicas=3)
    cfg = parse_config(desired_web_yaml(kubeconfig, NS, repair="observe", defaults="defaults: {timeout: 1}"))
    session = await Session.open(cfg, tmp_path / "state", origin=Origin.TUI, user="bob", backends_factory=create_backends)
    try:
        await session.reconciler.start()
        env = session.reconciler.envs["prod"]
        state = env.backends["kubernetes"]
        await eventually(lambda: _async(state.reachable and state.watching), "a first observation, watching")

        emulator.freeze()
        await eventually(lambda: _async(state.reachable is False), "unreachable")
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
        await eventually(lambda: _async(state.reachable and state.watching), "reachable and watching again")
        rows = await eventually(lambda: _rows(session, "Reachable"), "the recovery row")
        assert len(rows) == 1, rows
        assert rows[0]["resource"] == "kubernetes", rows
        assert rows[0]["message"].startswith("kubernetes answered again after "), rows
        assert rows[0]["message"].endswith("s unreachable"), rows

        # later observations of the live backend add no recovery row
        emulator.create_configmap(NS, "made-after-thaw", {"k": "v"})
        await eventually(lambda: _async(env.resource("kubernetes/ConfigMap/made-after-thaw")), "a later observation")
        assert len(await _rows(session, "Reachable")) == 1
        timeline = await session.store.timeline("prod")
        backend_rows = [t["reason"] for t in timeline if t.get("kind") == "backend"]
        assert backend_rows[0] == "Reachable", timeline  # newest first: the outage's last word is its end
    finally:
        await session.close()
