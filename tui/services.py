"""The services the CLI and the screens use: one place where every action passes
the access policy and the audit trail before any backend call.

    session = await Session.open(config, state_dir, origin=Origin.TUI)
    result = await session.act("staging", "kubernetes/Deployment/web", "restart")
"""

from __future__ import annotations

import fnmatch
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backends.base import Backend
from backends.registry import create_backends
from tui.config import EnvdeckConfig
from tui.errors import InvalidRequest, NotFound, PolicyDenied
from tui.identity import current_user
from tui.model import ActionResult, ActionSpec, AuditResult, LogLine, MetricSeries, Origin, Resource
from tui.policy import FLEET_RUN, OPEN_SHELL, PAUSE, READ_LOGS, Decision, Policy
from tui.reconciler import BackendFactory, Reconciler
from tui.store import Store


@dataclass(frozen=True, slots=True)
class ActionChoice:
    """An action as the UI lists it: allowed, or disabled with the reason."""

    spec: ActionSpec
    decision: Decision


class Session:
    def __init__(self, config: EnvdeckConfig, store: Store, policy: Policy, reconciler: Reconciler,
                 origin: str):
        self.config = config
        self.store = store
        self.policy = policy
        self.reconciler = reconciler
        self.origin = origin

    @property
    def user(self) -> str:
        return self.policy.user

    @classmethod
    async def open(cls, config: EnvdeckConfig, state_dir: Path | str, *, origin: str = Origin.CLI,
                   read_only: bool = False, user: str | None = None, envs: list[str] | None = None,
                   backends_factory: BackendFactory = create_backends) -> Session:
        store = await Store.open(state_dir)
        policy = Policy(config, user or current_user(), read_only=read_only)
        visible = policy.visible_environments()
        if envs is not None:
            unknown = [e for e in envs if e not in config.environments]
            if unknown:
                await store.close()
                raise InvalidRequest(f"no environment named {unknown[0]!r} in {config.source or 'the config'}")
            hidden = [e for e in envs if e not in visible]
            if hidden:
                reason = f"{policy.user} has no role in environment {hidden[0]}"
                try:  # an attempt on an environment the user cannot see is audited too
                    await store.audit_record(user=policy.user, env=hidden[0], target=hidden[0], action="access",
                                             params={}, origin=origin, result=AuditResult.DENIED, message=reason)
                finally:
                    await store.close()
                raise PolicyDenied(reason)
            visible = [e for e in visible if e in envs]
        reconciler = Reconciler(config, store, policy, backends_factory=backends_factory, envs=visible)
        return cls(config, store, policy, reconciler, origin)

    async def close(self) -> None:
        await self.reconciler.stop()
        await self.store.close()

    # -- lookups -------------------------------------------------------------
    def environments(self) -> list[str]:
        return list(self.reconciler.envs)

    def backend_for(self, env: str, resource_id: str) -> Backend:
        backends = self.reconciler.backends.get(env)
        if backends is None:
            raise NotFound(f"no environment named {env!r}")
        name = resource_id.split("/", 1)[0]
        if name not in backends:
            raise NotFound(f"{env} has no {name} backend (resource ids look like aws/ec2-instance/i-…)")
        return backends[name]

    async def resource(self, env: str, resource_id: str) -> Resource:
        """The resource as last observed; observes its backend once when not seen yet."""
        backend = self.backend_for(env, resource_id)
        state = self.reconciler.envs[env]
        found = state.resource(resource_id)
        if found is None or state.backends[backend.name].reachable is not True:
            await backend.start()
            await self.reconciler.pass_once(env, backend.name, repair=False)
            found = state.resource(resource_id)
            bstate = state.backends[backend.name]
            if found is None and bstate.reachable is False:
                from tui.errors import BackendUnreachable
                raise BackendUnreachable(f"{backend.name} is unreachable: {bstate.error}", backend=backend.name)
        if found is None:
            raise NotFound(f"no resource {resource_id} in {env}")
        return found

    def actions_for(self, env: str, resource: Resource) -> list[ActionChoice]:
        backend = self.backend_for(env, resource.id)
        return [ActionChoice(spec, self.policy.check(env, spec)) for spec in backend.actions(resource)]

    # -- audited operations --------------------------------------------------
    async def _deny(self, env: str, target: str, action: str, params: dict[str, Any], reason: str) -> None:
        await self.store.audit_record(user=self.user, env=env, target=target, action=action, params=params,
                                      origin=self.origin, result=AuditResult.DENIED, message=reason)
        raise PolicyDenied(reason)

    async def authorize(self, env: str, target: str, spec: ActionSpec, params: dict[str, Any] | None = None) -> None:
        """Policy check for a non-resource operation; a denial is audited and raised."""
        decision = self.policy.check(env, spec)
        if not decision.allowed:
            await self._deny(env, target, spec.name, params or {}, decision.reason)

    async def act(self, env: str, resource_id: str, action: str, params: dict[str, str] | None = None) -> ActionResult:
        params = dict(params or {})
        role = self.policy.role(env)
        if role is None:
            raise PolicyDenied(f"{self.user} has no role in environment {env}")
        resource = await self.resource(env, resource_id)
        backend = self.backend_for(env, resource_id)
        specs = {s.name: s for s in backend.actions(resource)}
        spec = specs.get(action)
        if spec is None:
            known = ", ".join(sorted(specs)) or "none"
            raise InvalidRequest(f"{resource_id} has no action {action!r} (available: {known})")
        decision = self.policy.check(env, spec)
        if not decision.allowed:
            await self._deny(env, resource_id, action, params, decision.reason)
        audit_id = await self.store.audit_begin(user=self.user, env=env, target=resource_id, action=action,
                                                params=params, origin=self.origin)
        try:
            result = await backend.perform(resource, action, params)
        except BaseException as exc:
            message = str(exc) or type(exc).__name__
            status = AuditResult.INTERRUPTED if not isinstance(exc, Exception) else AuditResult.FAILED
            await self.store.audit_finish(audit_id, status, message)
            raise
        await self.store.audit_finish(audit_id, AuditResult.SUCCEEDED if result.ok else AuditResult.FAILED,
                                      result.message)
        # an early pass shows the action's effect; one asked for while a pass runs is kept
        self.reconciler.request_pass(env, backend.name)
        return result

    async def logs(self, env: str, resource_id: str, *, follow: bool = False, tail: int | None = 100,
                   container: str | None = None, previous: bool = False) -> AsyncIterator[LogLine]:
        await self.authorize(env, resource_id, READ_LOGS)
        backend = self.backend_for(env, resource_id)
        stream = backend.logs(resource_id, follow=follow, tail=tail, container=container, previous=previous)
        try:
            async for line in stream:
                yield line
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    async def metrics(self, env: str, resource_id: str | None, window_s: float) -> list[MetricSeries]:
        if resource_id is None:
            backends = list(self.reconciler.backends.get(env, {}).values())
            out: list[MetricSeries] = []
            for backend in backends:
                out += await backend.metrics(None, window_s)
            return out
        return await self.backend_for(env, resource_id).metrics(resource_id, window_s)

    async def shell_command(self, env: str, resource_id: str) -> list[str]:
        """argv for an interactive shell; the opening is authorized and audited."""
        argv, audit_id = await self.open_shell(env, resource_id)
        await self.shell_closed(audit_id, True, argv[0])
        return argv

    async def open_shell(self, env: str, resource_id: str) -> tuple[list[str], int]:
        """argv for an interactive shell, authorized; its audit row stays `pending` until
        `shell_closed` records how the shell ended."""
        resource = await self.resource(env, resource_id)
        backend = self.backend_for(env, resource_id)
        argv = backend.shell_command(resource)
        if not argv:
            raise InvalidRequest(f"{resource_id} has no shell")
        await self.authorize(env, resource_id, OPEN_SHELL)
        audit_id = await self.store.audit_begin(user=self.user, env=env, target=resource_id, action="shell",
                                                params={}, origin=self.origin)
        return argv, audit_id

    async def shell_closed(self, audit_id: int, ok: bool, message: str) -> None:
        await self.store.audit_finish(audit_id, AuditResult.SUCCEEDED if ok else AuditResult.FAILED, message)

    async def set_paused(self, env: str, paused: bool) -> None:
        await self.authorize(env, env, PAUSE, {"paused": paused})
        self.reconciler.pause(env, paused)
        await self.store.audit_record(user=self.user, env=env, target=env, action="pause" if paused else "resume",
                                      params={}, origin=self.origin, result=AuditResult.SUCCEEDED)

    async def repair(self, env: str, resource: str | None = None, field: str | None = None):
        return await self.reconciler.repair(env, user=self.user, origin=self.origin, resource=resource, field=field)

    async def run_fleet(self, env: str, command: str, nodes_glob: str | None = None, on_result=None):
        """Run one shell command on the environment's edge nodes (operator role), one
        audit row per node. Returns the backend's per-node results."""
        backend = self.reconciler.backends.get(env, {}).get("edge")
        if backend is None:
            raise NotFound(f"{env} has no edge nodes")
        names = [n.name for n in backend.config.nodes]
        if nodes_glob:
            names = [n for n in names if fnmatch.fnmatchcase(n, nodes_glob)]
            if not names:
                raise NotFound(f"no node of {env} matches {nodes_glob!r}")
        decision = self.policy.check(env, FLEET_RUN)
        if not decision.allowed:
            for name in names:
                await self.store.audit_record(user=self.user, env=env, target=f"edge/node/{name}", action="run",
                                              params={"command": command}, origin=self.origin,
                                              result=AuditResult.DENIED, message=decision.reason)
            raise PolicyDenied(decision.reason)
        audit_ids = {}
        for name in names:
            audit_ids[name] = await self.store.audit_begin(user=self.user, env=env, target=f"edge/node/{name}",
                                                           action="run", params={"command": command},
                                                           origin=self.origin)
        await backend.start()
        try:
            results = await backend.run_fleet(command, names, on_result=on_result)
        except BaseException as exc:
            for audit_id in audit_ids.values():
                await self.store.audit_finish(audit_id, AuditResult.FAILED, str(exc))
            raise
        for r in results:
            ok = r.outcome == "ok"
            message = r.error or f"exit {r.exit_code} in {r.duration_s:.2f}s"
            await self.store.audit_finish(audit_ids[r.node], AuditResult.SUCCEEDED if ok else AuditResult.FAILED,
                                          message)
        return results
