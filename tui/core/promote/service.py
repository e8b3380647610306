"""The promotion requests of a session (`Session.promote_*` delegate here): the policy, the
audit trail, the plan from fresh observations of A and B, and the engine.

- `plan` needs a role (any) in A and in B; nothing is stored or audited;
- `apply`, `rollback`, `resume` need the admin role in B, decided before any backend call
  (a refusal: an audit row `denied`, action `promote`, then PolicyDenied); `--read-only`
  refuses them;
- an environment the user cannot see is refused like an unknown one.

`apply` observes A and B afresh, plans, keeps the promotion (`running`, with B's versions and
overlays before it), one audit row `promote` (target B, the promotion id in its params) spans
the whole run, and the engine carries it out (tui/core/promote/engine.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tui.core.audited import audited
from tui.core.compare.roles import NO_MAPPING, RoleMapping, mapping_between
from tui.core.compare.versions import VersionMatrix, build_matrix
from tui.core.errors import BackendError, InvalidRequest, NotFound
from tui.core.leases import holder_gone
from tui.core.lifecycle.engine import LeaseBusy, default_holder
from tui.core.model import ActionSpec, AuditResult, Resource, Role, now_utc
from tui.core.policy import Policy
from tui.core.promote.engine import OnChange, PromotionEngine, driven_here
from tui.core.promote.plan import plan_promotion
from tui.core.promote.promotion_store import PromotionStore
from tui.core.promote.records import (
    STOPPED_FOR_ROLLBACK,
    PlannedChange,
    Promotion,
    PromotionPlan,
    PromotionState,
    StepState,
)

if TYPE_CHECKING:
    from tui.core.session import Session

log = logging.getLogger(__name__)

__all__ = ["PROMOTE", "PromoteService", "steps_left"]

PROMOTE = ActionSpec("promote", "Promote versions into the environment", role=Role.ADMIN, mutating=True)


class _SessionWorld:
    """B's backends as the promotion engine sees them, through the session."""

    def __init__(self, session: Session):
        self.session = session

    async def fresh(self, env: str, backend: str) -> Mapping[str, Resource]:
        return {r.id: r for r in await self.session.observed_resources(env, [backend], fresh=True)}

    async def set_field(self, env: str, resource: Resource, field: str, value: Any) -> str:
        return await self.session.set_desired_field(env, resource, field, value)

    async def overlays_changed(self, env: str) -> None:
        await self.session.load_overrides(env)


class PromoteService:
    def __init__(self, session: Session, *, timeout_s: float = 300.0, poll: tuple[float, float] = (0.5, 2.0),
                 on_change: OnChange | None = None):
        self.session = session
        self.on_change = on_change
        self.pstore = PromotionStore(session.store)
        self.timeout_s = timeout_s
        self.poll = poll
        #: how long a rollback waits for the engine of the promotion it stopped to let go (it stops
        #: at its next step: a health poll is at most 2 s apart)
        self.fence_wait_s = 15.0

    # -- reads ---------------------------------------------------------------------
    async def _visible(self, env: str) -> None:
        """An environment the user cannot see (or that does not exist) is refused like every verb
        refuses it: exit 3, the same words for both, the attempt audited (`access`, denied)."""
        if env not in self.session.environments():
            from tui.core.session import refuse_unseen_environment  # session imports this module

            await refuse_unseen_environment(self.session.store, self.session.policy, env, self.session.origin)

    def _mapping(self, a: str, b: str) -> RoleMapping:
        compare = getattr(self.session.config, "compare", None)
        mappings = getattr(compare, "mappings", None) or []
        return mapping_between(mappings, a, b) if mappings else NO_MAPPING

    async def _resources(self, env: str) -> list[Resource]:
        return await self.session.observed_resources(env, fresh=True)

    async def versions(self, envs: Sequence[str] | None = None) -> VersionMatrix:
        """The version matrix of `envs` (all the user can see when None), observed afresh."""
        names = list(envs) if envs else self.session.environments()
        for env in names:
            await self._visible(env)
        compare = getattr(self.session.config, "compare", None)
        observed: dict[str, list[Resource]] = {}
        unreachable: dict[str, str] = {}
        for env in names:
            found: list[Resource] = []
            for backend in list(self.session.state(env).backends):
                try:
                    found += await self.session.observed_resources(env, [backend], fresh=True)
                except BackendError as exc:   # one dead endpoint does not hide the others' versions
                    unreachable[f"{env}/{backend}"] = str(exc)
            observed[env] = found
        matrix = build_matrix(observed, getattr(compare, "mappings", None) or [])
        return dataclasses.replace(matrix, unreachable=unreachable)

    async def plan(self, a: str, b: str, components: Sequence[str] = ()) -> PromotionPlan:
        if a == b:
            raise InvalidRequest(f"promote {a} {b}: A and B are the same environment")
        await self._visible(a)
        await self._visible(b)
        return plan_promotion(a, await self._resources(a), b, await self._resources(b),
                              components=components, mapping=self._mapping(a, b))

    async def get(self, pid: str) -> Promotion:
        try:
            promotion = await self.pstore.get(pid)
        except NotFound:
            raise NotFound(f"no promotion {pid}") from None
        if promotion.b not in self.session.environments():
            raise NotFound(f"no promotion {pid}")   # another environment's: as unknown
        return promotion

    async def list(self) -> list[Promotion]:
        return await self.pstore.list(self.session.environments())

    # -- changes -------------------------------------------------------------------
    async def _authorize(self, b: str, params: dict[str, Any]) -> None:
        await self._visible(b)
        await self.session.authorize(b, b, PROMOTE, params)

    async def _previous(self, plan: PromotionPlan) -> dict[str, dict[str, Any]]:
        overlays = {(o["resource"], o["field"]): o["value"] for o in await self.session.store.overlays(plan.b)}
        out: dict[str, dict[str, Any]] = {}
        for c in plan.changes:
            out.setdefault(c.resource, {})[c.field] = {"running": c.before, "overlay": overlays.get((c.resource, c.field))}
        return out

    def _engine(self) -> PromotionEngine:
        return PromotionEngine(self.session.store, self.pstore, _SessionWorld(self.session),
                               timeout_s=self.timeout_s, poll=self.poll, on_change=self.on_change,
                               origin=self.session.origin)

    async def _run(self, plan: PromotionPlan, action_params: dict[str, Any]) -> Promotion:
        promotion = await self.pstore.insert(plan, user=self.session.user, origin=self.session.origin,
                                             previous=await self._previous(plan))
        return await self._drive(promotion, {**action_params, "changes": len(plan.changes)})

    async def _drive(self, promotion: Promotion, params: dict[str, Any]) -> Promotion:
        async with audited(self.session.store, user=self.session.user, env=promotion.b, target=promotion.b,
                           action="promote", params={"promotion": promotion.id, **params},
                           origin=self.session.origin) as op:
            done = await self._engine().drive(promotion.id)
            op.finish(AuditResult.SUCCEEDED if done.state == PromotionState.SUCCEEDED else AuditResult.FAILED,
                      done.summary())
        return done

    async def apply(self, a: str, b: str, components: Sequence[str] = ()) -> Promotion | None:
        """Promote; None when B already runs A's versions (nothing stored)."""
        if a == b:
            raise InvalidRequest(f"promote {a} {b}: A and B are the same environment")
        await self._visible(a)
        await self._authorize(b, {"a": a, "components": list(components)})
        busy = await self.pstore.unfinished(b)
        if busy is not None:
            raise InvalidRequest(f"promotion {busy} into {b} is unfinished: envdeck promote --resume {busy} "
                                 f"carries it on; envdeck promote --rollback {busy} undoes it")
        plan = await self.plan(a, b, components)
        if not plan.changes:
            return None
        return await self._run(plan, {"a": a, "components": list(components)})

    async def rollback(self, pid: str) -> Promotion:
        original = await self.get(pid)
        await self._authorize(original.b, {"rollback": pid})
        if original.rollback_of:
            raise InvalidRequest(f"promotion {pid} is itself a rollback (of {original.rollback_of}); "
                                 f"promote {original.b} again instead")
        if original.state == PromotionState.RUNNING:
            original = await self._stop_for_rollback(original)
        if original.state == PromotionState.ROLLED_BACK:
            raise InvalidRequest(f"promotion {pid} is rolled back already")
        plan = self.rollback_plan(original)
        if not plan.changes:
            raise InvalidRequest(f"promotion {pid} changed nothing in {original.b}: nothing to roll back")
        return await self._run(plan, {"rollback": pid})

    @staticmethod
    def rollback_plan(original: Promotion) -> PromotionPlan:
        """The changes that undo what `original` did to B (its steps tried so far, last wave
        first): what `rollback` runs, and what the CLI shows before it asks."""
        touched = [s for s in original.steps if s.attempts > 0]
        waves = sorted({s.change.wave for s in touched}, reverse=True)
        changes = []
        for s in sorted(touched, key=lambda s: (waves.index(s.change.wave), s.seq)):
            running = (original.previous.get(s.change.resource) or {}).get(s.change.field, {}).get("running")
            changes.append(PlannedChange(waves.index(s.change.wave) + 1, s.change.component, s.change.resource,
                                         s.change.field, s.change.after, running, s.change.resource))
        return PromotionPlan(original.a, original.b, changes, [], rollback_of=original.id)

    async def _stop_for_rollback(self, promotion: Promotion) -> Promotion:
        """An unfinished promotion is stopped at once for its rollback: its row goes `failed`
        ("stopped for rollback by USER@HOST:PID"), a fence every engine looks at before each step
        row, each backend call and each health poll, so whoever carries it on (an interrupted
        CLI's lease, the reconciler of B's leader, a `--resume`) stops at its next step. Then the
        rollback waits (at most `fence_wait_s`) for that engine to let its lease go, so that a
        call it had in flight lands before the rollback reads what reached B."""
        pid = promotion.id
        holder = default_holder()
        if await self.pstore.fence(pid, f"{STOPPED_FOR_ROLLBACK}{holder} (envdeck promote --rollback {pid})"):
            log.info("promotion %s into %s stopped for its rollback by %s", pid, promotion.b, holder)
            await self._wait_released(pid)
        return await self.get(pid)

    async def _wait_released(self, pid: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.fence_wait_s
        while True:
            holder, until = await self.pstore.lease(pid)
            free = (not holder or until is None or until <= now_utc() or holder_gone(holder)
                    or (holder == default_holder() and not driven_here(pid)))
            if free:
                return
            if loop.time() >= deadline:
                log.warning("promotion %s: %s still holds it after %gs; rolling back all the same (it is "
                            "fenced: it asks nothing more of B)", pid, holder, self.fence_wait_s)
                return
            await asyncio.sleep(0.1)

    async def resume(self, pid: str) -> Promotion:
        promotion = await self.get(pid)
        await self._authorize(promotion.b, {"resume": pid})
        if promotion.state != PromotionState.RUNNING:
            return promotion
        return await self._drive(promotion, {"resume": pid})

    async def carry_on(self, pid: str) -> Promotion:
        """Carry on promotion `pid` for the reconciler of the process that leads B (resume.py): the
        promotion was authorized when it was applied (its user in every row); no role asked again,
        as the lifecycle loop carries out what was requested. LeaseBusy: another process has it."""
        promotion = await self.pstore.get(pid)
        if promotion.state != PromotionState.RUNNING:
            return promotion
        self._requester_may(promotion)
        return await self._drive(promotion, {"resume": pid})

    def _requester_may(self, promotion: Promotion) -> None:
        """The user the promotion's row names must be an admin of B by this config: a row
        written into the store by hand (not by `promote --apply`) naming someone without that
        role is never carried on. (A row naming an admin is refused by the database's own
        privileges: docs/deploy/postgres-roles.sql, docs/security.md.)"""
        decision = Policy(self.session.config, promotion.user).check(promotion.b, PROMOTE)
        if not decision.allowed:
            raise InvalidRequest(f"promotion {promotion.id} into {promotion.b} is not carried on: "
                                 f"{promotion.user} may not promote there ({decision.reason})")

    async def resume_unfinished(self) -> list[Promotion]:
        """Carry on every promotion a killed envdeck left `running` into an environment this user
        may promote into (admin there; the others are skipped without a row: nobody asked them);
        one that another live process drives is left to it. `envdeck reconcile --once` runs this
        before its pass, as it carries on the lifecycle's pending operations."""
        done: list[Promotion] = []
        for env in self.session.environments():
            pid = await self.pstore.unfinished(env)
            if pid is None:
                continue
            if not self.session.policy.check(env, PROMOTE).allowed:
                log.info("promotion %s into %s left unfinished: %s may not promote there", pid, env,
                         self.session.user)
                continue
            try:
                promotion = await self.pstore.get(pid)
                self._requester_may(promotion)
                done.append(await self._drive(promotion, {"resume": pid}))
            except LeaseBusy as exc:
                log.info("%s", exc)
            except InvalidRequest as exc:
                log.warning("%s", exc)
        return done


def steps_left(promotion: Promotion) -> list[str]:
    """The components of `promotion` not healthy yet (for messages)."""
    return sorted({s.change.component for s in promotion.steps if s.state != StepState.HEALTHY})

