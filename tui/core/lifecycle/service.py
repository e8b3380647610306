"""The lifecycle requests of a session (`Session.env_*` delegate here): the access policy,
the audit trail, and the hand-over to the engine.

- create/clone need the user among the template's `creators` ("*" = any user); a config
  environment may be cloned by an operator (or admin) of it;
- destroy/sleep/wake/extend need the admin role in that environment (the template's
  `access`, `{creator}` filled), decided before any backend call;
- `--read-only` refuses every request that changes something; `plan` and the reads need
  nothing but a known template / an environment the user can see.

A refusal is audited `denied` (action `env.create`, `env.destroy`, ...) and raised as
PolicyDenied. Bad input (unknown template, parameter, a name in use, a bad duration) is an
InvalidRequest and stores nothing. A granted request is one audit row: without `wait` it
succeeds when the operation is recorded and handed over (the reconciler of a running TUI,
the agent, or the next `envdeck reconcile` carries it out); with `wait` this process drives
the engine and the row ends `succeeded`, or `failed` with the step and reason
(LifecycleFailed)."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from tui.core.audited import AuditedOperation, audited
from tui.core.config import EnvdeckConfig
from tui.core.errors import InvalidRequest, NotFound, PolicyDenied
from tui.core.lifecycle.effective import environment_config, live
from tui.core.lifecycle.engine import LeaseBusy
from tui.core.lifecycle.lifecycle_store import allowed
from tui.core.lifecycle.plan import Plan, build_plan
from tui.core.lifecycle.records import (
    EnvLifecycleState,
    ManagedEnvironment,
    Operation,
    RenderedEnvironment,
)
from tui.core.lifecycle.render import render, render_clone
from tui.core.lifecycle.template import TemplateConfig
from tui.core.model import ActionSpec, AuditResult, Role, iso
from tui.core.policy import Decision, Policy, hidden_environment_message

if TYPE_CHECKING:
    from tui.core.reconciler import Reconciler
    from tui.core.store import Store

# The lifecycle verbs as the policy sees them (all need admin of the environment).
DESTROY = ActionSpec("env.destroy", "Destroy the environment", role=Role.ADMIN, destructive=True)
SLEEP = ActionSpec("env.sleep", "Put the environment to sleep", role=Role.ADMIN)
WAKE = ActionSpec("env.wake", "Wake the environment", role=Role.ADMIN)
EXTEND = ActionSpec("env.extend", "Extend the environment's lifetime", role=Role.ADMIN)
#: Cloning a config environment (no template, so no `creators`) needs this role in it.
CLONE_CONFIG = ActionSpec("env.clone", "Clone the environment", role=Role.OPERATOR)


@dataclass(frozen=True, slots=True)
class TemplateChoice:
    """A template as the UI lists it: usable by this user, or not with the reason."""

    name: str
    config: TemplateConfig
    decision: Decision


def _resumes(existing: ManagedEnvironment, rendered: RenderedEnvironment, user: str) -> bool:
    """A create of an environment whose create is still pending (or done: it is ready), by its
    owner, from the same template and parameters, resumes it (`envdeck env create NAME ...
    --wait` after a crash); nothing is created twice."""
    pending = existing.operation == Operation.CREATE or (
        existing.operation is None and existing.state == EnvLifecycleState.READY)
    return (pending and existing.owner == user and existing.template == rendered.template
            and existing.parameters == rendered.parameters)


def _param_text(value: Any) -> str:
    """A stored typed parameter value back as the text `render` parses."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _duration_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def ttl_cap_note(max_ttl_s: float | None, ttl_s: float | None) -> str:
    """"ttl capped to max_ttl 2h" when a create's TTL (--ttl or the template's) is longer
    than the template's max_ttl (the create goes on with max_ttl), else "". The CLI prints
    it, its JSON carries it, the audit row's message says it."""
    if ttl_s is not None and max_ttl_s is not None and ttl_s > max_ttl_s:
        return f"ttl capped to max_ttl {_duration_text(max_ttl_s)}"
    return ""


def span_text(seconds: float) -> str:
    """A duration in its two largest units: `45s`, `12m`, `3h12m`, `2d4h`."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    return f"{minutes}m" if minutes else f"{secs}s"


def ttl_kept_note(existing: ManagedEnvironment, ttl_s: float | None, now: datetime) -> str:
    """"NAME exists: --ttl 1h not applied (expires in 1d23h; ...)" when a create (or clone)
    asked again for an environment that exists returns it (`_resumes`) and was given a TTL: the
    expiry it has is kept (a create is idempotent; it never shortens a lifetime). Says how to
    move it later (`env extend`, bounded by max_ttl from its creation); "" without a TTL."""
    if ttl_s is None:
        return ""
    asked, name, expires = _duration_text(ttl_s), existing.name, existing.expires_at
    if expires is None:
        kept = "it never expires"
    else:
        left = (expires - now).total_seconds()
        kept = f"expires in {span_text(left)}" if left >= 0 else f"expired {span_text(-left)} ago"
    wanted = now + timedelta(seconds=ttl_s)
    cap_s = existing.spec.max_ttl_s
    cap = existing.created_at + timedelta(seconds=cap_s) if cap_s is not None else None
    if expires is not None and wanted <= expires:
        how = "not shortened: `envdeck env extend` only moves an expiry later"
    elif cap is not None and expires is not None and expires >= cap:
        how = f"it lives until its max_ttl already, {_duration_text(cap_s or 0)} from its creation"
    elif cap is not None and wanted > cap:
        how = (f"use `envdeck env extend {name} DURATION`: at most until {iso(cap)}, max_ttl "
               f"{_duration_text(cap_s or 0)} from its creation")
    else:
        how = f"use `envdeck env extend {name} {asked}`"
    return f"{name} exists: --ttl {asked} not applied ({kept}; {how})"


class LifecycleService:
    def __init__(self, config: EnvdeckConfig, store: Store, policy: Policy, reconciler: Reconciler, origin: str):
        self.config = config            # the effective config (shared with the policy and the reconciler)
        self.store = store
        self.policy = policy
        self.reconciler = reconciler
        self.origin = origin
        #: {name: "USER@HOST:PID"}: a waited operation another live process was carrying out, joined
        self.joined: dict[str, str] = {}
        #: told (name, holder) when this process joins an operation instead of carrying it out
        self.on_join: Callable[[str, str], None] | None = None
        #: {name: note}: a create/clone that returned the environment it found (`_resumes`) with a
        #: TTL it did not apply (`ttl_kept_note`); the CLI says it, its JSON carries it
        self.kept: dict[str, str] = {}

    @property
    def user(self) -> str:
        return self.policy.user

    @property
    def _lstore(self):
        return self.reconciler.lifecycle.lstore

    def _templates(self) -> dict[str, TemplateConfig]:
        return dict(getattr(self.config, "templates", None) or {})

    # -- policy ---------------------------------------------------------------
    def _creator_decision(self, template: str, tconfig: TemplateConfig) -> Decision:
        if self.policy.read_only:
            return Decision(False, "envdeck runs --read-only")
        creators = list(tconfig.creators)
        if "*" in creators or self.user in creators:
            return Decision(True)
        return Decision(False, f"{self.user} may not create environments from template {template}")

    def _env_policy(self, managed: ManagedEnvironment) -> Policy:
        """A policy over the managed environment's own rendered section (it may have been
        created by another process after this session opened)."""
        config = EnvdeckConfig(environments={managed.name: environment_config(managed)})
        return Policy(config, self.user, read_only=self.policy.read_only)

    def _role(self, managed: ManagedEnvironment) -> Role | None:
        try:
            return self._env_policy(managed).role(managed.name)
        except ValueError:  # a section that no longer validates: nobody's
            return None

    async def _deny(self, env: str, action: str, params: dict[str, Any], reason: str,
                    shown: str | None = None) -> NoReturn:
        await self.store.audit_record(user=self.user, env=env, target=env, action=action, params=params,
                                      origin=self.origin, result=AuditResult.DENIED, message=reason)
        raise PolicyDenied(shown or reason)

    def _declared(self, name: str) -> bool:
        return name in self.reconciler.declared

    async def _visible_managed(self, name: str, action: str, params: dict[str, Any], *,
                               swept_again: bool = False) -> ManagedEnvironment:
        """The live managed environment `name` if the user has a role in it (`swept_again`: a
        destroyed one with orphans too). A name that does not exist and one the user cannot see
        are refused alike (audited, the same words); a config environment is not envdeck's to
        change (InvalidRequest)."""
        managed = None if self._declared(name) else await self._lstore.get(name)
        exists = managed is not None and (live(managed) or (swept_again and bool(managed.orphans)))
        if managed is not None and exists and self._role(managed) is not None:
            return managed
        if managed is None or not exists:
            if self._declared(name) and self.policy.role(name) is not None:
                raise InvalidRequest(f"{name} is declared in the config, not created by envdeck: "
                                     f"envdeck {action.replace('.', ' ')} acts on created environments only")
            reason = "no such environment" if managed is None else "destroyed"
        else:
            reason = f"{self.user} has no role in environment {name}"
        await self._deny(name, action, params, reason, shown=hidden_environment_message(name))

    async def _authorize(self, managed: ManagedEnvironment, spec: ActionSpec, params: dict[str, Any]) -> None:
        decision = self._env_policy(managed).check(managed.name, spec)
        if not decision.allowed:
            await self._deny(managed.name, spec.name, params, decision.reason)

    # -- reads -------------------------------------------------------------------
    def templates(self) -> list[TemplateChoice]:
        return [TemplateChoice(name, tconfig, self._creator_decision(name, tconfig))
                for name, tconfig in sorted(self._templates().items())]

    async def env_list(self, *, include_destroyed: bool = False) -> list[ManagedEnvironment]:
        """The managed environments the user has a role in (by name)."""
        rows = await self._lstore.list(include_destroyed=include_destroyed)
        return [m for m in rows if (include_destroyed or live(m)) and self._visible(m)]

    async def audit_readable(self) -> list[str]:
        """The destroyed created environments whose audit trail the user may still read: those
        they had a role in by the stored access (creator/owner, admins, operators, viewers)."""
        rows = await self._lstore.list(include_destroyed=True)
        return [m.name for m in rows if not live(m) and not self._declared(m.name) and self._visible(m)]

    def sees(self, managed: ManagedEnvironment) -> bool:
        """Whether the user may see `managed` (its stored access; a destroyed one's owner too): a
        TUI holding a record another process changed (a name re-created by someone else) asks."""
        return self._visible(managed)

    def _visible(self, managed: ManagedEnvironment) -> bool:
        if live(managed):
            return self._role(managed) is not None
        return managed.owner == self.user or self._role(managed) is not None

    async def env_get(self, name: str) -> ManagedEnvironment:
        managed = await self._lstore.get(name)
        if managed is None or not self._visible(managed):
            raise NotFound(f"no created environment {name!r} that you can see")
        return managed

    def _template(self, template: str) -> TemplateConfig:
        templates = self._templates()
        if template not in templates:
            known = ", ".join(sorted(templates)) or "none in the config"
            raise InvalidRequest(f"--template {template}: no such template (known: {known})")
        return templates[template]

    async def env_plan(self, name: str, template: str, params: dict[str, str]) -> Plan:
        """The plan of a create; refused as the create would be (a name of the config or of
        a live created environment), so a plan shown is one that create carries out."""
        self._template(template)
        rendered = render(self.config, template, name, self.user, dict(params))
        await self._refuse_taken(name, rendered, resumable=False)
        return build_plan(rendered)

    # -- create and clone --------------------------------------------------------
    async def env_create(self, name: str, template: str, params: dict[str, str], *, ttl_s: float | None = None,
                         wait: bool = False) -> ManagedEnvironment:
        action = "env.create"
        audit = {"template": template, "parameters": dict(params), "ttl_s": ttl_s, "wait": wait}
        tconfig = self._template(template)
        decision = self._creator_decision(template, tconfig)
        if not decision.allowed:
            await self._deny(name, action, audit, decision.reason)
        rendered = render(self.config, template, name, self.user, dict(params))
        return await self._create(rendered, action, audit, ttl_s=ttl_s, wait=wait)

    async def env_clone(self, source: str, name: str, *, ttl_s: float | None = None,
                        wait: bool = False) -> ManagedEnvironment:
        action = "env.clone"
        audit: dict[str, Any] = {"source": source, "ttl_s": ttl_s, "wait": wait}
        managed = await self._lstore.get(source)
        if managed is not None and not self._declared(source):
            if self._role(managed) is None and not (not live(managed) and managed.owner == self.user):
                await self._deny(name, action, audit, f"{self.user} has no role in environment {source}",
                                 shown=hidden_environment_message(source))
            audit["template"] = managed.template
            tconfig = self._template(managed.template)
            decision = self._creator_decision(managed.template, tconfig)
            if not decision.allowed:
                await self._deny(name, action, audit, decision.reason)
            params = {key: _param_text(value) for key, value in managed.parameters.items()}
            rendered = render(self.config, managed.template, name, self.user, params)
        elif self._declared(source) and self.policy.role(source) is not None:
            decision = self.policy.check(source, CLONE_CONFIG)
            if not decision.allowed:
                await self._deny(name, action, audit, decision.reason)
            observed = await self.reconciler.observed_resources(source)
            rendered = render_clone(self.config, source, name, self.user, observed)
        else:
            reason = ("no such environment" if not self._declared(source)
                      else f"{self.user} has no role in environment {source}")
            await self._deny(name, action, audit, reason, shown=hidden_environment_message(source))
        return await self._create(rendered, action, audit, ttl_s=ttl_s, wait=wait)

    def _lifetime(self, rendered: RenderedEnvironment, ttl_s: float | None) -> tuple[float | None, str]:
        """The TTL to give: --ttl or the template's default, capped by max_ttl (and a note)."""
        if ttl_s is not None and not ttl_s > 0:
            raise InvalidRequest("--ttl must be a positive duration (e.g. 30m, 24h)")
        ttl = ttl_s if ttl_s is not None else rendered.ttl_s
        cap = rendered.max_ttl_s
        note = ttl_cap_note(rendered.max_ttl_s, ttl)
        return (cap if note else ttl), note

    async def _create(self, rendered: RenderedEnvironment, action: str, audit: dict[str, Any], *,
                      ttl_s: float | None, wait: bool) -> ManagedEnvironment:
        name = rendered.name
        existing = await self._refuse_taken(name, rendered, resumable=True)
        if existing is not None:
            # the same create asked again (after a crash or an interrupted --wait, or of one that is
            # ready): carry on; its lifetime stays as it is, and a --ttl not applied is said
            note = ttl_kept_note(existing, ttl_s, self.reconciler.clock())
            if note:
                self.kept[name] = note
            async with self._audited(name, action, {**audit, "resume": True}) as op:
                return await self._carry_out(name, op, wait, "resumed the pending create"
                                             + (f"; {note}" if note else ""))
        ttl, note = self._lifetime(rendered, ttl_s)
        now = self.reconciler.clock()
        managed = ManagedEnvironment(
            name=name, template=rendered.template, parameters=dict(rendered.parameters), owner=self.user,
            state=EnvLifecycleState.PLANNED, spec=rendered, created_at=now,
            expires_at=now + timedelta(seconds=ttl) if ttl is not None else None,
            operation=Operation.CREATE, updated_at=now)
        audit = {**audit, "template": rendered.template, "expires_at": iso(managed.expires_at)}
        async with self._audited(name, action, audit, deferred=True) as op:   # written with the insert
            await self._lstore.insert(managed, requested_by=self.user, origin=self.origin, audit=op)
            return await self._carry_out(name, op, wait, note)

    async def _refuse_taken(self, name: str, rendered: RenderedEnvironment, *,
                            resumable: bool) -> ManagedEnvironment | None:
        """InvalidRequest when `name` is a config environment or a live created one; the
        live one when `resumable` and this create resumes it (`_resumes`), else None."""
        if self._declared(name):
            raise InvalidRequest(f"{name} is an environment of the config: choose another name")
        existing = await self._lstore.get(name)
        if existing is None or not live(existing):
            return None
        if resumable and _resumes(existing, rendered, self.user):
            return existing
        raise InvalidRequest(f"an environment named {name} exists already ({existing.state}): "
                             "choose another name or destroy it first")

    # -- destroy, sleep, wake, extend ------------------------------------------------
    async def env_destroy(self, name: str, *, wait: bool = False) -> ManagedEnvironment:
        return await self._request(name, DESTROY, Operation.DESTROY, wait)

    async def env_sleep(self, name: str, *, wait: bool = False) -> ManagedEnvironment:
        return await self._request(name, SLEEP, Operation.SLEEP, wait)

    async def env_wake(self, name: str, *, wait: bool = False) -> ManagedEnvironment:
        return await self._request(name, WAKE, Operation.WAKE, wait)

    async def _request(self, name: str, spec: ActionSpec, operation: Operation, wait: bool) -> ManagedEnvironment:
        params = {"wait": wait}
        # a destroyed environment that left orphans may be destroyed again (swept again)
        managed = await self._visible_managed(name, spec.name, params, swept_again=operation == Operation.DESTROY)
        await self._authorize(managed, spec, params)
        why = allowed(managed.state, operation, managed.operation, bool(managed.orphans))
        if why:
            raise InvalidRequest(f"cannot {operation} {name}: {why}")
        async with self._audited(name, spec.name, params, deferred=True) as op:   # written with the request
            await self._lstore.request(name, operation, self.user, self.origin, audit=op)
            return await self._carry_out(name, op, wait, "")

    async def env_extend(self, name: str, duration_s: float) -> ManagedEnvironment:
        params = {"duration_s": duration_s}
        managed = await self._visible_managed(name, EXTEND.name, params)
        await self._authorize(managed, EXTEND, params)
        if not duration_s > 0:
            raise InvalidRequest("the duration must be positive (e.g. 2h, 1d)")
        if managed.state in (EnvLifecycleState.DESTROYING, EnvLifecycleState.DESTROYED) \
                or managed.operation == Operation.DESTROY:
            raise InvalidRequest(f"{name} is being destroyed: its lifetime cannot be extended")
        now = self.reconciler.clock()
        expires = now + timedelta(seconds=duration_s)
        if managed.expires_at is not None and expires < managed.expires_at:
            raise InvalidRequest(f"{name} expires at {iso(managed.expires_at)} already: extend {_duration_text(duration_s)} "
                                 f"would end it earlier ({iso(expires)}); extend only moves the expiry later")
        cap_s = managed.spec.max_ttl_s
        if cap_s is not None:
            cap = managed.created_at + timedelta(seconds=cap_s)
            if expires > cap:
                raise InvalidRequest(f"{name} can live until {iso(cap)} at most (max_ttl "
                                     f"{_duration_text(cap_s)} from its creation); extend by less")
        await self._lstore.set_expires(name, expires)
        await self.store.audit_record(user=self.user, env=name, target=name, action=EXTEND.name,
                                      params={**params, "expires_at": iso(expires)}, origin=self.origin,
                                      result=AuditResult.SUCCEEDED, message=f"expires at {iso(expires)}")
        return await self.reconciler.lifecycle.changed(name)

    # -- hand-over or drive --------------------------------------------------------
    def _audited(self, name: str, action: str, params: dict[str, Any], *,
                 deferred: bool = False) -> AbstractAsyncContextManager[AuditedOperation]:
        """The request's audit row (tui/core/audited.py): a failed or interrupted wait says so.
        `deferred`: written in the transaction of the request's row (insert, request), before
        anything is carried out; a request refused there gets its row, failed, at the end."""
        return audited(self.store, user=self.user, env=name, target=name, action=action, params=params,
                       origin=self.origin, deferred=deferred)

    async def _carry_out(self, name: str, op: AuditedOperation, wait: bool, note: str) -> ManagedEnvironment:
        """Without `wait`: the operation is recorded; the reconciler carries it out. With it:
        drive the engine here until the operation is done."""
        if not wait:
            managed = await self.reconciler.lifecycle.changed(name)
            op.succeed("handed over to the reconciler" + (f"; {note}" if note else ""))
            self.reconciler.lifecycle.wake()
            return managed
        driver = self.reconciler.lifecycle
        try:
            managed = await driver.drive(name)
        except LeaseBusy as busy:
            # another live process carries it out (two `destroy --wait`, or B's leader): this one
            # joins it and waits, and says so; its audit row is not a second destroy
            holder = re.split(r" is (?:already )?carrying out| \(until ", str(busy).removeprefix(f"{name}: "))[0]
            self.joined[name] = holder
            if self.on_join is not None:
                self.on_join(name, holder)
            managed = await driver.follow(name)
            op.succeed(f"joined: {holder} carried it out; {managed.state}" + (f"; {note}" if note else ""))
            return managed
        op.succeed(f"{managed.state}" + (f"; {note}" if note else ""))
        return managed
