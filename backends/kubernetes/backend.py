"""KubernetesBackend: one namespace of one cluster as an environment's part.

    kubeconfig / in-cluster ──(official loader)──► ClusterConnection ──► KubeApi (aiohttp, raw JSON)
    KubeApi ──► Inventory: discovery (discovery.py: every namespaced list+watch type, CRDs included)
            ──► one Informer per kind (list limit=500 + watch from resourceVersion)
            ──► ResourceTable (convert.py / convert_kinds.py: health.py, kind_health.py,
                compliance.py) / EventLog (events.py)
    watch(): informers run as tasks, beside a probe of the API server's liveness (liveness.py:
             a frozen server behind open watches reads overdue, then unreachable);
             a change wakes the loop, which waits `coalesce_s`
             and yields one full Observation (unchanged Resources are the same objects)
             with the delta since its previous one (delta.py; none for the first, or
             after a relist), so that the reconciler's work follows the changes.
    observe(): the same tables filled by one list of every kind (or read from the
               running informers); logs.py, metrics.py, actions.py and desired.py serve
               the rest of the Backend protocol.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any, ClassVar

from backends.base import Backend
from backends.kubernetes import actions, desired, portforward
from backends.kubernetes import links as kubernetes_links
from backends.kubernetes.api import MERGE_PATCH, STRATEGIC_MERGE_PATCH, WATCH_SILENCE_FLOOR_S, KubeApi
from backends.kubernetes.api_paths import item_path
from backends.kubernetes.connection import ClusterConnection, load_connection_async
from backends.kubernetes.inventory import Inventory
from backends.kubernetes.kinds import BY_KIND, WORKLOADS
from backends.kubernetes.liveness import PROBE_INTERVAL_S, ApiLiveness
from backends.kubernetes.logs import merged_lines, selector_string, targets_of
from backends.kubernetes.metrics import MetricHistory, Usage, fetch_pod_usage
from backends.kubernetes.version import cluster_version
from tui.core.config import Defaults, KubernetesConfig
from tui.core.errors import BackendError, InvalidRequest, NotFound
from tui.core.model import (
    ActionResult,
    ActionSpec,
    Drift,
    DriftItem,
    LogLine,
    MetricSeries,
    Observation,
    Resource,
    now_utc,
)
from tui.core.port_forward import ForwardPort
from tui.core.shown_value import plain_value
from tui.core.xray import Link

log = logging.getLogger(__name__)

# Per-pod samples beyond this many pods would flood the store; workloads are always sampled.
MAX_POD_SAMPLES = 5000
METRICS_RETRY_ABSENT_S = 600.0


class KubernetesBackend(Backend):
    name: ClassVar[str] = "kubernetes"
    supports_watch: ClassVar[bool] = True
    #: watch() yields at most once per this many seconds.
    coalesce_s: float = 0.2
    #: a watch silent this long (or 3 x defaults.timeout if longer) means a hung API
    #: server: watch() raises BackendUnreachable (see KubeApi.watch_timeout_s).
    silence_floor_s: float = WATCH_SILENCE_FLOOR_S
    #: while watching, the API server is asked `GET /version` this often (liveness.py): a frozen
    #: server behind open watches reads overdue, then unreachable after `KubeApi.watch_silence_s`
    liveness_interval_s: float = PROBE_INTERVAL_S

    def __init__(self, env: str, config: KubernetesConfig, defaults: Defaults):
        super().__init__(env, config, defaults)
        self.namespace = config.namespace
        self.connection: ClusterConnection | None = None
        self.api: KubeApi | None = None
        self.inventory: Inventory | None = None
        self._placeholders: dict[str, Resource] = {}
        self._snapshot_placeholders: list[Resource] = []  # those of the last _snapshot()
        self.history = MetricHistory()
        self._metrics_absent_until = 0.0
        self.metrics_interval_s = max(float(defaults.interval), 5.0)
        self._not_listable: list[str] = []  # found by check(): types RBAC forbids listing
        self._not_discovered: list[str] = []  # found by check(): group versions discovery could not read
        #: Set by the reconciler: told when the API server's answer is overdue (the time it was due)
        #: and None when it answers again, while watch() runs (liveness.py)
        self.report_answer_due: Callable[[datetime | None], None] | None = None
        self.answer_due: datetime | None = None  # the last thing told to report_answer_due
        self.liveness: ApiLiveness | None = None  # the probe of the running watch()

    # -- lifecycle -----------------------------------------------------------
    async def _ensure(self) -> Inventory:
        if self.inventory is None:
            self.connection = await load_connection_async(self.config)
            self.api = KubeApi(self.connection, float(self.defaults.timeout), self.silence_floor_s)
            self.inventory = Inventory(self.api, self.namespace)
        return self.inventory

    async def close(self) -> None:
        if self.inventory is not None:
            await self.inventory.stop()
        if self.api is not None:
            await self.api.close()
        if self.connection is not None:
            await asyncio.to_thread(self.connection.api_client.close)

    def resource_links(self, resources: list[Resource]) -> list[Link]:
        return kubernetes_links.resource_links(resources)

    def describe(self) -> str:
        where = self.connection.context or self.connection.host if self.connection else \
            (self.config.context or "current context")
        return f"kubernetes {where}, namespace {self.namespace}"

    # -- observing -----------------------------------------------------------
    async def observe(self) -> Observation:
        inv = await self._ensure()
        if inv.running and inv.synced and inv.failure() is None:
            return self._snapshot(inv, await self._sample_metrics(inv))
        usage = asyncio.create_task(self._fetch_usage())  # overlaps the lists' waiting on the server
        try:
            await inv.list_all()
        except BaseException:
            usage.cancel()
            raise
        return self._snapshot(inv, self._record_usage(inv, await usage))

    async def watch(self) -> AsyncIterator[Observation]:
        inv = await self._ensure()
        inv.start()
        inv.delta.relisted()  # this stream's first observation is a full one
        shown_placeholders: set[str] = set()  # ids of the placeholders this stream yielded last
        samples: list[tuple[str, str, float]] = []
        sampler = asyncio.create_task(self._sample_periodically(inv, samples))
        assert self.api is not None
        self.liveness = ApiLiveness(self.api, interval_s=self.liveness_interval_s)
        prober = asyncio.create_task(self._probe_liveness(inv, self.liveness), name="k8s-liveness")
        try:
            while True:
                await inv.wait_changed_or_failed()
                if prober.done():
                    prober.result()  # the API server stopped answering: BackendUnreachable
                if not inv.synced:
                    inv.changed.clear()
                    continue
                await asyncio.sleep(self.coalesce_s)  # gather what else arrives meanwhile
                inv.changed.clear()
                inv.raise_failure()
                fresh = samples[:]
                samples.clear()
                obs = self._snapshot(inv, fresh)
                obs.delta = inv.delta.take()
                placeholders = {r.id: r for r in self._snapshot_placeholders}
                if obs.delta is not None:  # a desired workload deleted is missing from now on, and back
                    for rid, placeholder in placeholders.items():
                        if rid not in shown_placeholders:
                            obs.delta.changed.append(placeholder)
                            if rid in obs.delta.removed:
                                obs.delta.removed.remove(rid)
                shown_placeholders = set(placeholders)
                yield obs
        finally:
            sampler.cancel()
            prober.cancel()
            await asyncio.gather(sampler, prober, return_exceptions=True)
            await inv.stop()

    async def _probe_liveness(self, inv: Inventory, liveness: ApiLiveness) -> None:
        """Run the API server's liveness probe beside the watches (liveness.py); when it gives up
        (no answer for `KubeApi.watch_silence_s`), wake watch() to raise its error."""
        self._answer_due(None)
        try:
            await liveness.run(self._answer_due)
        finally:
            inv.changed.set()

    def _answer_due(self, due: datetime | None) -> None:
        if due == self.answer_due:
            return
        self.answer_due = due
        if self.report_answer_due is not None:
            self.report_answer_due(due)

    async def _sample_periodically(self, inv: Inventory, out: list[tuple[str, str, float]]) -> None:
        """Metrics every `metrics_interval_s`, beside the watches: a slow metrics API
        never delays an observation; fresh samples wake watch() to be yielded."""
        while True:
            usage = await self._fetch_usage()
            while not inv.synced:  # pods and ReplicaSets are needed to sum per workload
                await asyncio.sleep(0.1)
            if usage is not None:
                out.extend(self._record_usage(inv, usage))
                inv.changed.set()
            await asyncio.sleep(self.metrics_interval_s)

    def _snapshot(self, inv: Inventory, samples: list[tuple[str, str, float]]) -> Observation:
        resources = inv.resources()
        present = set()
        for want in self.config.desired:
            entry = inv.entry(want.kind, want.name)
            if entry is not None:
                present.add(entry.resource.id)
                if entry.resource.drift is None:  # has a desired state; the reconciler marks drift
                    entry.resource.drift = Drift.IN_SYNC
        self._snapshot_placeholders = desired.placeholders(self.config.desired, present, self._placeholders)
        resources.extend(self._snapshot_placeholders)
        return Observation(self.name, resources, inv.faults(), inv.take_events(), now_utc(), samples)

    def diff(self, observation: Observation) -> list[DriftItem]:
        wanted = {desired.rid(w.kind, w.name) for w in self.config.desired}
        if not wanted:
            return []
        found = {r.id: r for r in observation.resources if r.id in wanted}
        return desired.diff(self.config.desired, found)

    def desired_fields(self, resource: Resource) -> dict[str, Any]:
        for want in self.config.desired:
            if desired.rid(want.kind, want.name) == resource.id:
                return {f: v for f, v in (("replicas", want.replicas), ("image", want.image)) if v is not None}
        return {}

    def action_effect(self, resource: Resource, action: str, params: dict[str, str]) -> dict[str, Any]:
        if action == "scale" and resource.kind in ("Deployment", "StatefulSet"):
            try:
                return {"replicas": int(str(params.get("replicas", "")).strip())}
            except ValueError:
                return {}
        return {}

    def field_in_sync(self, field: str, desired_value: Any, actual: Any) -> bool:
        if field == "image":   # `nginx:1` and `{web: nginx:1}` are one value for a one-container workload
            return desired.image_values_match(desired_value, actual)
        return actual == desired_value

    # -- repair --------------------------------------------------------------
    def repair_action(self, drift: DriftItem) -> str:
        return desired.REPAIR_ACTIONS.get(drift.field, "repair")

    async def repair(self, drift: DriftItem) -> ActionResult:
        await self._ensure()
        assert self.api is not None
        _, kind, name = drift.resource.split("/", 2)
        if kind not in ("Deployment", "StatefulSet") or drift.field not in desired.REPAIR_ACTIONS:
            raise InvalidRequest(f"cannot repair {drift.field} of {drift.resource}", backend=self.name)
        path = BY_KIND[kind].item(self.namespace, name)
        try:
            current = await self.api.get(path)
        except NotFound:
            raise NotFound(f"{drift.resource} does not exist; a drift repair does not create a missing resource "
                           "(the lifecycle does: envdeck env create)",
                           backend=self.name) from None
        if drift.field == "replicas":
            await self.api.patch(path, {"spec": {"replicas": int(drift.desired)}}, MERGE_PATCH)
            return ActionResult(True, f"{kind.lower()}/{name} scaled to {drift.desired}")
        containers = [c.get("name") for c in
                      ((current.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or ()]
        if isinstance(drift.desired, dict):
            unknown = sorted(set(drift.desired) - set(containers))
            if unknown:
                raise InvalidRequest(f"{drift.resource} has no container {unknown[0]!r} "
                                     f"(containers: {', '.join(map(str, containers))})", backend=self.name)
        await self.api.patch(path, desired.image_patch(drift.desired, containers), STRATEGIC_MERGE_PATCH)
        return ActionResult(True, f"{kind.lower()}/{name} image set: {plain_value(drift.desired)}"
                            if isinstance(drift.desired, dict) else f"{kind.lower()}/{name} image set to {drift.desired}")

    # -- reading -------------------------------------------------------------
    def has_logs(self, resource: Resource) -> bool:
        """Pods and the workloads whose pods `logs` reads; not a Service, a ConfigMap, a Node."""
        return resource.kind == "Pod" or resource.kind in WORKLOADS

    async def logs(self, resource_id: str, *, follow: bool = False, tail: int | None = 100,
                   container: str | None = None, previous: bool = False) -> AsyncIterator[LogLine]:
        await self._ensure()
        assert self.api is not None
        kind, name = _split_id(resource_id)
        if kind == "Pod":
            pods = [await self.api.get(BY_KIND["Pod"].item(self.namespace, name))]
        elif kind in WORKLOADS:
            pods = await self._pods_of(kind, name)
        else:
            raise InvalidRequest(f"{resource_id} has no logs", backend=self.name)
        targets = targets_of(pods, container)
        if not targets:
            what = f"container {container!r}" if container else "pods"
            raise NotFound(f"{resource_id}: no {what} to read logs from", backend=self.name)
        async for line in merged_lines(self.api, self.namespace, targets, follow=follow, tail=tail,
                                       previous=previous):
            yield line

    async def _pods_of(self, kind: str, name: str) -> list[dict[str, Any]]:
        assert self.api is not None
        workload = await self.api.get(BY_KIND[kind].item(self.namespace, name))
        selector = selector_string((workload.get("spec") or {}).get("selector") or {})
        if not selector and kind == "Job":  # the apiserver defaults it to this label
            selector = f"batch.kubernetes.io/controller-uid={workload['metadata'].get('uid')}"
        if not selector:
            return []
        items, _ = await self.api.list_all(BY_KIND["Pod"].collection(self.namespace), labelSelector=selector)
        items.sort(key=lambda p: p["metadata"]["name"])
        return items

    async def metrics(self, resource_id: str | None, window_s: float) -> list[MetricSeries]:
        inv = await self._ensure()
        if not inv.tables["Pod"].entries or not inv.running:
            await asyncio.gather(*(i.ensure_synced() for i in inv.informers
                                   if i.spec.kind in ("Pod", "ReplicaSet")))
        await self._sample_metrics(inv, quiet=False)
        return self.history.series(None if resource_id is None else {resource_id}, window_s)

    async def _sample_metrics(self, inv: Inventory, quiet: bool = True) -> list[tuple[str, str, float]]:
        """Fetch usage now (when the metrics API exists) into the history; the samples."""
        return self._record_usage(inv, await self._fetch_usage(quiet))

    async def _fetch_usage(self, quiet: bool = True) -> Usage | None:
        if time.monotonic() < self._metrics_absent_until:
            return None
        assert self.api is not None
        try:
            usage = await fetch_pod_usage(self.api, self.namespace)
        except BackendError as exc:
            if not quiet:
                raise
            log.info("metrics unavailable: %s", exc)
            return None
        if usage is None:
            self._metrics_absent_until = time.monotonic() + METRICS_RETRY_ABSENT_S
        return usage

    def _record_usage(self, inv: Inventory, usage: Usage | None) -> list[tuple[str, str, float]]:
        if usage is None:
            return []
        samples = self._usage_samples(inv, usage)
        self.history.add(now_utc(), samples)
        return samples

    def _usage_samples(self, inv: Inventory, usage: Usage) -> list[tuple[str, str, float]]:
        samples: list[tuple[str, str, float]] = []
        per_workload: dict[str, list[float]] = {}
        with_pods = len(usage) <= MAX_POD_SAMPLES
        for pod in inv.pods():
            used = usage.get(pod.resource.name)
            if used is None:
                continue
            if with_pods:
                samples += [(pod.resource.id, "cpu", used[0]), (pod.resource.id, "memory", used[1])]
            workload = inv.workload_of(pod)
            if workload:
                total = per_workload.setdefault(desired.rid(*workload.split("/", 1)), [0.0, 0.0])
                total[0] += used[0]
                total[1] += used[1]
        for res_id, (cpu, memory) in per_workload.items():
            samples += [(res_id, "cpu", round(cpu, 3)), (res_id, "memory", memory)]
        return samples

    # -- acting --------------------------------------------------------------
    def actions(self, resource: Resource) -> list[ActionSpec]:
        return actions.actions_for(resource)

    async def perform(self, resource: Resource, action: str, params: dict[str, str]) -> ActionResult:
        await self._ensure()
        assert self.api is not None
        if action == "shell":
            argv = self.shell_command(resource)
            if argv is None:
                raise InvalidRequest(f"{resource.id} has no shell", backend=self.name)
            return ActionResult(True, actions.shell_line(argv), {"argv": argv})
        return await actions.perform(self.api, self.namespace, resource, action, params)

    async def content_digests(self, resource: Resource, salt: bytes) -> dict[str, str] | None:
        if resource.kind not in ("ConfigMap", "Secret"):
            return None
        await self._ensure()
        assert self.api is not None
        obj = await self.api.get(BY_KIND[resource.kind].item(self.namespace, resource.name))
        return actions.content_digests(obj, salt, secret=resource.kind == "Secret")

    def shell_command(self, resource: Resource) -> list[str] | None:
        if resource.kind != "Pod" or resource.attributes.get("placeholder"):
            return None
        return actions.shell_argv(self.connection, self.namespace, resource.name)

    # -- port-forward (portforward.py) -----------------------------------------
    async def forward_ports(self, resource: Resource) -> list[ForwardPort]:
        await self._ensure()
        assert self.api is not None
        return await portforward.ports_of(self.api, self.namespace, resource.kind, resource.name)

    async def port_forward(self, resource: Resource, remote_port: int,
                           local_port: int | None = None) -> portforward.PortForwarder:
        """A listener on 127.0.0.1 forwarding to the pod's or service's `remote_port`."""
        await self._ensure()
        assert self.api is not None
        return await portforward.open_forward(self.api, self.namespace, resource.kind, resource.name,
                                              remote_port, local_port)

    async def check(self) -> str:
        await self._ensure()
        assert self.connection is not None and self.api is not None
        version = await cluster_version(self.connection, float(self.defaults.timeout))
        try:
            await self.api.get(item_path("v1", "namespaces", None, self.namespace))
        except NotFound:
            raise NotFound(f"namespace {self.namespace!r} does not exist at {self.connection.host}",
                           backend=self.name) from None
        except BackendError as exc:
            if getattr(exc, "http_status", None) != 403:  # a namespace-scoped user may not get it
                raise
        inv = await self._ensure()
        self._not_listable = await inv.probe_forbidden()
        self._not_discovered = list(inv.discovered.unavailable) if inv.discovered else []
        kinds = len(inv.informers) - 1  # the event log is not a kind shown
        return f"Kubernetes {version} at {self.connection.host}, namespace {self.namespace}, {kinds} kinds"

    def doctor_notes(self) -> list[str]:
        notes = []
        if self._not_listable:
            notes.append(f"kubernetes: not allowed to list: {', '.join(self._not_listable)} (skipped)")
        if self._not_discovered:
            notes.append(f"kubernetes: API groups not answering discovery: {', '.join(self._not_discovered)} "
                         "(their kinds are not shown)")
        return notes


def _split_id(resource_id: str) -> tuple[str, str]:
    parts = resource_id.split("/", 2)
    if len(parts) != 3 or parts[0] != "kubernetes" or not parts[2]:
        raise InvalidRequest(f"{resource_id!r} is not a kubernetes resource id", backend="kubernetes")
    return parts[1], parts[2]
