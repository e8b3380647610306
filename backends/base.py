"""The one interface that the AWS, Kubernetes and edge adapters implement.

Rules every backend follows:
- Async, and never blocks the event loop: blocking SDKs (boto3, the sync
  kubernetes client) run in worker threads with bounded concurrency.
- Never imports Textual or screens/ (import-linter enforces it).
- Raises the typed errors of `tui.core.errors` (re-exported here): BackendUnreachable
  for a dead endpoint, timeout, 5xx or expired credentials; BackendDenied when
  the backend itself refuses; NotFound; InvalidRequest.
- Text from the outside world is stored as it came: the UI sanitises it on
  display. Secrets (Kubernetes Secret values, credentials) never enter a
  Resource, a log line, an error message or the store.
- `observe()` returns the whole inventory of the environment's part: one
  Resource per object, plus a placeholder with health Missing for every desired
  resource that does not exist. Resources that did not change between two
  observations may be the *same objects* (consumers compare by identity to find
  changes cheaply at 20k resources); a changed resource must be a new object.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

from tui.core.config import Defaults
from tui.core.errors import BackendDenied, BackendError, BackendUnreachable, InvalidRequest, NotFound
from tui.core.lifecycle.records import Leftover, StepHealth, StepSpec
from tui.core.model import (
    ActionResult,
    ActionSpec,
    DriftItem,
    Finding,
    LogLine,
    MetricSeries,
    Observation,
    Resource,
)
from tui.core.xray import Link

__all__ = [
    "Backend",
    "Provisioner",
    "BackendDenied",
    "BackendError",
    "BackendUnreachable",
    "InvalidRequest",
    "NotFound",
]


class Backend(ABC):
    """One environment's part in one backend (an AWS account/region + tags, a
    Kubernetes namespace, a set of SSH nodes)."""

    #: "aws" | "kubernetes" | "edge"
    name: ClassVar[str]
    #: True when `watch()` streams changes (Kubernetes); else the reconciler polls `observe()`.
    supports_watch: ClassVar[bool] = False

    def __init__(self, env: str, config: Any, defaults: Defaults):
        self.env = env
        self.config = config
        self.defaults = defaults
        #: Set by the reconciler: call it when a pass now would show news that the next
        #: scheduled one would show late (e.g. a node reconnected in the background).
        #: Thread-unsafe: call it on the event loop.
        self.request_pass: Callable[[], None] | None = None
        #: Set by the reconciler when it starts its loops: passes follow one another, so a
        #: prompt partial answer (a node still connecting, shown Unknown) is worth more than
        #: a complete late one. One-shot commands (`envdeck status`) leave it False.
        self.continuous = False

    # -- lifecycle -----------------------------------------------------------
    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open clients/connections. Must not fail for an unreachable endpoint:
        that is reported by observe()."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Close connections, stop watches and streams."""

    # -- observing -----------------------------------------------------------
    @abstractmethod
    async def observe(self) -> Observation:
        """One full observation: inventory, status/health, findings, faults, new events."""

    async def watch(self) -> AsyncIterator[Observation]:
        """Yield a full Observation whenever the state changed (coalesced, at most
        a few per second). Resumes from the last resourceVersion and relists on
        410 by itself; raises BackendUnreachable when the source is down so that
        the reconciler backs off and calls watch() again. Only when supports_watch."""
        raise NotImplementedError
        yield  # pragma: no cover

    def diff(self, observation: Observation) -> list[DriftItem]:
        """Field-level drift between the desired state in config and `observation`."""
        return []

    async def repair(self, drift: DriftItem) -> ActionResult:
        """Bring one drifted field back to its desired value."""
        raise InvalidRequest(f"{self.name} cannot repair {drift.field}", backend=self.name)

    def repair_action(self, drift: DriftItem) -> str:
        """The name of the action a repair of `drift` performs (for the audit trail)."""
        return "repair"

    def desired_fields(self, resource: Resource) -> dict[str, Any]:
        """The desired-state fields the config declares for `resource`, with their values
        (the same field names as `diff()` uses); {} when the config declares none."""
        return {}

    def action_effect(self, resource: Resource, action: str, params: dict[str, str]) -> dict[str, Any]:
        """The desired-state fields that running `action` with `params` on `resource` sets, with the
        values it sets them to (e.g. scale replicas=5 -> {"replicas": 5}); {} for an action that sets
        none (restart, logs) or when the params cannot be read (perform() reports those)."""
        return {}

    def field_in_sync(self, field: str, desired: Any, actual: Any) -> bool:
        """Whether an observed value counts as the desired one (as `diff()` compares them)."""
        return actual == desired

    def evaluate_compliance(self, resources: list[Resource]) -> list[Finding]:
        """Compliance findings for these resources (observe() attaches them too)."""
        return [f for r in resources for f in r.findings]

    def resource_links(self, resources: list[Resource]) -> list[Link]:
        """How these resources of this backend depend on one another, for the xray
        (tui/core/xray.py; pure, over what observe() put in their attributes); none by default."""
        return []

    # -- reading -------------------------------------------------------------
    def logs(
        self,
        resource_id: str,
        *,
        follow: bool = False,
        tail: int | None = 100,
        container: str | None = None,
        previous: bool = False,
    ) -> AsyncIterator[LogLine]:
        """Lines of a resource's logs, oldest first; with follow, keeps going until the
        consumer stops iterating (aclose() must end the remote stream)."""
        raise InvalidRequest(f"{resource_id} has no logs", backend=self.name)

    async def metrics(self, resource_id: str | None, window_s: float) -> list[MetricSeries]:
        """Metric series for one resource (or all of the environment's when None) over
        the last `window_s` seconds. Absent metrics are an empty list, not an error."""
        return []

    # -- acting --------------------------------------------------------------
    def actions(self, resource: Resource) -> list[ActionSpec]:
        """The actions this resource supports (the policy decides who may run them)."""
        return []

    async def perform(self, resource: Resource, action: str, params: dict[str, str]) -> ActionResult:
        """Run one action. Raise InvalidRequest for an unknown action or bad params."""
        raise InvalidRequest(f"{resource.id} does not support {action!r}", backend=self.name)

    async def content_digests(self, resource: Resource, salt: bytes) -> dict[str, str] | None:
        """Per key, a digest of the values a resource holds but the observation drops
        (a ConfigMap's, a Secret's), keyed with `salt` (one per diff run): `envdeck diff`
        compares them in memory; the values themselves never leave this call. None: the
        resource holds no such content."""
        return None

    def shell_command(self, resource: Resource) -> list[str] | None:
        """argv of an interactive shell for this resource (ssh, kubectl exec, aws ssm),
        run by the TUI in a suspended terminal; None when there is none."""
        return None

    async def check(self) -> str:
        """For `envdeck doctor`: prove reachability and identity; return a one-line
        summary (never a secret) or raise a BackendError."""
        await self.observe()
        return "reachable"

    def doctor_notes(self) -> list[str]:
        """Lines `envdeck doctor` prints after a successful check() (what was skipped and
        why, e.g. kinds RBAC forbids listing); none by default."""
        return []

    def describe(self) -> str:
        """Where this backend points, for status lines (no secrets)."""
        return self.name


@runtime_checkable
class FleetRun(Protocol):
    """The per-node result of a fleet run, as `Session.run_fleet` audits it."""

    node: str
    exit_code: int | None
    duration_s: float
    error: str | None

    @property
    def outcome(self) -> str: ...  # "ok" when the command ran and exited 0


@runtime_checkable
class FleetBackend(Protocol):
    """A backend that runs one shell command on its named nodes (the edge backend):
    what `Session.run_fleet` needs beyond `Backend`."""

    def node_names(self) -> list[str]:
        """The node names in config order."""
        ...

    async def run_fleet(self, command: str, nodes: Sequence[str] | None = None, *,
                        on_result: Callable[[Any], None] | None = None) -> Sequence[FleetRun]: ...


class Provisioner(ABC):
    """Creates and deletes what one backend's lifecycle steps name (docs/lifecycle.md).

    Everything created carries the environment's owner marks (AWS tags `envdeck:env`,
    `envdeck:template`, `envdeck:step`; Kubernetes labels `envdeck.io/…`). Every method is
    idempotent: the engine may call it again after a crash at any point. Values that came
    from a template or its parameters are data: never shell (edge commands `shlex.quote`),
    never markup."""

    #: "aws" | "kubernetes" | "edge"
    name: ClassVar[str]

    def __init__(self, env: str, config: Any, defaults: Defaults, *, template: str, instance: str = ""):
        self.env = env
        self.config = config
        self.defaults = defaults
        self.template = template
        #: the environment instance id (`ManagedEnvironment.instance`), put on everything created
        #: (AWS tag `envdeck:instance`, label `envdeck.io/instance`); "" for environments stored
        #: before it existed (their things carry no instance mark)
        self.instance = instance

    def bind_instance(self, instance: str) -> None:
        """Set the environment instance id; the engine calls it on every provisioner it builds,
        before any other method (the factories keep their signature). find() adopts only what
        carries this id; something with the environment's name and another id is a
        ForeignResource."""
        self.instance = instance

    async def find(self, step: StepSpec) -> str | None:
        """The native id of something that already carries this environment's and this step's
        marks (adopted instead of created twice), or None."""
        return None

    @abstractmethod
    async def create(self, step: StepSpec, token: str) -> str:
        """Create the step's thing with the owner marks; returns its native id. `token` is fixed
        before the first attempt (EC2 `ClientToken`)."""

    @abstractmethod
    async def health(self, step: StepSpec, native_id: str) -> StepHealth:
        """Whether the created thing is Healthy, by a fresh observation (never a cache)."""

    @abstractmethod
    async def delete(self, step: StepSpec, native_id: str) -> None:
        """Ask for deletion; something already gone is not an error."""

    @abstractmethod
    async def gone(self, step: StepSpec, native_id: str) -> bool:
        """Whether the deletion has finished (fresh)."""

    def steps_gone(self, kinds: frozenset[str]) -> None:  # noqa: B027 - optional hook
        """Every step of these kinds is done being deleted (gone, or left as an orphan): nothing of
        this destroy deletes a thing of them any more, so `sweep()` may list them from now on (a
        provisioner may start that listing at once, while the other kinds' steps still run).
        `sweep()` still runs after the last step of the backend, with whatever it must ask then."""

    async def sweep(self) -> list[Leftover]:
        """Everything still carrying `envdeck:env=<env>` (or the label) in this backend, with the
        instance and step marks each carries (`Leftover.instance`, `Leftover.step`): the engine
        deletes only what carries this environment's instance id and names one of its steps."""
        return []

    async def delete_leftover(self, leftover: Leftover) -> None:
        """Delete one thing the sweep found, checking again (fresh) that it carries this environment's
        env and instance marks (a ForeignResource otherwise: left alone); a BackendError's message
        becomes the orphan's reason."""
        raise InvalidRequest(f"envdeck cannot delete {leftover.kind} {leftover.native_id}", backend=self.name)

    async def sleep(self) -> dict[str, dict[str, Any]]:
        """Scale to zero / stop what this backend runs for the environment; returns what it was
        before, by resource id and field (restored by wake)."""
        return {}

    async def wake(self, memory: dict[str, dict[str, Any]]) -> None:  # noqa: B027 - optional hook
        """Restore what `sleep` returned."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Close clients and connections."""
