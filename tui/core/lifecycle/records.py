"""The records the lifecycle parts share: the template renderer produces them, the
engine and the store keep them, the provisioners (backends/*/provision.py) act on
them, the CLI and the TUI show them. Contract names (states, JSON keys) come from
issue 15 and must be kept exactly."""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tui.core.model import iso
from tui.core.redaction import redact_params

# -- owner marks on everything envdeck creates --------------------------------
AWS_ENV_TAG = "envdeck:env"
AWS_TEMPLATE_TAG = "envdeck:template"
AWS_STEP_TAG = "envdeck:step"
#: The environment instance (a uuid fixed when its row is first stored): two environments of one
#: name (two stores, or a name re-created) never adopt or delete each other's things.
AWS_INSTANCE_TAG = "envdeck:instance"
K8S_ENV_LABEL = "envdeck.io/env"
K8S_TEMPLATE_LABEL = "envdeck.io/template"
K8S_STEP_LABEL = "envdeck.io/step"
K8S_INSTANCE_LABEL = "envdeck.io/instance"


def k8s_label_value(text: str) -> str:
    """`text` as a valid Kubernetes label value (63 characters of `[A-Za-z0-9._-]`, alphanumeric at
    both ends): a step id "Deployment/web" becomes "Deployment.web"; a longer value keeps its first
    54 characters and a digest of the whole. The renderer and the Kubernetes provisioner both use it
    for `envdeck.io/step` (and the env/template values), so that the labels they write agree."""
    value = re.sub(r"[^A-Za-z0-9._-]", ".", text).strip("._-")
    if len(value) > 63:
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        value = f"{value[:54].rstrip('._-')}.{digest}"
    return value

#: Per-step timeout when neither the resource nor its template section sets one.
DEFAULT_STEP_TIMEOUT_S = 600.0


class EnvLifecycleState(enum.StrEnum):
    """`planned → provisioning → ready ⇄ sleeping → destroying → destroyed`, or `failed`."""

    PLANNED = "planned"
    PROVISIONING = "provisioning"
    READY = "ready"
    SLEEPING = "sleeping"
    DESTROYING = "destroying"
    DESTROYED = "destroyed"
    FAILED = "failed"


class Operation(enum.StrEnum):
    """What the engine is asked to carry out on a managed environment (one at a time)."""

    CREATE = "create"
    DESTROY = "destroy"
    SLEEP = "sleep"
    WAKE = "wake"


class StepState(enum.StrEnum):
    PENDING = "pending"        # not started
    CREATING = "creating"      # row written, backend call under way (resume: find-or-create)
    WAITING = "waiting"        # created, waiting for a fresh observation to say Healthy
    HEALTHY = "healthy"
    FAILED = "failed"
    DELETING = "deleting"      # delete asked, waiting until the backend says gone
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One thing a template creates. `fields` may still hold `{step-id}` references to
    other steps' native ids; the engine resolves them (`render.resolve_refs`) just before
    the step starts, when those steps are Healthy."""

    id: str                       # unique in the template: "assets", "ns", "Deployment/web", "edge"
    backend: str                  # "aws" | "kubernetes" | "edge"
    kind: str                     # "s3-bucket", "security-group", "ec2-instance", "Namespace", "Deployment", "edge-claim", ...
    fields: dict[str, Any]        # kind-specific, rendered ({env}, {creator}, {param} done)
    depends_on: tuple[str, ...] = ()   # explicit and implicit edges, resolved by plan.build_graph
    timeout_s: float = DEFAULT_STEP_TIMEOUT_S

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "backend": self.backend, "kind": self.kind, "fields": self.fields,
                "depends_on": list(self.depends_on), "timeout_s": self.timeout_s}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepSpec:
        return cls(id=data["id"], backend=data["backend"], kind=data["kind"], fields=dict(data["fields"]),
                   depends_on=tuple(data.get("depends_on", ())), timeout_s=float(data.get("timeout_s",
                                                                                    DEFAULT_STEP_TIMEOUT_S)))


@dataclass(frozen=True, slots=True)
class StepHealth:
    """A provisioner's answer from a *fresh* observation of one created step."""

    healthy: bool
    reason: str = ""              # why not (yet): "instance pending", "0/2 replicas available"
    terminal: bool = False        # True when it will never become healthy (ImagePullBackOff, a failed state)


@dataclass(slots=True)
class StepRecord:
    """A step as the store keeps it (one row per environment and step id)."""

    env: str
    id: str
    backend: str
    kind: str
    state: StepState = StepState.PENDING
    native_id: str | None = None  # bucket name, sg-…, i-…, namespace/kind/name, node names
    token: str = ""               # idempotency token (EC2 ClientToken), fixed before the first call
    message: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    attempts: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "backend": self.backend, "kind": self.kind, "state": str(self.state),
                "native_id": self.native_id, "message": self.message, "started_at": iso(self.started_at),
                "finished_at": iso(self.finished_at), "attempts": self.attempts}


@dataclass(frozen=True, slots=True)
class Orphan:
    """Something still carrying the environment's owner mark after a teardown, that envdeck
    could not delete; never silently left."""

    backend: str
    resource: str                 # ARN, namespace, node name
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"backend": self.backend, "resource": self.resource, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Leftover:
    """What a provisioner's sweep finds still carrying `envdeck:env=NAME` / the label, with the
    instance and step marks it carries ("" when it carries none): the engine deletes only what
    carries this environment's instance id and names one of its steps (`owned_leftover`)."""

    backend: str
    kind: str
    native_id: str
    arn: str = ""
    instance: str = ""            # its envdeck:instance / envdeck.io/instance value
    step: str = ""                # its envdeck:step / envdeck.io/step value

    @property
    def label(self) -> str:
        """"KIND ID" for messages."""
        return f"{self.kind} {self.arn or self.native_id}"


@dataclass(slots=True)
class RenderedEnvironment:
    """A template rendered for one environment name, creator and parameter values."""

    name: str
    template: str
    parameters: dict[str, Any]
    creator: str
    steps: list[StepSpec]                  # in a stable order; the graph lives in depends_on
    environment: dict[str, Any]            # an EnvironmentConfig as a dict (what the reconciler observes
                                           # once the environment exists); edge nodes filled at claim time
    ttl_s: float | None = None
    max_ttl_s: float | None = None
    on_failure: str = "keep"               # "keep" | "destroy"
    edge_pool: str | None = None
    edge_count: int = 0
    instance: str = ""                     # the environment instance id (set when the row is stored)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "template": self.template, "parameters": self.parameters,
                "creator": self.creator, "steps": [s.to_json() for s in self.steps],
                "environment": self.environment, "ttl_s": self.ttl_s, "max_ttl_s": self.max_ttl_s,
                "on_failure": self.on_failure, "edge_pool": self.edge_pool, "edge_count": self.edge_count,
                "instance": self.instance}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RenderedEnvironment:
        return cls(name=data["name"], template=data["template"], parameters=dict(data["parameters"]),
                   creator=data["creator"], steps=[StepSpec.from_json(s) for s in data["steps"]],
                   environment=dict(data["environment"]), ttl_s=data.get("ttl_s"),
                   max_ttl_s=data.get("max_ttl_s"), on_failure=data.get("on_failure", "keep"),
                   edge_pool=data.get("edge_pool"), edge_count=int(data.get("edge_count", 0)),
                   instance=str(data.get("instance") or ""))


@dataclass(slots=True)
class ManagedEnvironment:
    """A created environment as the store keeps it. `env list --json` rows are `to_json()`."""

    name: str
    template: str
    parameters: dict[str, Any]
    owner: str
    state: EnvLifecycleState
    spec: RenderedEnvironment
    created_at: datetime
    expires_at: datetime | None = None
    operation: Operation | None = None     # the operation still to carry out (None: at rest)
    step: str = ""                         # current or failed step
    reason: str = ""                       # why failed / what it waits for
    orphans: list[Orphan] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    updated_at: datetime | None = None
    requested_by: str = ""                 # who asked for the pending/last operation (audit user)
    requested_origin: str = ""             # cli | tui | reconciler | ttl (audit origin)
    instance: str = ""                     # uuid fixed when the row is first stored (owner mark envdeck:instance)

    def to_json(self) -> dict[str, Any]:
        """What is shown (`env list --json`, the commands' --json): the parameters through
        `redact_params` (a secret-looking value is `***`); the store keeps `spec` itself."""
        return {"name": self.name, "template": self.template, "parameters": redact_params(self.parameters),
                "owner": self.owner, "state": str(self.state),
                "operation": str(self.operation) if self.operation else None,
                "step": {"id": self.step, "reason": self.reason} if (self.step or self.reason) else None,
                "created_at": iso(self.created_at), "expires_at": iso(self.expires_at),
                "orphans": [o.to_json() for o in self.orphans],
                "steps": [s.to_json() for s in self.steps]}


def token_time(token: str) -> datetime | None:
    """When the create of a step's token began (`t<unix seconds>-…`, lifecycle/engine.new_token);
    None for a token of another shape (rows from before the time was in it)."""
    head, sep, _ = token.partition("-")
    if not sep or not head.startswith("t") or not head[1:].isdigit():
        return None
    return datetime.fromtimestamp(int(head[1:]), tz=UTC)
