"""Carries a promotion out: its changes in waves, each wave gated on a FRESH observation of B,
resumable after a crash. The lifecycle engine's rules (tui/core/lifecycle/engine.py), for a
promotion instead of a created environment:

- Lease: the promotion's row (`holder` = "user@host:pid", renewed every lease_s/3); a second
  process gets `LeaseBusy` naming the holder; a holder of this host whose pid is gone (a
  killed envdeck) is replaced at once; a second engine of the same process (same holder) is
  refused too (`driven_here`). Who carries on a promotion left unfinished: the reconciler of
  the process that leads B (tui/core/promote/resume.py), `envdeck promote --resume ID`, or
  `envdeck reconcile --once`.
- Before a wave: the resources of the waves already finished must be Healthy by a fresh
  observation of B (`PromotionWorld.fresh`), else the promotion stops there.
- Per change: the step row goes to `applying` (committed) BEFORE the backend call. Then, in
  this order: the resource's automatic repair is held (`repair_holds`, for every process on
  the store) so that no reconciler undoes the new value before it is desired; the backend
  sets it (`PromotionWorld.set_field`, the backend's repair of that field); the new value is
  kept as B's desired-state overlay (tui/core/overrides.py, table `desired_overlay`); the hold
  ends (a hold the resource had before is put back); the row goes `applied`. The overlay
  written after the image is what lets a reconciler tell a drift of its own making from one
  that only shows a stale observation: it judges a drift that appears because an overlay
  changed only on a list begun after it read that overlay (Reconciler._judged_later), which
  shows the image; so the promotion is one write per object, none by the reconciler. A resumed run reads B afresh first: a change B already runs is not asked again
  (a crash between the call and its row), and a step `applied` or `healthy` is never redone.
- After a wave's changes: fresh observations of B until every resource of the wave is Healthy
  and runs the new value (poll 0.5 s ×1.5 up to 2 s), else at `timeout_s` the step fails with
  the resource's health reason and the promotion stops: `failed`, B partly promoted
  (`Promotion.promoted` names the components that were).
- Audit: one row per change (`promote.step`, target the resource, params with the promotion
  id, wave, field, from, to and the process carrying it out `by`; origin that of the session
  carrying it out: `reconciler` for a resume by the agent) begun before the backend call;
  one row per wave gate (`promote.wave`, target B); all of one promotion carry its id.
- A rollback is a promotion whose plan sets B's previous values back; its overlays restore what
  B's overlay was before the promotion (none: dropped, the config's value is desired again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any, Protocol

from tui.core.audited import audited
from tui.core.compare.versions import version_of
from tui.core.leases import holder_gone
from tui.core.lifecycle.engine import LeaseBusy, default_holder
from tui.core.model import Health, Resource, now_utc, parse_iso
from tui.core.promote.promotion_store import PromotionStore
from tui.core.promote.records import Promotion, PromotionState, PromotionStep, StepState
from tui.core.sanitize import clean
from tui.core.shown_value import plain_value
from tui.core.store import Store

__all__ = ["OnChange", "PromotionEngine", "PromotionWorld", "driven_here"]

log = logging.getLogger(__name__)
OnChange = Callable[[Promotion], Awaitable[None] | None]

#: the promotions an engine of this process is carrying out now: every engine of a process has the
#: same holder ("user@host:pid"), so the lease alone would let a second one in (a TUI's own --apply
#: and its reconciler's resume); the second is refused (LeaseBusy) instead
_DRIVEN_HERE: set[str] = set()


def driven_here(pid: str) -> bool:
    """Whether an engine of this process is carrying out promotion `pid` now."""
    return pid in _DRIVEN_HERE


class PromotionWorld(Protocol):
    """What the engine asks of B's backends (the Session implements it)."""

    async def fresh(self, env: str, backend: str) -> Mapping[str, Resource]:
        """`backend`'s resources in `env` by a new observation (never a cache)."""
        ...

    async def set_field(self, env: str, resource: Resource, field: str, value: Any) -> str:
        """Set one desired field on the backend (its repair of that field); returns its message."""
        ...

    async def overlays_changed(self, env: str) -> None:
        """The overlays of `env` changed: the reconciler reads them again."""
        ...


class _Fenced(Exception):
    """The promotion is no longer `running` (a rollback stopped it: PromotionStore.fence)."""


class _Stop(Exception):
    def __init__(self, step: PromotionStep | None, reason: str):
        super().__init__(reason)
        self.step, self.reason = step, clean(reason, max_len=2000)


def _unhealthy(res: Resource, resources: Mapping[str, Resource]) -> str:
    """Why a workload is not healthy: its health reason, and that of one of its pods that is not
    healthy (a rollout "0 of 2 updated replicas are available" says less than ImagePullBackOff)."""
    reason = f"{res.health}: {res.health_reason}"
    owners = {f"{res.kind}/{res.name}"} if res.kind == "StatefulSet" else set()
    for other in resources.values():
        owner = str((other.attributes or {}).get("owner") or "")
        if other.kind != "Pod" or other.health == Health.HEALTHY:
            continue
        if owner in owners or owner.startswith(f"ReplicaSet/{res.name}-"):
            status = str(other.status or other.health)
            detail = other.health_reason or status
            return f"{reason} (pod {other.name}: {detail if detail.startswith(status) else f'{status}: {detail}'})"
    return reason


def _runs(resource: Resource | None, value: Any) -> bool:
    version = version_of(resource) if resource is not None else None
    return version is not None and dict(version.images) == dict(value or {})


class PromotionEngine:
    def __init__(self, store: Store, pstore: PromotionStore, world: PromotionWorld, *, holder: str | None = None,
                 lease_s: float = 60.0, poll: tuple[float, float] = (0.5, 2.0), timeout_s: float = 300.0,
                 on_change: OnChange | None = None, origin: str | None = None):
        self.store = store
        #: the audit origin of the steps (who carries them out: cli, tui, reconciler); None: the promotion's
        self.origin = origin
        self.pstore = pstore
        self.world = world
        self.holder = holder or default_holder()
        self.lease_s = lease_s
        self.poll = poll
        self.timeout_s = timeout_s
        self.on_change = on_change
        self._lost = False

    async def drive(self, pid: str) -> Promotion:
        """Carry the promotion to its end (succeeded or failed); returns it at rest."""
        if pid in _DRIVEN_HERE:
            raise LeaseBusy(f"promotion {pid}: this process ({self.holder}) is carrying it out already")
        _DRIVEN_HERE.add(pid)
        try:
            await self._take_lease(pid)
            renewer = asyncio.create_task(self._renew(pid))
            try:
                return await self._carry_out(pid)
            finally:
                renewer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewer
                await self.pstore.release_lease(pid, self.holder)
        finally:
            _DRIVEN_HERE.discard(pid)

    # -- lease -------------------------------------------------------------------------
    async def _take_lease(self, pid: str) -> None:
        other = await self.pstore.take_lease(pid, self.holder, self.lease_s)
        if other is None:
            return
        current = other.split(" (until ", 1)[0]
        if holder_gone(current) and await self.pstore.take_lease(pid, self.holder, self.lease_s,
                                                                 replace=current) is None:
            return
        raise LeaseBusy(f"promotion {pid}: {other} is carrying it out; try again later")

    async def _renew(self, pid: str) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            if not await self.pstore.renew_lease(pid, self.holder, self.lease_s):
                log.warning("promotion %s: the lease of %s was taken over", pid, self.holder)
                self._lost = True
                return

    def _check_lease(self, pid: str) -> None:
        if self._lost:
            raise LeaseBusy(f"promotion {pid}: the lease of {self.holder} was taken over by another process")

    async def _check_fence(self, pid: str) -> None:
        """Stop here when the promotion is no longer `running`: `promote --rollback` fenced it
        (its reason says by whom); nothing more is written or asked of B."""
        if await self.pstore.state(pid) != PromotionState.RUNNING:
            log.info("promotion %s: stopped by its rollback; %s carries it no further", pid, self.holder)
            raise _Fenced(f"promotion {pid} stopped here: it is being rolled back")

    # -- the waves ---------------------------------------------------------------------
    async def _changed(self, pid: str) -> Promotion:
        promotion = await self.pstore.get(pid)
        if self.on_change is not None:
            try:
                result = self.on_change(promotion)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:   # a subscriber's error never stops a promotion
                log.exception("on_change of promotion %s failed", pid)
        return promotion

    async def _row(self, step: PromotionStep) -> None:
        self._check_lease(step.promotion)
        await self._check_fence(step.promotion)
        await self.pstore.upsert_step(step)
        await self._changed(step.promotion)

    async def _carry_out(self, pid: str) -> Promotion:
        promotion = await self.pstore.get(pid)
        if promotion.state != PromotionState.RUNNING:
            return promotion
        restore = await self._overlays_to_restore(promotion)
        waves = sorted({s.change.wave for s in promotion.steps})
        try:
            for index, wave in enumerate(waves, start=1):
                steps = [s for s in promotion.steps if s.change.wave == wave]
                if all(s.state == StepState.HEALTHY for s in steps):
                    continue     # finished before a crash: never repeated
                earlier = [s for s in promotion.steps if s.change.wave < wave]
                await self._gate(promotion, index, earlier, steps)
                for step in steps:
                    await self._apply(promotion, step, restore)
                await self._wait_wave(promotion, index, steps)
                await self.pstore.set_waves_done(pid, index)
            return await self._end(promotion, len(waves))
        except _Stop as stop:
            try:
                if stop.step is not None and stop.step.state != StepState.FAILED:
                    stop.step.state, stop.step.message, stop.step.finished_at = (StepState.FAILED, stop.reason,
                                                                                  now_utc())
                    await self._row(stop.step)
                what = f"{stop.step.change.component}: " if stop.step is not None else ""
                await self.pstore.set_state(pid, PromotionState.FAILED, reason=f"{what}{stop.reason}",
                                            only_running=True)
            except _Fenced:
                pass
            return await self._changed(pid)
        except _Fenced:   # its rollback stopped it: the rollback says how it ends
            return await self._changed(pid)

    async def _end(self, promotion: Promotion, waves: int) -> Promotion:
        pid = promotion.id
        if not await self.pstore.set_state(pid, PromotionState.SUCCEEDED, waves_done=waves, only_running=True):
            return await self._changed(pid)   # fenced by a rollback during its last wave
        if promotion.rollback_of:
            await self.pstore.set_state(promotion.rollback_of, PromotionState.ROLLED_BACK,
                                        reason=f"rolled back by {pid}")
        return await self._changed(pid)

    async def _overlays_to_restore(self, promotion: Promotion) -> dict[tuple[str, str], Any] | None:
        """For a rollback: {(resource, field): the overlay value before the promotion (None: none)}."""
        if not promotion.rollback_of:
            return None
        original = await self.pstore.get(promotion.rollback_of)
        return {(rid, field): (before or {}).get("overlay")
                for rid, fields in original.previous.items() for field, before in fields.items()}

    def _audited(self, promotion: Promotion, target: str, action: str, params: dict[str, Any]):
        return audited(self.store, user=promotion.user, env=promotion.b, target=target, action=action,
                       params={"promotion": promotion.id, **params, "by": self.holder},
                       origin=self.origin or promotion.origin or "cli")

    async def _fresh(self, promotion: Promotion) -> Mapping[str, Resource]:
        try:
            return await self.world.fresh(promotion.b, "kubernetes")
        except Exception as exc:   # an unreachable B is not healthy: the wave waits, then stops
            log.info("promotion %s: %s not observed: %s", promotion.id, promotion.b, exc)
            return {}

    async def _gate(self, promotion: Promotion, index: int, earlier: list[PromotionStep],
                    steps: list[PromotionStep]) -> None:
        """Before wave `index`: B's resources of the finished waves Healthy, by a fresh observation."""
        if not earlier:
            return
        resources = await self._fresh(promotion)
        await self._check_fence(promotion.id)
        for step in earlier:
            res = resources.get(step.change.resource)
            if res is None or res.health != Health.HEALTHY:
                why = res.health_reason if res is not None else "not observed"
                reason = f"wave {index} not started: {step.change.resource} of an earlier wave is not healthy ({why})"
                async with self._audited(promotion, promotion.b, "promote.wave", {"wave": index}) as op:
                    op.fail(reason)
                raise _Stop(steps[0], reason)

    async def _apply(self, promotion: Promotion, step: PromotionStep,
                     restore: dict[tuple[str, str], Any] | None) -> None:
        if step.state in (StepState.APPLIED, StepState.HEALTHY):
            return
        change = step.change
        resource = (await self._fresh(promotion)).get(change.resource)
        if resource is None:
            raise _Stop(step, f"{change.resource} is not in {promotion.b} (or {promotion.b} is unreachable)")
        overlay_value = change.after if restore is None else restore.get((change.resource, change.field))
        already = _runs(resource, change.after)
        step.state, step.attempts = StepState.APPLYING, step.attempts + 1
        step.started_at, step.finished_at, step.message = step.started_at or now_utc(), None, ""
        await self._row(step)     # committed BEFORE the backend call (and the fence looked at)
        params = {"wave": change.wave, "component": change.component, "field": change.field,
                  "from": change.before, "to": change.after}
        async with self._audited(promotion, change.resource, "promote.step", params) as op:
            reason = f"promotion {promotion.id} ({promotion.a} → {promotion.b})"
            if already:   # B runs it already (a crash after the call, before its row): not asked again
                await self._keep_desired(promotion, change.resource, change.field, overlay_value, reason)
                op.succeed(f"{change.resource} already runs {plain_value(change.after)}; desired state kept")
            else:
                async with self._repair_held(promotion, change.resource, reason):
                    try:
                        message = await self.world.set_field(promotion.b, resource, change.field, change.after)
                    except Exception as exc:
                        raise _Stop(step, f"{change.resource}: {exc}") from None
                    await self._keep_desired(promotion, change.resource, change.field, overlay_value, reason)
                op.succeed(message)
        step.state = StepState.APPLIED
        await self._row(step)

    async def _keep_desired(self, promotion: Promotion, resource: str, field: str, value: Any, reason: str) -> None:
        """B's overlay of the field: the promoted value (None: dropped, a rollback's "none before")."""
        if value is None:
            await self.store.remove_overlay(promotion.b, resource, field)
        else:
            await self.store.set_overlay(promotion.b, resource, field, value, user=promotion.user, reason=reason)
        await self.world.overlays_changed(promotion.b)

    @contextlib.asynccontextmanager
    async def _repair_held(self, promotion: Promotion, resource: str, reason: str):
        """Hold the automatic repair of `resource` in B while its new value is set and kept as
        desired (between the two, a reconciler sees the new value against the old desired one).
        The hold lasts at most two leases (a crash: the resume keeps the value as desired, or
        the hold runs out); a hold that the resource had before and that lasts longer is left
        as it is, a shorter one is put back afterwards."""
        env, now = promotion.b, now_utc()
        until = (now + timedelta(seconds=2 * self.lease_s)).replace(microsecond=0)
        before = next((h for h in await self.store.holds(env, now) if h["resource"] == resource), None)
        mine = before is None or before["until"] < until
        if mine:
            await self.store.set_hold(env, resource, until, user=promotion.user, reason=reason, at=now)
            await self.world.overlays_changed(env)
        try:
            yield
        finally:
            if mine and before is None:
                await self.store.remove_hold(env, resource)
            elif mine and before is not None:
                await self.store.set_hold(env, resource, before["until"], user=before["user"],
                                          reason=before["reason"], at=parse_iso(before["at"]))

    async def _wait_wave(self, promotion: Promotion, index: int, steps: list[PromotionStep]) -> None:
        deadline = now_utc() + timedelta(seconds=self.timeout_s)
        delay, longest = self.poll
        async with self._audited(promotion, promotion.b, "promote.wave", {"wave": index}) as op:
            while True:
                resources = await self._fresh(promotion)
                self._check_lease(promotion.id)
                await self._check_fence(promotion.id)
                waiting: list[tuple[PromotionStep, str]] = []
                for step in steps:
                    res = resources.get(step.change.resource)
                    if res is None:
                        waiting.append((step, "not observed"))
                    elif not _runs(res, step.change.after):
                        waiting.append((step, "does not run the new version yet"))
                    elif res.health != Health.HEALTHY:
                        waiting.append((step, _unhealthy(res, resources)))
                for step in steps:
                    why = next((w for s, w in waiting if s is step), "")
                    if step.state == StepState.APPLIED and step.message != why:
                        step.message = why
                        await self._row(step)
                if not waiting:
                    break
                if now_utc() >= deadline:
                    step, why = waiting[0]
                    reason = f"not healthy after {self.timeout_s:g}s: {why}"
                    op.fail(f"wave {index}: {step.change.resource} {reason}")
                    raise _Stop(step, reason)
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, longest) if delay else 0
            op.succeed(f"wave {index}: {', '.join(s.change.resource for s in steps)} healthy")
        for step in steps:
            step.state, step.message, step.finished_at = StepState.HEALTHY, "", now_utc()
            await self._row(step)
