"""`AwsBackend`: one environment's AWS resources, found by tags in one account and region."""

from __future__ import annotations

import os
import shlex
from collections.abc import AsyncIterator
from typing import Any, ClassVar

from backends.aws import actions as aws_actions
from backends.aws import desired_state
from backends.aws import links as aws_links
from backends.aws.clients import AwsClients
from backends.aws.cloudwatch_metrics import METRICS, fetch_metrics
from backends.aws.error_mapping import redact
from backends.aws.faults import alarm_faults, alarm_health, ecs_faults_and_events, status_check_faults
from backends.aws.faults_services import lambda_metric_faults, service_faults
from backends.aws.inventory import collect_inventory
from backends.aws.log_follow import LogSource, to_line
from backends.aws.metric_sampler import MetricSampler
from backends.aws.resource_builder import LOG_GROUP_TAG, build_resources
from backends.base import Backend
from tui.core.config import AwsConfig, Defaults
from tui.core.errors import BackendError, BackendUnreachable, InvalidRequest, NotFound, PolicyDenied
from tui.core.model import (
    ActionResult,
    ActionSpec,
    DriftItem,
    LogLine,
    MetricSeries,
    Observation,
    Resource,
    now_utc,
)
from tui.core.xray import Link

LOG_STREAM_PREFIX_TAG = "envdeck:log-stream-prefix"


def _comparable(resource: Resource) -> dict[str, Any]:
    data = resource.to_json()
    data.pop("observed_at", None)
    return data


class AwsBackend(Backend):
    name: ClassVar[str] = "aws"
    supports_watch: ClassVar[bool] = False

    #: Seconds between polls of a followed log group, and how far back each poll re-reads.
    log_poll_s: float = 2.0
    log_lookback_s: float = 30.0
    #: The log groups other environments' configs declare (`aws.logs`): never this one's by a tag.
    foreign_log_groups: frozenset[str] = frozenset()

    def __init__(self, env: str, config: AwsConfig, defaults: Defaults, *, workers: int = 8):
        super().__init__(env, config, defaults)
        self.config: AwsConfig = config
        self.clients = AwsClients(config, timeout_s=defaults.timeout, workers=workers)
        self._last: Observation | None = None
        self._seen_event_ids: set[str] = set()
        self.sampler = MetricSampler(self.clients)
        # optional operations this endpoint refused or does not implement (asked no more)
        self._unavailable_ops: set[str] = set()
        self._denied_services: list[str] = []  # services the last pass was not allowed to describe

    # -- lifecycle -----------------------------------------------------------
    async def close(self) -> None:
        self.sampler.close()
        await self.sampler.wait_idle()
        self.clients.close()

    def resource_links(self, resources: list[Resource]) -> list[Link]:
        return aws_links.resource_links(resources)

    def describe(self) -> str:
        parts = [f"aws {self.config.region}"]
        if self.config.profile:
            parts.append(f"profile {self.config.profile}")
        if self.config.endpoint_url:
            parts.append(f"endpoint {redact(self.config.endpoint_url)}")
        parts.append("tags " + ",".join(f"{k}={v}" for k, v in self.config.tags.items()))
        return " ".join(parts)

    async def check(self) -> str:
        identity = await self.clients.call("sts", "get_caller_identity")
        try:  # what the credentials may not describe, for doctor_notes
            await self.observe()
        except BackendError:
            pass  # the check proves the credentials; an inventory failure shows in status
        return f"account {identity.get('Account', '?')} in {self.config.region}"

    def doctor_notes(self) -> list[str]:
        if not self._denied_services:
            return []
        return [f"aws: not allowed to describe: {', '.join(self._denied_services)} (skipped)"]

    # -- observing -----------------------------------------------------------
    async def observe(self) -> Observation:
        observed_at = now_utc()
        inv = await collect_inventory(self.clients, self.config.tags, self._unavailable_ops)
        self._denied_services = inv.apps.denied
        resources = build_resources(inv, self.config.region, observed_at)
        app_faults = service_faults(resources, inv.apps)  # also lowers instances behind failing targets
        alarm_health(resources, inv)
        resources += desired_state.placeholders(self.config, resources, observed_at)
        member_ids = {r.id for r in resources}
        ecs_faults, events, seen = ecs_faults_and_events(inv, self._seen_event_ids)
        self._seen_event_ids = seen
        faults = (alarm_faults(inv, member_ids, self.config.region) + status_check_faults(resources, inv)
                  + ecs_faults + app_faults)
        obs = Observation(backend=self.name, resources=resources, faults=faults, events=events,
                          observed_at=observed_at)
        drifts = self.diff(obs)
        for res in resources:
            res.drift = desired_state.drift_state(res, drifts, self.config)
        obs.samples = self.sampler.sample(resources)
        obs.faults += lambda_metric_faults(resources)
        obs.resources = self._reuse_unchanged(resources)
        self._last = obs
        return obs

    def _reuse_unchanged(self, resources: list[Resource]) -> list[Resource]:
        """Keep the previous object of a resource that did not change (consumers compare by
        identity); only its observation time moves."""
        previous = {r.id: r for r in self._last.resources} if self._last else {}
        out = []
        for res in resources:
            old = previous.get(res.id)
            if old is not None and old.metrics == res.metrics and _comparable(old) == _comparable(res):
                old.observed_at = res.observed_at
                out.append(old)
            else:
                out.append(res)
        return out

    async def _resources(self) -> list[Resource]:
        if self._last is None:
            await self.observe()
        assert self._last is not None
        return self._last.resources

    async def _resource(self, rid: str) -> Resource:
        for res in await self._resources():
            if res.id == rid:
                return res
        raise NotFound(f"{rid} is not among the resources of environment {self.env}", backend=self.name)

    # -- desired state -------------------------------------------------------
    def diff(self, observation: Observation) -> list[DriftItem]:
        return desired_state.diff(self.config, observation.resources)

    def repair_action(self, drift: DriftItem) -> str:
        return desired_state.repair_action(drift)[0]

    def desired_fields(self, resource: Resource) -> dict[str, Any]:
        for entry in self.config.desired:
            if desired_state.placeholder_id(entry) == resource.id or desired_state.matches(entry, [resource]):
                return desired_state.desired_values(entry)
        return {}

    def action_effect(self, resource: Resource, action: str, params: dict[str, str]) -> dict[str, Any]:
        return desired_state.action_effect(resource.kind, action, params)

    def field_in_sync(self, field: str, desired: Any, actual: Any) -> bool:
        return desired_state.in_sync(field, desired, actual)

    async def repair(self, drift: DriftItem) -> ActionResult:
        resource = await self._resource(drift.resource)
        if resource.attributes.get("placeholder"):
            raise NotFound(f"{drift.resource} does not exist; a drift repair does not create a missing resource "
                           "(the lifecycle does: envdeck env create)",
                           backend=self.name)
        action, params = desired_state.repair_action(drift)
        if action == "repair":
            raise InvalidRequest(f"aws cannot repair field {drift.field!r}", backend=self.name)
        return await aws_actions.perform(self.clients, resource, action, params)

    # -- acting --------------------------------------------------------------
    def actions(self, resource: Resource) -> list[ActionSpec]:
        specs = aws_actions.specs_for(resource)
        if not any(s.name == "shell" for s in specs) or self.shell_command(resource) is not None:
            return specs
        return [s for s in specs if s.name != "shell"]

    async def perform(self, resource: Resource, action: str, params: dict[str, str]) -> ActionResult:
        if action == "shell":
            argv = self.shell_command(resource)
            if argv is None:
                raise InvalidRequest(f"{resource.id} has no shell", backend=self.name)
            return ActionResult(ok=True, message=shlex.join(argv), data={"argv": argv})
        return await aws_actions.perform(self.clients, resource, action, params)

    def shell_command(self, resource: Resource) -> list[str] | None:
        if resource.kind != "ec2-instance" or resource.attributes.get("state") != "running":
            return None
        instance_id = resource.attributes.get("instance_id") or resource.id.split("/", 2)[2]
        if self.config.shell == "ssm":
            argv = ["aws", "ssm", "start-session", "--target", instance_id, "--region", self.config.region]
            if self.config.profile:
                argv += ["--profile", self.config.profile]
            return argv
        a = resource.attributes
        address = a.get("private_ip") or a.get("public_ip") or a.get("private_dns") or a.get("public_dns")
        if not address:
            return None
        # an instance that does not answer fails in defaults.timeout, not after TCP's ~2 minutes
        argv = ["ssh", "-o", f"ConnectTimeout={max(1, round(float(self.defaults.timeout)))}"]
        if self.config.ssh_user:
            argv += ["-l", self.config.ssh_user]
        if self.config.identity_file:
            argv += ["-i", os.path.expanduser(self.config.identity_file)]
        return argv + ["--", address]

    # -- reading -------------------------------------------------------------
    async def metrics(self, resource_id: str | None, window_s: float) -> list[MetricSeries]:
        if resource_id is None:
            targets = [r for r in await self._resources() if r.kind in METRICS and not r.attributes.get("placeholder")]
        else:
            targets = [await self._resource(resource_id)]
        return await fetch_metrics(self.clients, targets, window_s)

    async def owns_log_group(self, group: str) -> bool:
        """Whether a log group named by outside data (a resource's tag, a task definition)
        is this environment's: the group itself carries all of the environment's tags
        (tagging API) and no other environment's config declares it under `aws.logs`."""
        if group in self.foreign_log_groups:
            return False
        try:
            answer = await self.clients.call("logs", "list_tags_log_group", logGroupName=group)
        except BackendUnreachable:
            raise
        except BackendError:
            return False  # no such group, no permission: not shown as ours
        tags = answer.get("tags") or {}
        return all(tags.get(key) == value for key, value in self.config.tags.items())

    def has_logs(self, resource: Resource) -> bool:
        """Whether `log_source` can name a log group for this resource without asking AWS: a
        mapping under `aws.logs`, an `envdeck:log-group` tag, or an ECS service's task definition
        (its awslogs settings). A queue, a group or a table has none unless mapped or tagged."""
        if resource.id.startswith("aws/log-group/"):
            return True
        native = resource.id.split("/", 2)[-1]
        if any(entry.resource in (resource.id, resource.name, native) for entry in self.config.logs):
            return True
        if (resource.attributes.get("tags") or {}).get(LOG_GROUP_TAG):
            return True
        return resource.kind == "ecs-service" and bool(resource.attributes.get("task_definition"))

    async def log_source(self, resource_id: str, container: str | None = None) -> LogSource:
        """The log group (and stream prefix) of a resource: `aws.logs` in config, else its
        `envdeck:log-group` tag, else (ECS) the awslogs settings of its task definition;
        `aws/log-group/NAME` names a group directly. A group from a tag or a task definition
        (outside data) must be the environment's own (`owns_log_group`), else PolicyDenied."""
        if resource_id.startswith("aws/log-group/"):
            return LogSource(self.clients, resource_id[len("aws/log-group/"):], None)
        resource = await self._resource(resource_id)
        native = resource_id.split("/", 2)[2]
        for entry in self.config.logs:
            if entry.resource in (resource.id, resource.name, native):
                return LogSource(self.clients, entry.group, entry.stream_prefix)
        tags: dict[str, Any] = resource.attributes.get("tags") or {}
        found: LogSource | None = None
        if tags.get(LOG_GROUP_TAG):
            found = LogSource(self.clients, str(tags[LOG_GROUP_TAG]), tags.get(LOG_STREAM_PREFIX_TAG) or None)
        elif resource.kind == "ecs-service" and resource.attributes.get("task_definition"):
            found = await self._awslogs_source(str(resource.attributes["task_definition"]), container)
        if found is not None:
            if not await self.owns_log_group(found.group):
                raise PolicyDenied(
                    f"the log group {found.group} that {resource_id} names is not one of environment {self.env}'s "
                    "(a group named by a tag or a task definition must carry the environment's tags and "
                    "be declared by no other environment; or map it under aws.logs)")
            return found
        raise InvalidRequest(
            f"{resource_id} has no log group: map one under aws.logs in the config "
            f"or tag the resource {LOG_GROUP_TAG}=GROUP", backend=self.name)

    async def _awslogs_source(self, task_definition: str, container: str | None) -> LogSource | None:
        """ECS writes awslogs streams as PREFIX/CONTAINER/TASK-ID into the group of the options."""
        answer = await self.clients.call("ecs", "describe_task_definition", taskDefinition=task_definition)
        for definition in (answer.get("taskDefinition") or {}).get("containerDefinitions") or []:
            if container and definition.get("name") != container:
                continue
            config = definition.get("logConfiguration") or {}
            options = config.get("options") or {}
            if config.get("logDriver") == "awslogs" and options.get("awslogs-group"):
                prefix = options.get("awslogs-stream-prefix")
                stream_prefix = f"{prefix}/{definition.get('name')}/" if prefix else None
                return LogSource(self.clients, options["awslogs-group"], stream_prefix)
        return None

    async def logs(self, resource_id: str, *, follow: bool = False, tail: int | None = 100,
                   container: str | None = None, previous: bool = False) -> AsyncIterator[LogLine]:
        source = await self.log_source(resource_id, container)
        if follow:
            async for line in source.follow(tail, self.log_poll_s, self.log_lookback_s):
                yield line
            return
        for ev in await source.tail(tail):
            yield to_line(ev)
