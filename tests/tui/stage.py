"""A deterministic in-memory stage for the TUI tests: three backends (playing aws,
kubernetes and edge) with fixed timestamps, drift, faults, findings, metrics,
logs with hostile text, and actions with the roles of the real backends.

It is the *collaborator* of the code under test (the screens), like
tests/memory_backend.py for the core: the real backends are tested against real
servers in their own suites, and the demo tests in this folder use those.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

from backends.aws.compliance import controls_for as aws_controls
from backends.base import Backend
from backends.kubernetes.compliance import controls_for as k8s_controls
from tui.core.config import parse_config
from tui.core.errors import BackendUnreachable, InvalidRequest
from tui.core.model import (
    ActionResult,
    ActionSpec,
    Drift,
    DriftItem,
    Event,
    Fault,
    Finding,
    Health,
    LogLine,
    MetricSeries,
    Observation,
    Resource,
    Role,
    Severity,
)

FIXED_NOW = datetime(2025, 3, 14, 3, 0, 0, tzinfo=UTC)
OBSERVED = FIXED_NOW - timedelta(seconds=12)

HOSTILE_NAME = "[link=http://phish.example]click[/link]\x1b[31mred"
HOSTILE_LINES = [
    "plain line: service started",
    "[bold red]markup must stay literal[/bold red] [link=http://phish.example]click[/link]",
    "ansi csi: \x1b[31mRED\x1b[0m and \x1b[2J clear screen",
    "osc 52: \x1b]52;c;ZXZpbA==\x07 clipboard write",
    "osc 0: \x1b]0;pwned title\x1b\\ window title",
    "bidi: user\u202eexe.txt reversed \u2066isolate\u2069",
    '{"level": "error", "msg": "json line", "code": 500}',
    "c1 control: \x9b31m and bell \x07 and NUL \x00 done",
]

STAGE_CONFIG = """
environments:
  staging:
    description: shared pre-production
    repair: propose
    access:
      admin: [alice]
      operator: [oscar]
      viewer: [vera]
    aws:
      region: us-east-1
      tags: {env: staging}
    kubernetes:
      namespace: staging
    edge:
      nodes:
        - {name: gw-01, host: 127.0.0.1, services: [nginx]}
  prod:
    description: customer traffic
    repair: observe
    access:
      admin: [alice]
      viewer: [vera, oscar]
    aws:
      region: us-east-1
      tags: {env: prod}
    kubernetes:
      namespace: prod
"""


# The same environments, polled every second (pilot tests of live behaviour).
LIVE_CONFIG = "defaults: {interval: 1s, timeout: 5s, max_backoff: 2s}\n" + STAGE_CONFIG


def stage_config(text: str = STAGE_CONFIG):
    return parse_config(text, "stage.yaml")


class Stage:
    """The state of the fake world, shared by all backends of all environments."""

    def __init__(self) -> None:
        self.replicas = {"web": 3, "api": 1}
        self.desired_replicas = {"web": 3, "api": 2}
        self.down: set[str] = set()  # backend names that refuse connections
        self.performed: list[tuple[str, str, str, dict]] = []  # (env, resource id, action, params)
        self.log_lines = list(HOSTILE_LINES)
        self.follow_forever = False
        self.log_feed: asyncio.Queue | None = None  # when set, follow keeps yielding what is put here
        self.hostile = False
        self.replica_sets = False  # also list the ReplicaSets between Deployments and their pods
        self.generation = 0


def _t(minutes: float) -> datetime:
    return FIXED_NOW - timedelta(minutes=minutes)


def _metric_points(seed: int, n: int = 12) -> list[tuple[datetime, float]]:
    return [(FIXED_NOW - timedelta(minutes=5 * (n - i)), float((seed * 7 + i * 13) % 40 + seed)) for i in range(n)]


class StageBackend(Backend):
    def __init__(self, env: str, stage: Stage):
        super().__init__(env, None, None)
        self.stage = stage
        self._cache: dict[str, Resource] = {}

    def _keep(self, r: Resource) -> Resource:
        """The same object when nothing changed (as the real backends do)."""
        old = self._cache.get(r.id)
        if old is not None and old.to_json() == r.to_json() and old.metrics == r.metrics:
            return old
        self._cache[r.id] = r
        return r

    async def observe(self) -> Observation:
        if self.name in self.stage.down:
            raise BackendUnreachable(f"connection refused ({self.name} is down)", backend=self.name)
        resources = [self._keep(r) for r in self.build()]
        return Observation(backend=self.name, resources=resources, faults=self.faults(), events=self.events(),
                           observed_at=OBSERVED,
                           samples=[(r.id, k, v) for r in resources for k, v in r.metrics.items()])

    def build(self) -> list[Resource]:
        return []

    def faults(self) -> list[Fault]:
        return []

    def events(self) -> list[Event]:
        return []

    async def perform(self, resource: Resource, action: str, params: dict[str, str]) -> ActionResult:
        names = {s.name for s in self.actions(resource)}
        if action not in names:
            raise InvalidRequest(f"{resource.id} does not support {action!r}", backend=self.name)
        self.stage.performed.append((self.env, resource.id, action, dict(params)))
        if action == "scale":
            self.stage.replicas[resource.name] = int(params.get("replicas") or params.get("desired_count") or 0)
        return ActionResult(True, f"{action} of {resource.name} accepted")

    async def logs(self, resource_id, *, follow=False, tail=100, container=None, previous=False):
        for i, text in enumerate(self.stage.log_lines):
            yield LogLine(text, source="", at=FIXED_NOW - timedelta(seconds=len(self.stage.log_lines) - i))
        if follow and self.stage.log_feed is not None:
            while True:
                text = await self.stage.log_feed.get()
                yield LogLine(text, source="", at=FIXED_NOW)
        if follow and self.stage.follow_forever:
            await asyncio.Event().wait()

    async def metrics(self, resource_id, window_s):
        out = []
        for i, r in enumerate(self._cache.values()):
            if resource_id not in (None, r.id):
                continue
            for name in r.metrics:
                out.append(MetricSeries(r.id, name, "%" if name == "cpu" else "", _metric_points(i + 3)))
        return out


class StageKubernetes(StageBackend):
    name = "kubernetes"

    def build(self) -> list[Resource]:
        s = self.stage
        out = []
        for app in ("api", "web"):
            count = s.replicas[app]
            healthy = count == s.desired_replicas[app]
            out.append(Resource(
                id=f"kubernetes/Deployment/{app}", backend="kubernetes", kind="Deployment", name=app,
                health=Health.HEALTHY if healthy else Health.PROGRESSING, status=f"{count}/{count} ready",
                drift=Drift.IN_SYNC, assessed=True,  # its template is (as the kubernetes backend does)
                controls=k8s_controls("Deployment"),
                observed_at=OBSERVED, created_at=_t(60 * 24 * 3), console_url=None,
                attributes={"replicas": count, "image": f"registry.example/{app}:1.4.2",
                            "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                                            "message": "Deployment has minimum availability."}],
                            "env": {"API_TOKEN": "s3cr3t-value", "LOG_LEVEL": "info"}}))
        pods = [("web-7d9f-abcde", Health.HEALTHY, "Running", "", 12.5),
                ("web-7d9f-fghij", Health.HEALTHY, "Running", "", 31.0),
                ("api-5c8b-xyz12", Health.DEGRADED, "CrashLoopBackOff", "back-off 5m0s restarting failed container",
                 2.0),
                ("worker-6f4d-oom01", Health.DEGRADED, "OOMKilled", "container exceeded its memory limit", 97.0)]
        for name, health, status, reason, cpu in pods:
            attributes = {"node": "node-1", "restarts": 0 if health == Health.HEALTHY else 7}
            if s.replica_sets:  # as the kubernetes backend reports them: the controller, "Kind/name"
                attributes["owner"] = f"ReplicaSet/{name.rsplit('-', 1)[0]}"
            out.append(Resource(
                id=f"kubernetes/Pod/{name}", backend="kubernetes", kind="Pod", name=name, health=health,
                status=status, health_reason=reason, observed_at=OBSERVED, created_at=_t(45),
                metrics={"cpu": cpu}, attributes=attributes, assessed="owner" not in attributes,
                controls=() if "owner" in attributes else k8s_controls("Pod")))
        if s.replica_sets:
            for rs, owner in (("api-5c8b", "Deployment/api"), ("web-7d9f", "Deployment/web"), ("web-1a2b", "Deployment/web"),
                              ("worker-6f4d", None)):
                out.append(Resource(id=f"kubernetes/ReplicaSet/{rs}", backend="kubernetes", kind="ReplicaSet",
                                    name=rs, health=Health.HEALTHY, status="", observed_at=OBSERVED,
                                    created_at=_t(45), attributes={"owner": owner}, assessed=owner is None,
                                    controls=k8s_controls("ReplicaSet") if owner is None else ()))
        if s.hostile:
            out.append(Resource(id="kubernetes/Pod/hostile", backend="kubernetes", kind="Pod", name=HOSTILE_NAME,
                                health=Health.UNKNOWN, status="\x1b]52;c;ZXZpbA==\x07copied", observed_at=OBSERVED,
                                created_at=_t(5), assessed=True, controls=k8s_controls("Pod")))
        return out

    def resource_links(self, resources: list[Resource]) -> list:
        from backends.kubernetes import links  # the real backend's links, over the stage's resources

        return links.resource_links(resources)

    def diff(self, observation: Observation) -> list[DriftItem]:
        s = self.stage
        return [DriftItem(f"kubernetes/Deployment/{app}", "replicas", want, s.replicas[app])
                for app, want in s.desired_replicas.items() if s.replicas[app] != want]

    def repair_action(self, drift: DriftItem) -> str:
        return "scale"

    async def repair(self, drift: DriftItem) -> ActionResult:
        self.stage.replicas[drift.resource.rsplit("/", 1)[1]] = drift.desired
        return ActionResult(True, f"scaled to {drift.desired}")

    def faults(self) -> list[Fault]:
        return [Fault("kubernetes/Pod/api-5c8b-xyz12", Severity.HIGH, "CrashLoopBackOff",
                      "back-off 5m0s restarting failed container api", since=_t(30), count=7),
                Fault("kubernetes/Pod/worker-6f4d-oom01", Severity.HIGH, "OOMKilled",
                      "container worker exceeded its memory limit (256Mi)", since=_t(20), count=3)]

    def events(self) -> list[Event]:
        return [Event("kubernetes/Pod/api-5c8b-xyz12", "BackOff", "Back-off restarting failed container", _t(10),
                      type="Warning", count=7),
                Event("kubernetes/Deployment/web", "ScalingReplicaSet", "Scaled up replica set web-7d9f to 3", _t(50))]

    def actions(self, resource: Resource) -> list[ActionSpec]:
        if resource.kind == "Deployment":
            return [ActionSpec("restart", "Rollout restart"), ActionSpec("scale", "Scale", params=("replicas",)),
                    ActionSpec("logs", "Logs", mutating=False)]
        return [ActionSpec("logs", "Logs", mutating=False), ActionSpec("shell", "Shell (kubectl exec)"),
                ActionSpec("delete", "Delete pod", role=Role.ADMIN, destructive=True)]

    def shell_command(self, resource: Resource) -> list[str] | None:
        return ["kubectl", "exec", "-it", "-n", self.env, resource.name, "--", "sh"]


class StageAws(StageBackend):
    name = "aws"

    def build(self) -> list[Resource]:
        env = self.env
        bucket_findings = [Finding("s3-encryption", Severity.HIGH, "default encryption is off",
                                   f"aws/s3-bucket/{env}-uploads")]
        return [
            Resource(id="aws/ec2-instance/i-0abc123", backend="aws", kind="ec2-instance", name=f"{env}-bastion",
                     health=Health.HEALTHY, status="running", observed_at=OBSERVED, created_at=_t(60 * 24 * 40),
                     console_url="https://console.aws.amazon.com/ec2/home?region=us-east-1#InstanceDetails:"
                                 "instanceId=i-0abc123",
                     metrics={"cpu": 4.0}, attributes={"instance_type": "t3.micro", "state": "running"},
                     assessed=True, controls=aws_controls("ec2-instance")),
            Resource(id=f"aws/s3-bucket/{env}-uploads", backend="aws", kind="s3-bucket", name=f"{env}-uploads",
                     health=Health.HEALTHY, status="", observed_at=OBSERVED, created_at=_t(60 * 24 * 90),
                     findings=bucket_findings, attributes={"encryption": None, "public_access_blocked": True},
                     assessed=True, controls=aws_controls("s3-bucket")),
            Resource(id="aws/ecs-service/main/api", backend="aws", kind="ecs-service", name="api",
                     health=Health.HEALTHY, status="2/2 running", observed_at=OBSERVED, created_at=_t(60 * 24 * 7),
                     attributes={"desired_count": 2}),
        ]

    def actions(self, resource: Resource) -> list[ActionSpec]:
        if resource.kind == "ec2-instance":
            return [ActionSpec("stop", "Stop"), ActionSpec("reboot", "Reboot"),
                    ActionSpec("terminate", "Terminate instance", role=Role.ADMIN, destructive=True)]
        if resource.kind == "ecs-service":
            return [ActionSpec("force-new-deployment", "Restart (force new deployment)"),
                    ActionSpec("scale", "Scale service", params=("desired_count",))]
        return [ActionSpec("enable-encryption", "Enable default encryption (SSE-S3)", role=Role.ADMIN)]


class StageEdge(StageBackend):
    name = "edge"

    def build(self) -> list[Resource]:
        return [
            Resource(id="edge/node/gw-01", backend="edge", kind="node", name="gw-01", health=Health.HEALTHY,
                     status="up 12d, load 0.42", observed_at=OBSERVED, created_at=None, metrics={"load1": 0.42},
                     attributes={"kernel": "6.1.0", "disk_percent": 41}, assessed=True,
                     controls=("ssh-root-login", "ssh-password-auth", "disk-full", "clock-skew", "reboot-required")),
            Resource(id="edge/service/gw-01:nginx", backend="edge", kind="service", name="gw-01:nginx",
                     health=Health.HEALTHY, status="active", observed_at=OBSERVED),
        ]

    def actions(self, resource: Resource) -> list[ActionSpec]:
        if resource.kind == "service":
            return [ActionSpec("restart", "Restart service"), ActionSpec("stop", "Stop service")]
        return [ActionSpec("reboot", "Reboot node", role=Role.ADMIN, destructive=True)]

    def shell_command(self, resource: Resource) -> list[str] | None:
        return ["ssh", "-p", "2222", "127.0.0.1"]


def stage_factory(stage: Stage):
    def factory(env, env_cfg, cfg):
        out: dict[str, Backend] = {}
        if env_cfg.aws:
            out["aws"] = StageAws(env, stage)
        if env_cfg.kubernetes:
            out["kubernetes"] = StageKubernetes(env, stage)
        if env_cfg.edge:
            out["edge"] = StageEdge(env, stage)
        return out
    return factory


def replace(resource: Resource, **changes) -> Resource:
    return dataclasses.replace(resource, **changes)
