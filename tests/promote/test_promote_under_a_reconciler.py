"""`envdeck promote --apply` (another process) while a reconciler leads prod and repairs `auto`:
every promoted object is written once, by the promotion, never a second time by the reconciler
(tui/core/promote/engine.py sets the image under a repair hold and then the overlay; the
reconciler judges a drift that an overlay's change brings only on a list begun after it read
the overlay: Reconciler._judged_later). Every write counted on the Kubernetes API emulator.

The reconciler's watch reports late on purpose (its backend's `coalesce_s`): its latest
observation, from before the promotion's PATCH, is what it re-evaluates when the promotion's
audit rows wake it, the window in which the Timeline once showed `image drifted` and the
reconciler wrote the image again as its own `set-image`."""

from __future__ import annotations

import asyncio
import time

from backends.registry import create_backends
from tests.promote.conftest import Pair
from tests.promote.test_promote_k8s import _patches, _seed
from tui.core.compare.versions import version_of
from tui.core.config import parse_config
from tui.core.model import Origin
from tui.core.session import Session

WEB = "kubernetes/Deployment/web"
API = "kubernetes/Deployment/api"


async def _until(predicate, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.1)


def _settled(session: Session, images: dict[str, str]) -> bool:
    """The reconciler observes prod running `images` (resource id -> image), with no drift."""
    state = session.reconciler.envs["prod"]
    for rid, image in images.items():
        res = state.resource(rid)
        version = version_of(res) if res is not None else None
        if version is None or list(dict(version.images).values()) != [image]:
            return False
    return not any(state.drifts.values())


def _reconciler_writes(pair: Pair) -> list[dict]:
    return [r for r in pair.audit_rows() if r["origin"] == Origin.RECONCILER and r["env"] == "prod"
            and r["action"] in ("set-image", "scale")]


def _set_by_hand(pair: Pair, image: str) -> None:
    """Someone sets web's image on the server (not through the API's HTTP: not in its request log)."""
    deployment = next(d for d in pair.emu.list("deployments", pair.p) if d["metadata"]["name"] == "web")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    containers[0]["image"] = image
    pair.emu.patch("deployments", pair.p, "web", {"spec": {"template": {"spec": {"containers": containers}}}})


async def test_promotion_is_one_write_per_object_and_a_later_drift_one_repair(pair: Pair):
    _seed(pair)
    session = await Session.open(parse_config((pair.tmp / "envdeck.yaml").read_text()), pair.tmp / "state",
                                 origin=Origin.TUI, backends_factory=create_backends)
    try:
        backend = session.reconciler.backends["prod"]["kubernetes"]
        # the watch reports each change late: longer than the early pass's window (the promotion's
        # PATCH, then its overlay and audit rows, read by this session's change feed within 0.5 s)
        backend.coalesce_s = 3.0
        await session.reconciler.start()
        await _until(lambda: _settled(session, {API: "api:1.0", WEB: "web:1.0"}), "prod observed")
        assert session.reconciler.leadership.leads("prod")

        out = await asyncio.to_thread(pair.envdeck_process, "promote", "staging", "prod", "--apply", "--yes")
        assert out.returncode == 0, out.stderr
        await _until(lambda: _settled(session, {API: "api:2.0", WEB: "web:2.0"}), "the promotion observed")
        assert pair.images(pair.p) == {"api": "api:2.0", "web": "web:2.0"}     # server side
        assert _patches(pair) == {"api": 1, "web": 1}, "one write per promoted object"
        assert _reconciler_writes(pair) == []
        holds = await session.store.holds("prod")
        assert holds == [], "the promotion's repair holds ended with its steps"

        # a genuine drift afterwards is repaired, once
        backend.coalesce_s = 0.05
        _set_by_hand(pair, "web:by-hand")
        await _until(lambda: len(_reconciler_writes(pair)) >= 1 and pair.images(pair.p)["web"] == "web:2.0",
                     "the hand-set image repaired")
        await _until(lambda: _settled(session, {API: "api:2.0", WEB: "web:2.0"}), "the repair observed")
        assert _patches(pair) == {"api": 1, "web": 2}
        rows = _reconciler_writes(pair)
        assert [(r["action"], r["target"], r["result"]) for r in rows] == [("set-image", WEB, "succeeded")]
    finally:
        await session.close()
