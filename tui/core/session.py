"""The services the CLI and the screens use: one place where every action passes
the access policy and the audit trail before any backend call.

    session = await Session.open(config, state_dir, origin=Origin.TUI)
    result = await session.act("staging", "kubernetes/Deployment/web", "restart")
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import inspect
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from backends.base import Backend, FleetBackend
from tui.core import audit_scope, redaction
from tui.core.audited import AuditedOperation, AuditFields, audited, audited_group
from tui.core.config import EdgeConfig, EnvdeckConfig
from tui.core.env_state import Change, EnvState, RepairPause
from tui.core.errors import BackendUnreachable, InvalidRequest, NotFound, PolicyDenied, StateError
from tui.core.identity import current_user
from tui.core.lifecycle.driver import CreateProvisioner
from tui.core.lifecycle.effective import effective_config
from tui.core.lifecycle.lifecycle_store import LifecycleStore
from tui.core.lifecycle.records import ManagedEnvironment
from tui.core.model import (
    ActionResult,
    ActionSpec,
    AuditResult,
    DriftItem,
    LogLine,
    MetricSeries,
    Origin,
    Resource,
)
from tui.core.pause_text import pause_audit_message
from tui.core.policy import (
    FLEET_RUN,
    OPEN_SHELL,
    PAUSE,
    PORT_FORWARD,
    READ,
    READ_LOGS,
    Decision,
    Policy,
    hidden_environment_message,
)
from tui.core.promote.resume import PromotionResumer
from tui.core.reconciler import BackendFactory, Reconciler
from tui.core.store import Store, open_store

if TYPE_CHECKING:  # (compare, lifecycle service, port-forward, promote: imported where they are used)
    from tui.core.audit_filter import AuditFilter
    from tui.core.compare.records import EnvDiff
    from tui.core.lifecycle.plan import Plan
    from tui.core.lifecycle.service import LifecycleService, TemplateChoice
    from tui.core.port_forward import ForwardPort, PortForward
    from tui.core.promote.service import PromoteService

#: The tag naming a resource's CloudWatch log group (backends/aws/resource_builder.py).
LOG_GROUP_TAG = "envdeck:log-group"
#: A Kubernetes object name (DNS-1123 subdomain): no "/", so no path outside the namespace.
_KUBERNETES_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")


def _edge_member(edge: EdgeConfig, kind: str, name: str) -> bool:
    """`edge/node/NODE` or `edge/service/NODE:SERVICE` of the configured nodes."""
    nodes = {node.name: node for node in edge.nodes}
    if kind == "node":
        return name in nodes
    node_name, sep, service = name.partition(":")
    return kind == "service" and bool(sep) and node_name in nodes and service in nodes[node_name].services


def _tagged_log_groups(resources: Iterable[Resource]) -> set[str]:
    """The log groups resources name by their `envdeck:log-group` tag."""
    groups = set()
    for resource in resources:
        tags = resource.attributes.get("tags") or {}
        if isinstance(tags, dict) and tags.get(LOG_GROUP_TAG):
            groups.add(str(tags[LOG_GROUP_TAG]))
    return groups


def _fleet_stop_reason(backend: FleetBackend, node: str) -> str:
    """The audit message of a node a fleet run was stopped on (Ctrl-C) before it answered."""
    connected = getattr(backend, "node_connected", None)
    if connected is not None and not connected(node):
        return "interrupted while connecting to the node: the command was not sent"
    return "interrupted before the command ended: its session on the node was closed"


async def refuse_unseen_environment(store: Store, policy: Policy, env: str, origin: str) -> NoReturn:
    """An environment that does not exist and one where the user has no role are refused
    alike (exit 3, the same words), so that names cannot be probed; the attempt is audited
    (`access`, `denied`; the row says which it was)."""
    reason = ("no such environment" if env not in policy.config.environments
              else f"{policy.user} has no role in environment {env}")
    await store.audit_record(user=policy.user, env=env, target=env, action="access", params={}, origin=origin,
                             result=AuditResult.DENIED, message=reason)
    raise PolicyDenied(hidden_environment_message(env))


async def ensure_visible(config: EnvdeckConfig, state_dir: Path | str, env: str, *, origin: str,
                         user: str | None = None) -> None:
    """Refuse `env` (audited, as `Session.open` does) when the user cannot see it, before
    anything else starts (`envdeck tui --env NAME`)."""
    policy = Policy(config, user or current_user())
    if env in policy.visible_environments():
        return
    store = await open_store(config, state_dir)
    try:
        # a created environment is as visible as a declared one (its template's access)
        policy = Policy(effective_config(config, await LifecycleStore(store).list()), policy.user)
        if env in policy.visible_environments():
            return
        await refuse_unseen_environment(store, policy, env, origin)
    finally:
        await store.close()


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
        # the running reconciler carries on the promotions a killed envdeck left (issue 18)
        reconciler.lifecycle.promotions = PromotionResumer(self)

    @property
    def user(self) -> str:
        return self.policy.user

    @classmethod
    async def open(cls, config: EnvdeckConfig, state_dir: Path | str, *, origin: str = Origin.CLI,
                   read_only: bool = False, user: str | None = None, envs: list[str] | None = None,
                   backends_factory: BackendFactory, provisioners: CreateProvisioner | None = None,
                   on_store_wait: Callable[[str], None] | None = None) -> Session:
        """`on_store_wait`: told (a line for people) when opening the store waits for another
        session's migration lock (PostgreSQL; default a line on stderr, the TUI shows it itself)."""
        redaction.configure(config.audit.redact)  # the operator's patterns, for the store and the log
        store = await open_store(config, state_dir, on_wait=on_store_wait)
        declared = frozenset(config.environments)
        try:  # the created environments beside the config's (tui/core/lifecycle/effective.py)
            managed = await LifecycleStore(store).list()
            config = effective_config(config, managed)
        except BaseException:
            await store.close()
            raise
        policy = Policy(config, user or current_user(), read_only=read_only)
        visible = policy.visible_environments()
        if envs is not None:
            unseen = [e for e in envs if e not in visible]
            if unseen:
                try:
                    await refuse_unseen_environment(store, policy, unseen[0], origin)
                finally:
                    await store.close()
            visible = [e for e in visible if e in envs]
        try:  # making the backends may refuse (a file another user can change: a ConfigError)
            reconciler = Reconciler(config, store, policy, backends_factory=backends_factory, envs=visible,
                                    provisioners=provisioners, declared=declared)
        except BaseException:
            await store.close()
            raise
        reconciler.env_filter = frozenset(envs) if envs is not None else None
        reconciler.lifecycle.remember(managed)
        return cls(config, store, policy, reconciler, origin)

    async def close(self) -> None:
        await self.close_port_forwards()  # listeners stopped, their audit rows finished
        await self.reconciler.stop()
        await self.store.close()

    async def observe(self) -> None:
        """One observe pass of every backend of every environment, concurrently, and
        nothing else: no repair, whatever the repair mode (`envdeck status` reports;
        repairs belong to `reconcile`, the running reconciler and the agent)."""
        for backends in self.reconciler.backends.values():
            for backend in backends.values():
                await backend.start()
        await self.reconciler.load_last_known()
        # an environment another live process leads: its published state, no cloud call (issue 16)
        followed = await self.reconciler.follower.load_followed()
        await asyncio.gather(*(self.reconciler.pass_once(env, bname, repair=False)
                               for env, backends in self.reconciler.backends.items() for bname in backends
                               if env not in followed))

    async def await_leaders_first_pass(self, timeout: float) -> dict[str, list[str]]:
        """After `observe`: until the leaders of followed environments have published a first
        observation of the backends they had not observed yet, at most `timeout` seconds (no
        cloud call); what is still pending, env -> backends (`envdeck status` shows them as
        pending, never as unreachable)."""
        return await self.reconciler.follower.await_first_observations(timeout)

    # -- lookups -------------------------------------------------------------
    def environments(self) -> list[str]:
        return list(self.reconciler.envs)

    # -- state queries and the reconciler's life (the UI and the CLI ask here; they
    #    do not reach through the session into the reconciler) --------------------
    def state(self, env: str) -> EnvState:
        """The live state of a visible environment (KeyError for any other)."""
        return self.reconciler.envs[env]

    def states(self) -> Mapping[str, EnvState]:
        """The live states of the visible environments, by name."""
        return self.reconciler.envs

    def subscribe(self, callback: Callable[[Change], None]) -> Callable[[], None]:
        """Typed changes, on the event loop (the callback must not block); returns the unsubscribe."""
        return self.reconciler.subscribe(callback)

    def set_clock(self, clock: Callable[[], datetime]) -> None:
        self.reconciler.clock = clock

    async def start_reconciling(self) -> None:
        await self.reconciler.start()

    async def reconcile_once(self, *, repair: bool) -> dict[str, list]:
        """One pass of every backend (repairs per each environment's mode when `repair`): the repair records by environment."""
        return await self.reconciler.run_once(repair=repair)

    async def observe_in_turn(self) -> None:
        """One pass of every backend, one after the other, no repairs (deterministic runs)."""
        await self.reconciler.load_last_known()
        for env, backends in self.reconciler.backends.items():
            for name, backend in backends.items():
                await backend.start()
                await self.reconciler.pass_once(env, name, repair=False)

    async def observed_resources(self, env: str, backends: Iterable[str] | None = None, *,
                                 fresh: bool = True) -> list[Resource]:
        """`env`'s resources (of the backends named; all when None), each backend observed once
        first when `fresh` or not reached yet; an unreachable one raises BackendUnreachable."""
        mine = self.reconciler.backends.get(env)
        if mine is None:
            raise PolicyDenied(hidden_environment_message(env))
        names = [n for n in mine if backends is None or n in backends]
        found = await asyncio.gather(*(self._observed(env, mine[n], fresh=fresh) for n in names))
        return [r for inventory in found for r in inventory.values()]

    async def compare(self, a: str, b: str, *, backends: Iterable[str] | None = None, ignore: Iterable[str] = (),
                      fresh: bool = True) -> EnvDiff:
        """Environment `a` against `b` (issue 18, tui/core/compare): matched by role, the
        config's `compare.ignore` plus `ignore` left out; ConfigMap and Secret values compared
        by digests keyed with a salt of this call, never kept."""
        from tui.core.compare.diff import content_pairs, diff, new_salt
        from tui.core.compare.roles import mapping_between

        wanted = None if backends is None else list(backends)
        a_res, b_res = await asyncio.gather(self.observed_resources(a, wanted, fresh=fresh),
                                            self.observed_resources(b, wanted, fresh=fresh))
        mapping = mapping_between(self.config.compare.mappings, a, b)
        salt = new_salt()
        contents: dict[tuple[str, str], dict[str, str]] = {}
        a_side, b_side = content_pairs(a, a_res, b, b_res, mapping)
        gate = asyncio.Semaphore(16)  # ConfigMaps and Secrets read 16 at a time, not one by one

        async def read(env: str, res: Resource) -> None:
            async with gate:
                digests = await self.backend_for(env, res.id).content_digests(res, salt)
            if digests is not None:
                contents[(env, res.id)] = digests

        await asyncio.gather(*(read(env, res) for env, side in ((a, a_side), (b, b_side)) for res in side))
        # pure CPU (~0.3 s at 10k resources a side): a thread, so the TUI's loop keeps drawing
        return await asyncio.to_thread(partial(diff, a, a_res, b, b_res, ignore=[*self.config.compare.ignore, *ignore],
                                               mapping=mapping, backends=wanted, contents=contents))

    async def load_overrides(self, env: str) -> None:
        await self.reconciler.load_overrides(env)

    # -- promotion (issue 18, tui/core/promote/: policy and audit there) ---------------
    def promotions(self, *, timeout_s: float = 300.0, poll: tuple[float, float] = (0.5, 2.0),
                   on_change: Callable[[Any], Any] | None = None) -> PromoteService:
        """Versions, promotion plans, promotions, rollbacks; `timeout_s`: how long a wave may take to turn
        healthy; `on_change(promotion)` after every step row."""
        from tui.core.promote.service import PromoteService

        return PromoteService(self, timeout_s=timeout_s, poll=poll, on_change=on_change)

    async def set_desired_field(self, env: str, resource: Resource, field: str, value: Any) -> str:
        """Set one desired field of `resource` on its backend (the backend's repair of that field: a
        promotion's image); the caller has authorized and audits it. Returns the backend's message."""
        backend = self.backend_for(env, resource.id)
        result = await backend.repair(DriftItem(resource.id, field, value, None))
        self.reconciler.changed_by_us(env, backend.name)
        self.reconciler.request_pass(env, backend.name)
        if not result.ok:
            raise InvalidRequest(result.message or f"{resource.id}: {field} not set")
        return result.message

    def backend_for(self, env: str, resource_id: str) -> Backend:
        backends = self.reconciler.backends.get(env)
        if backends is None:
            raise PolicyDenied(hidden_environment_message(env))
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
            await self._observe(env, backend, raise_unreachable=found is None)
            found = state.resource(resource_id)
        if found is None:
            raise NotFound(f"no resource {resource_id} in {env}")
        return found

    async def _observe(self, env: str, backend: Backend, *, raise_unreachable: bool = True) -> None:
        """One observe pass of one backend (never a repair)."""
        await backend.start()
        await self.reconciler.pass_once(env, backend.name, repair=False)
        bstate = self.reconciler.envs[env].backends[backend.name]
        if raise_unreachable and bstate.reachable is False:
            raise BackendUnreachable(f"{backend.name} is unreachable: {bstate.error}", backend=backend.name)

    async def _observed(self, env: str, backend: Backend, *, fresh: bool = False) -> dict[str, Resource]:
        """The backend's inventory in `env`, observed once when it was not reachable yet
        (or when `fresh`: something looked for may be newer than the last pass)."""
        if fresh or self.reconciler.envs[env].backends[backend.name].reachable is not True:
            await self._observe(env, backend)
        return self.reconciler.envs[env].resources.get(backend.name, {})

    async def _not_member_reason(self, env: str, resource_id: str, *, inventory: bool) -> str | None:
        """Why `resource_id` is not one of `env`'s resources, or None when it is. Decided from
        the config and the environment's own inventory, never from the id's text: an AWS
        log group must be one of `aws.logs` or a group its tagged resources name, a Kubernetes
        name a plain object name (the backend reads only the env's namespace), an edge id a
        configured node or service. `inventory` also requires the id among the observed
        resources (for actions); AWS ids always do."""
        refused = f"{resource_id} is not a resource of environment {env}"
        backend_name, _, rest = resource_id.partition("/")
        backend = self.reconciler.backends.get(env, {}).get(backend_name)
        if backend is None:
            return refused
        env_cfg = self.config.environments[env]
        kind, _, name = rest.partition("/")
        if backend_name == "aws" and kind == "log-group" and env_cfg.aws is not None:
            if name and name in {entry.group for entry in env_cfg.aws.logs}:
                return None  # the config's groups: no backend call
            tagged = await self._seen(env, backend, lambda found: name in _tagged_log_groups(found.values()))
            # a tag is outside data: the group itself must be the environment's (its tags, no
            # other environment's config declaring it)
            owns = getattr(backend, "owns_log_group", None)
            return None if name and tagged and owns is not None and await owns(name) else refused
        if backend_name == "kubernetes" and not _KUBERNETES_NAME.fullmatch(name):
            return refused
        if backend_name == "edge" and env_cfg.edge is not None and not _edge_member(env_cfg.edge, kind, name):
            return refused
        if inventory or backend_name not in ("kubernetes", "edge"):
            return None if await self._seen(env, backend, lambda found: resource_id in found) else refused
        return None

    async def _seen(self, env: str, backend: Backend, present: Callable[[dict[str, Resource]], bool]) -> bool:
        """Whether `present` holds for the environment's inventory: the last observed one,
        else after one new pass (what is looked for may be newer than the last pass)."""
        bstate = self.reconciler.envs[env].backends[backend.name]
        last_pass = bstate.last_pass
        if present(await self._observed(env, backend)):
            return True
        if bstate.last_pass is not last_pass:  # that was a new pass already
            return False
        return present(await self._observed(env, backend, fresh=True))

    async def _require_member(self, env: str, resource_id: str, action: str, params: dict[str, Any], *,
                              inventory: bool) -> Backend:
        """The backend of a resource of `env`; any other id is refused and audited `denied`
        (the user is shown the closest ids of `env` too)."""
        reason = await self._not_member_reason(env, resource_id, inventory=inventory)
        if reason is not None:
            await self._deny(env, resource_id, action, params, reason, hint=self._did_you_mean(env, resource_id))
        return self.backend_for(env, resource_id)

    async def resolve_name(self, env: str, resource_id: str) -> str:
        """`aws/KIND/NAME` with an AWS Name tag in place of the native id: the id of the one
        resource of that kind in `env` with that name; any other id unchanged (decided from
        `env`'s own inventory: a name of another environment resolves to nothing)."""
        backend_name, _, rest = resource_id.partition("/")
        kind, _, name = rest.partition("/")
        backend = self.reconciler.backends.get(env, {}).get(backend_name)
        if backend_name != "aws" or backend is None or not name or kind == "log-group":
            return resource_id
        found = await self._observed(env, backend)
        if resource_id in found:
            return resource_id
        named = [r.id for r in found.values() if r.kind == kind and r.name == name]
        return named[0] if len(named) == 1 else resource_id

    def _did_you_mean(self, env: str, resource_id: str) -> str:
        """A hint for a refused id, ` (did you mean ID (NAME), …?)`: the closest names or ids
        among `env`'s observed resources of the same backend and kind (an environment the user
        can see; nothing is observed for it). Empty when nothing is close."""
        state = self.reconciler.envs.get(env)
        if state is None:
            return ""
        backend_name, _, rest = resource_id.partition("/")
        kind, _, name = rest.partition("/")
        found = list(state.resources.get(backend_name, {}).values())
        same_kind = any(r.kind == kind for r in found)
        if same_kind:
            found = [r for r in found if r.kind == kind]
        else:
            name = rest
        spelled: dict[str, Resource] = {}  # the part after the kind (or after the backend): name and id
        for resource in found:
            spelled[resource.id.split("/", 2)[-1] if same_kind else resource.id.partition("/")[2]] = resource
            spelled.setdefault(resource.name, resource)
        ids: list[str] = []
        import difflib

        for close in difflib.get_close_matches(name, list(spelled), n=6, cutoff=0.6):
            resource = spelled[close]
            plain = resource.name in ("", resource.id.rsplit("/", 1)[-1])
            label = resource.id if plain else f"{resource.id} ({resource.name})"
            if label not in ids:
                ids.append(label)
        return f" (did you mean {', '.join(ids[:3])}?)" if ids else ""

    def actions_for(self, env: str, resource: Resource) -> list[ActionChoice]:
        backend = self.backend_for(env, resource.id)
        return [ActionChoice(spec, self.policy.check(env, spec)) for spec in backend.actions(resource)]

    def has_logs(self, env: str, resource: Resource) -> bool:
        """Whether `l` has anything to follow on this resource: a backend that knows which of
        its resources have logs says so (`has_logs(resource)`, e.g. AWS: a mapped or tagged log
        group); others are asked when the stream starts."""
        backend = self.backend_for(env, resource.id)
        probe = getattr(backend, "has_logs", None)
        return True if probe is None else bool(probe(resource))

    def has_shell(self, env: str, resource: Resource) -> bool:
        """Whether `s` opens a shell on this resource (a `shell` action, or a shell command)."""
        backend = self.backend_for(env, resource.id)
        return any(s.name == "shell" for s in backend.actions(resource)) or backend.shell_command(resource) is not None

    # -- audited operations --------------------------------------------------
    def _audited(self, env: str, target: str, action: str,
                 params: dict[str, Any] | None) -> contextlib.AbstractAsyncContextManager[AuditedOperation]:
        """One audited operation of this session's user (tui/core/audited.py)."""
        return audited(self.store, user=self.user, env=env, target=target, action=action, params=params,
                       origin=self.origin)

    async def _deny(self, env: str, target: str, action: str, params: dict[str, Any], reason: str,
                    hint: str = "") -> NoReturn:
        await self.store.audit_record(user=self.user, env=env, target=target, action=action, params=params,
                                      origin=self.origin, result=AuditResult.DENIED, message=reason)
        raise PolicyDenied(reason + hint)

    async def authorize(self, env: str, target: str, spec: ActionSpec, params: dict[str, Any] | None = None) -> None:
        """Policy check for a non-resource operation; a denial is audited and raised."""
        decision = self.policy.check(env, spec)
        if not decision.allowed:
            await self._deny(env, target, spec.name, params or {}, decision.reason)

    async def prepare_action(self, env: str, resource_id: str, action: str,
                             params: dict[str, str] | None = None) -> tuple[Resource, ActionSpec]:
        """Everything `act` checks before it performs, in this order: the role and
        `--read-only` from the action's name alone (no backend call, so a denial never
        waits for an unreachable endpoint), the resource's membership in `env`, the
        action's spec and its parameters, then the policy with that spec. Denials are
        audited `denied` (before the parameters are validated, with their names only); an
        unknown action or parameter is an InvalidRequest and stores nothing."""
        params = dict(params or {})
        # refused before the action's parameters are known to be its own: their names only
        unchecked = {key: "***" for key in params}
        backend_name = resource_id.partition("/")[0]
        decision = self.policy.precheck_action(env, backend_name, action)
        if not decision.allowed:
            await self._deny(env, resource_id, action, unchecked, decision.reason)
        resource_id = await self.resolve_name(env, resource_id)  # a Name tag in place of the id
        backend = await self._require_member(env, resource_id, action, unchecked, inventory=True)
        resource = await self.resource(env, resource_id)
        specs = {s.name: s for s in backend.actions(resource)}
        spec = specs.get(action)
        if spec is None:
            known = ", ".join(sorted(specs)) or "none"
            raise InvalidRequest(f"{resource_id} has no action {action!r} (available: {known})")
        unknown = sorted(set(params) - set(spec.params))
        if unknown:
            takes = ", ".join(spec.params) if spec.params else "no parameters"
            raise InvalidRequest(f"--param {unknown[0]}: {action} on {resource_id} does not take "
                                 f"{unknown[0]!r} (it takes {takes})")
        missing = [name for name in spec.params
                   if name not in spec.optional and not str(params.get(name) or "").strip()]
        if missing:
            raise InvalidRequest(f"{action} on {resource_id} needs --param {missing[0]}=VALUE")
        decision = self.policy.check(env, spec)
        if not decision.allowed:
            await self._deny(env, resource_id, action, params, decision.reason)
        return resource, spec

    async def act(self, env: str, resource_id: str, action: str, params: dict[str, str] | None = None) -> ActionResult:
        params = dict(params or {})
        resource, _spec = await self.prepare_action(env, resource_id, action, params)
        resource_id = resource.id  # a Name given in place of the id is resolved
        backend = self.backend_for(env, resource_id)
        async with self._audited(env, resource_id, action, params) as op:
            result = await backend.perform(resource, action, params)
            op.finish(AuditResult.SUCCEEDED if result.ok else AuditResult.FAILED, result.message)
        # an early pass shows the action's effect; one asked for while a pass runs is kept (a
        # watched backend's next report shows it: its last one is not re-evaluated meanwhile)
        self.reconciler.changed_by_us(env, backend.name)
        self.reconciler.request_pass(env, backend.name)
        # the other envdecks on the store now: their timelines, and the leader's early pass (issue 16)
        await self.reconciler.follower.feed.notify(env)
        return result

    async def logs(self, env: str, resource_id: str, *, follow: bool = False, tail: int | None = 100,
                   container: str | None = None, previous: bool = False) -> AsyncIterator[LogLine]:
        """A resource's log lines. The role is checked first (no backend call), then the
        id's membership in `env`; each stream opened is one `read` audit row, finished
        when the stream ends (`succeeded` also when the reader stops or closes it: "closed")."""
        await self.authorize(env, resource_id, READ_LOGS)
        resource_id = await self.resolve_name(env, resource_id)  # a Name tag in place of the id
        backend = await self._require_member(env, resource_id, READ_LOGS.name, {}, inventory=False)
        log_source = getattr(backend, "log_source", None)
        if log_source is not None and not resource_id.startswith(f"{backend.name}/log-group/"):
            # the group a resource's tag or task definition names must be the environment's own:
            # refused (denied) before any row is begun; other errors show when the stream opens
            try:
                await log_source(resource_id, container)
            except PolicyDenied as exc:
                await self._deny(env, resource_id, READ_LOGS.name, {}, str(exc))
            except Exception:  # noqa: BLE001 - reported by the stream itself, in its read row
                pass
        params: dict[str, Any] = {"follow": follow, "tail": tail}
        if container:
            params["container"] = container
        if previous:
            params["previous"] = True
        # the row stays open while the stream runs: it ends when the reader stops or the stream does
        async with self._audited(env, resource_id, READ, params) as op:
            stream = backend.logs(resource_id, follow=follow, tail=tail, container=container, previous=previous)
            try:
                async for line in stream:
                    yield line
            except (GeneratorExit, asyncio.CancelledError, KeyboardInterrupt):
                # the reader stopped or closed the stream (Esc, quitting, ctrl+c): the read succeeded
                op.succeed("closed")
                raise
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
        await self.authorize(env, resource_id, OPEN_SHELL)  # the role first: no backend call before it
        resource_id = await self.resolve_name(env, resource_id)  # a Name tag in place of the id
        backend = await self._require_member(env, resource_id, OPEN_SHELL.name, {}, inventory=True)
        resource = await self.resource(env, resource_id)
        argv = backend.shell_command(resource)
        if not argv:
            raise InvalidRequest(f"{resource_id} has no shell")
        # not one `audited` block: the shell runs in the UI's suspended terminal between this
        # call and `shell_closed`, which finishes the row
        op = await AuditedOperation.begin(self.store, user=self.user, env=env, target=resource_id, action="shell",
                                          params={}, origin=self.origin)
        return argv, op.id

    async def shell_closed(self, audit_id: int, ok: bool, message: str) -> None:
        await AuditedOperation(self.store, audit_id).finish_row(
            AuditResult.SUCCEEDED if ok else AuditResult.FAILED, message)

    async def set_paused(self, env: str, paused: bool, *, reason: str = "") -> RepairPause | None:
        """Pause (or resume) the automatic repairs of `env` for every process on the store: the
        pause is stored (who, when, why; no expiry) before its audit row, so whoever sees the row
        (the other envdecks' change feed) reads the pause; every reconciler reads it again before
        repairing. A store that refuses the write (a team member's role) is a `failed` row and a
        StateError; nothing is paused then.

        Returns the pause the store held before: on pause, a pause found means nothing was done
        (someone's pause is never overwritten: its user, time and reason stay); on resume, the
        pause it ended (None: there was nothing to resume). The audit row's message says which."""
        params = {"reason": reason} if paused and reason else {}
        await self.authorize(env, env, PAUSE, {"paused": paused, **params})
        action = "pause" if paused else "resume"
        try:
            if paused:
                before = await self.store.set_pause(env, user=self.user, reason=reason, at=self.reconciler.clock())
            else:
                before = await self.store.remove_pause(env)
        except StateError as exc:
            with contextlib.suppress(StateError):
                await self.store.audit_record(user=self.user, env=env, target=env, action=action, params=params,
                                              origin=self.origin, result=AuditResult.FAILED, message=str(exc))
            raise
        await self.reconciler.load_pause(env)
        if self.reconciler.envs[env].paused != paused:  # read back as written, unless the store cannot be read
            self.reconciler.pause(env, paused, before if paused else None)
        await self.store.audit_record(user=self.user, env=env, target=env, action=action, params=params,
                                      origin=self.origin, result=AuditResult.SUCCEEDED,
                                      message=pause_audit_message(paused, reason, before))
        if (before is None) == paused:  # something changed: the other envdecks on the store read it now
            await self.reconciler.follower.feed.notify(env)
        return before

    async def repairs_pause(self, env: str) -> RepairPause | None:
        """Who paused the automatic repairs of `env` (read from the store now), or None."""
        await self.reconciler.load_pause(env)
        state = self.state(env)
        return state.pause if state.paused else None

    async def repair(self, env: str, resource: str | None = None, field: str | None = None):
        return await self.reconciler.repair(env, user=self.user, origin=self.origin, resource=resource, field=field)

    async def release_leadership(self) -> None:
        """Give up this process's environment leases now (`envdeck agent` on SIGTERM), so that another
        reconciler takes over at once rather than when they expire."""
        await self.reconciler.leadership.stop()

    def repairs_held(self, env: str) -> str | None:
        """Why envdeck does not repair `env` now (a created environment that is not ready), or None."""
        return self.reconciler.lifecycle.held_reason(env)

    def fleet_stop_reason(self, env: str, node: str) -> str:
        """What a node of a fleet run stopped by Ctrl-C before it answered did (its audit message)."""
        return _fleet_stop_reason(self.reconciler.backends.get(env, {}).get("edge"), node)

    async def run_fleet(self, env: str, command: str, nodes_glob: str | Sequence[str] | None = None, on_result=None,
                        confirm: Callable[[list[str]], bool] | None = None):
        """Run one shell command on the environment's edge nodes (operator role), one
        audit row per node. Returns the backend's per-node results. `confirm(nodes)`, asked
        after the policy allows it and before anything runs: False runs nothing (returns [])."""
        backend = self.reconciler.backends.get(env, {}).get("edge")
        if not isinstance(backend, FleetBackend):
            raise NotFound(f"{env} has no edge nodes")
        names = backend.node_names()
        if nodes_glob:
            globs = [nodes_glob] if isinstance(nodes_glob, str) else list(nodes_glob)
            names = [n for n in names if any(fnmatch.fnmatchcase(n, g) for g in globs)]
            if not names:
                raise NotFound(f"no node of {env} matches {' or '.join(repr(g) for g in globs)}")
        decision = self.policy.check(env, FLEET_RUN)
        if not decision.allowed:
            for name in names:
                await self.store.audit_record(user=self.user, env=env, target=f"edge/node/{name}", action="run",
                                              params={"command": command}, origin=self.origin,
                                              result=AuditResult.DENIED, message=decision.reason)
            raise PolicyDenied(decision.reason)
        if confirm is not None and not confirm(names):
            return []
        rows = [AuditFields(self.user, env, f"edge/node/{name}", "run", {"command": command}, self.origin)
                for name in names]
        async with audited_group(self.store, rows) as group:  # one row per node, all begun (one commit) before the run
            ops = dict(zip(names, group, strict=True))

            def record(r) -> None:
                ops[r.node].finish(AuditResult.SUCCEEDED if r.outcome == "ok" else AuditResult.FAILED,
                                   r.error or f"exit {r.exit_code} in {r.duration_s:.2f}s")

            async def finished(r) -> None:
                """A node's row says its own result as soon as it has one: a run stopped
                later (Ctrl-C while another node still connects) does not overwrite it."""
                record(r)
                if on_result is not None:
                    shown = on_result(r)
                    if inspect.isawaitable(shown):
                        await shown

            try:
                await backend.start()
                results = await backend.run_fleet(command, names, on_result=finished)  # raising: every row says so
            except BaseException as exc:
                if not isinstance(exc, Exception):  # cancelled (Ctrl-C): each node still running says where
                    for name, op in ops.items():
                        if op.result is None:
                            op.finish(AuditResult.INTERRUPTED, _fleet_stop_reason(backend, name))
                raise
            for r in results:
                record(r)
            for op in ops.values():
                if op.result is None:
                    op.fail("the fleet run reported nothing for this node")
        return results

    # -- environment lifecycle (issue 15): LifecycleService checks the policy, audits and
    #    hands the operation to the reconciler (or, with `wait`, drives the engine here) ---
    @cached_property
    def lifecycle(self) -> LifecycleService:
        from tui.core.lifecycle.service import LifecycleService

        return LifecycleService(self.config, self.store, self.policy, self.reconciler, self.origin)

    def templates(self) -> list[TemplateChoice]:
        """The config's templates, each with whether this user may create from it."""
        return self.lifecycle.templates()

    @cached_property
    def _audit_scopes(self) -> audit_scope.ReaderScopes:
        return audit_scope.ReaderScopes(self.store, self.user)

    async def audit_entries(self, env: str | None = None, limit: int = 100,
                            message_max: int | None = None, params_max: int | None = None,
                            before_id: int | None = None,
                            where: AuditFilter | None = None) -> list[dict[str, Any]]:
        """The audit rows the user may read (newest first): of the environments they see, and
        of the destroyed created ones they had a role in (the trail of a destroy stays
        readable). A created environment's rows are its current instance's, from its creation
        on; of the earlier ones of the name, only those of the instances the user created
        (tui/core/audit_scope.py). `env` they may not read is refused like an unknown one
        (audited). `message_max`/`params_max`: the characters of a message/params read (the
        store's default: `--json`'s); `before_id`: only rows older than it (a read in batches);
        `where`: only the rows of a user/action/target/time (`audit --user …`), in the store's query."""
        # a created environment's rows: its current instance's, from its creation on, and those of
        # the earlier instances of the name this user created (tui/core/audit_scope.py)
        declared = self.reconciler.declared
        own = await self._audit_scopes.own(declared)
        readable = (set(self.policy.visible_environments()) | set(await self.lifecycle.audit_readable())
                    | set(own))
        if env is not None and env not in readable:
            await refuse_unseen_environment(self.store, self.policy, env, self.origin)
        cut = {} if message_max is None else {"message_max": message_max}
        if params_max is not None:
            cut["params_max"] = params_max
        created = [m for m in await self.lifecycle.env_list(include_destroyed=True)
                   if m.name in readable and (env is None or m.name == env) and m.name not in declared]
        starts = await self._audit_scopes.starts(created)

        async def read(n: int, before: int | None) -> list[dict[str, Any]]:
            return await self.store.audit_entries(env=env, limit=n, envs=sorted(readable), before_id=before,
                                                 where=where, **cut)

        return await audit_scope.read_scoped(read, limit, before_id, starts, own)

    async def env_list(self, *, include_destroyed: bool = False) -> list[ManagedEnvironment]:
        return await self.lifecycle.env_list(include_destroyed=include_destroyed)

    async def env_get(self, name: str) -> ManagedEnvironment:
        return await self.lifecycle.env_get(name)

    async def env_plan(self, name: str, template: str, params: dict[str, str]) -> Plan:
        return await self.lifecycle.env_plan(name, template, params)

    async def env_create(self, name: str, template: str, params: dict[str, str], *, ttl_s: float | None = None,
                         wait: bool = False) -> ManagedEnvironment:
        return await self.lifecycle.env_create(name, template, params, ttl_s=ttl_s, wait=wait)

    async def env_clone(self, source: str, name: str, *, ttl_s: float | None = None,
                        wait: bool = False) -> ManagedEnvironment:
        return await self.lifecycle.env_clone(source, name, ttl_s=ttl_s, wait=wait)

    async def env_destroy(self, name: str, *, wait: bool = False) -> ManagedEnvironment:
        return await self.lifecycle.env_destroy(name, wait=wait)

    async def env_sleep(self, name: str, *, wait: bool = False) -> ManagedEnvironment:
        return await self.lifecycle.env_sleep(name, wait=wait)

    async def env_wake(self, name: str, *, wait: bool = False) -> ManagedEnvironment:
        return await self.lifecycle.env_wake(name, wait=wait)

    async def env_extend(self, name: str, duration_s: float) -> ManagedEnvironment:
        return await self.lifecycle.env_extend(name, duration_s)

    # -- port-forward: a local listener on 127.0.0.1 to a pod's or service's port (operator,
    #    as a shell); one audit row from the listener's opening to its closing -------------
    @cached_property
    def _port_forwards(self) -> dict[int, PortForward]:
        return {}

    async def forward_ports(self, env: str, resource_id: str) -> list[ForwardPort]:
        """The ports `resource_id` may be forwarded to (a pod's container ports, a service's
        ports); the role is checked first, as for the forward itself (a denial is audited)."""
        await self.authorize(env, resource_id, PORT_FORWARD)
        resource_id = await self.resolve_name(env, resource_id)
        backend = await self._require_member(env, resource_id, PORT_FORWARD.name, {}, inventory=True)
        ports_of = getattr(backend, "forward_ports", None)
        if ports_of is None:
            raise InvalidRequest(f"{resource_id} cannot be port-forwarded")
        return list(await ports_of(await self.resource(env, resource_id)))

    async def port_forward(self, env: str, resource_id: str, remote_port: int,
                           local_port: int | None = None) -> PortForward:
        """Listen on 127.0.0.1 (`local_port`, or a free one) and forward each connection to
        `remote_port` of the pod or service. The role is checked before anything else (a
        viewer is refused and audited `denied`, no backend call); the audit row begins once
        the listener is open and is finished by `PortForward.close()` (or `Session.close`)."""
        from tui.core.port_forward import PORT_FORWARD_ACTION, PortForward

        params: dict[str, Any] = {"remote_port": remote_port, "local_port": local_port}
        await self.authorize(env, resource_id, PORT_FORWARD, params)
        resource_id = await self.resolve_name(env, resource_id)
        backend = await self._require_member(env, resource_id, PORT_FORWARD.name, params, inventory=True)
        resource = await self.resource(env, resource_id)
        opener = getattr(backend, "port_forward", None)
        if opener is None:
            raise InvalidRequest(f"{resource_id} cannot be port-forwarded (Kubernetes pods and services can)")
        try:
            forwarder = await opener(resource, remote_port, local_port)
        except Exception as exc:
            await self.store.audit_record(user=self.user, env=env, target=resource_id, action=PORT_FORWARD_ACTION,
                                          params=params, origin=self.origin, result=AuditResult.FAILED,
                                          message=str(exc) or type(exc).__name__)
            raise
        params["local_port"] = forwarder.port
        # like the shell, not one `audited` block: the row stays open while the forward does, and
        # `PortForward.close()` (or `Session.close`) finishes it
        try:
            op = await AuditedOperation.begin(self.store, user=self.user, env=env, target=resource_id,
                                              action=PORT_FORWARD_ACTION, params=params, origin=self.origin)
        except BaseException:
            await forwarder.close()  # never a listener without its audit row
            raise

        async def closed(handle: PortForward) -> None:
            self._port_forwards.pop(handle.id, None)
            await op.finish_row(AuditResult.SUCCEEDED, f"closed; {handle.stats.summary()}")

        handle = PortForward(op.id, env, resource_id, remote_port, forwarder, closed)
        self._port_forwards[handle.id] = handle
        return handle

    def port_forwards(self) -> list[PortForward]:
        """The open port-forwards, oldest first."""
        return sorted(self._port_forwards.values(), key=lambda f: f.id)

    async def close_port_forwards(self) -> None:
        for handle in self.port_forwards():
            await handle.close()
