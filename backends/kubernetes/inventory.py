"""The namespace's inventory: one informer per kind, kept across watch() calls so
that a reconnect resumes from the last resourceVersions instead of relisting.

The kinds are the base kinds (kinds.BASE_KINDS, listed at once) plus what discovery
finds (discovery.py), read while the base kinds list. While watching, a supervisor
task watches CustomResourceDefinitions and reads discovery again when their shapes
change (a CRD created while envdeck runs appears without a restart; one deleted
takes its table with it); when the user may not list CRDs, discovery is read again
every `rediscover_s`. LISTs run at most `LIST_CONCURRENCY` at a time. A type RBAC
forbids (403) is skipped quietly and named by `forbidden()` (for `envdeck doctor`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator

from backends.kubernetes.api import KubeApi, ResourceExpired
from backends.kubernetes.convert import Converted
from backends.kubernetes.delta import DeltaTracker
from backends.kubernetes.discovery import CRD_SPEC, CrdShapes, Discovered, discover
from backends.kubernetes.events import EventLog
from backends.kubernetes.informer import Informer, ResourceTable
from backends.kubernetes.kinds import BASE_KINDS, KindSpec
from tui.core.errors import BackendDenied, BackendError, BackendUnreachable
from tui.core.model import Event, Fault, Resource

log = logging.getLogger(__name__)
#: LISTs in flight at once (first inventory: ~60 types beside 40 pages of 20k pods)
LIST_CONCURRENCY = 12
#: without a CRD watch (RBAC), discovery is read again this often; observe() re-reads it as often
REDISCOVER_S = 60.0
#: CRD changes arriving within this are read as one
CRD_SETTLE_S = 0.2
#: with more discovered kinds than this, the empty ones are listed every POLL_EMPTY_S instead of
#: watched (one connection per watch: a cluster with hundreds of CRDs would hold hundreds open)
WATCH_ALL_UP_TO = 64
POLL_EMPTY_S = 30.0


class Inventory:
    def __init__(self, api: KubeApi, namespace: str):
        self.api = api
        self.namespace = namespace
        self.changed = asyncio.Event()
        self.delta = DeltaTracker()  # what the tables changed since the watch last yielded
        self.tables: dict[str, ResourceTable] = {}
        self.events = EventLog()
        self.informers: list[Informer] = []
        self.discovered: Discovered | None = None
        self.rediscover_s = REDISCOVER_S
        self.watch_all_up_to = WATCH_ALL_UP_TO
        self.poll_empty_s = POLL_EMPTY_S
        self.discoveries = 0  # discovery passes done (tests read it)
        self._discovered_at = 0.0
        self._gate: asyncio.Semaphore | None = None
        self._tasks: dict[int, asyncio.Task] = {}  # by id(informer)
        self._supervisor: asyncio.Task | None = None
        self.crds = CrdShapes()
        self._crd_changed = asyncio.Event()
        self._set_kinds(list(BASE_KINDS))

    def _set_kinds(self, specs: list[KindSpec]) -> bool:
        """Watch exactly these kinds: new ones get an informer (started when running), gone
        ones lose theirs and their table. True when anything changed."""
        wanted = {s.key for s in specs}
        gone = [i for i in self.informers if i.spec.key not in wanted]
        for informer in gone:
            self.informers.remove(informer)
            task = self._tasks.pop(id(informer), None)
            if task is not None:
                task.cancel()
            if informer.sink is not self.events and self.tables.pop(informer.spec.kind, None) is not None:
                self.delta.relisted()  # its resources leave with it: the next observation is a full one
        have = {i.spec.key for i in self.informers}
        added = False
        for spec in specs:
            if spec.key in have:
                continue
            sink = self.events if spec.convert is None else self.tables.setdefault(spec.kind,
                                                                                  ResourceTable(spec, self.delta))
            informer = Informer(self.api, spec, self.namespace, sink, self._mark_changed)
            informer.gate = self._gate
            self.informers.append(informer)
            added = True
            if self._supervisor is not None and not self._supervisor.done():
                self._start(informer)
        discovered = [i for i in self.informers if i.spec.key not in _BASE_KEYS]
        poll = self.poll_empty_s if len(discovered) > self.watch_all_up_to else 0.0
        for informer in discovered:
            informer.poll_if_empty_s = poll
        return added or bool(gone)

    def _mark_changed(self) -> None:
        self.changed.set()

    # -- lifecycle -----------------------------------------------------------
    @property
    def running(self) -> bool:
        return any(not t.done() for t in self._all_tasks())

    @property
    def synced(self) -> bool:
        return self.discovered is not None and all(i.synced for i in self.informers)

    def _all_tasks(self) -> list[asyncio.Task]:
        return [*self._tasks.values(), *([self._supervisor] if self._supervisor is not None else [])]

    def _new_gate(self) -> None:
        self._gate = asyncio.Semaphore(LIST_CONCURRENCY)  # bound to the running loop
        for informer in self.informers:
            informer.gate = self._gate

    async def refresh_kinds(self) -> bool:
        """Read discovery and watch what it found; True when the kinds changed."""
        found = await discover(self.api)
        self.discoveries += 1
        self.discovered, self._discovered_at = found, time.monotonic()
        changed = self._set_kinds(found.specs)
        if changed:
            self._mark_changed()
        return changed

    async def list_all(self) -> None:
        """One list of every kind (what observe() does when nothing is watching); discovery
        is read (again when older than `rediscover_s`) while the kinds already known list."""
        self._new_gate()
        known = list(self.informers)

        async def discover_then_list() -> None:
            if self.discovered is not None and time.monotonic() - self._discovered_at < self.rediscover_s:
                return
            await self.refresh_kinds()
            await _gather_or_cancel([self._relist(i) for i in self.informers if i not in known])

        await _gather_or_cancel([*(self._relist(i) for i in known), discover_then_list()])

    def start(self) -> None:
        if not self.running:
            self.changed = asyncio.Event()  # bound to the running loop
            self._crd_changed = asyncio.Event()
            self._new_gate()
            self._tasks = {}
            for informer in self.informers:
                self._start(informer)
            self._supervisor = asyncio.create_task(self._supervise(), name="k8s-discovery")

    def _start(self, informer: Informer) -> None:
        run = informer.run() if informer.spec.key in _BASE_KEYS else self._run_discovered(informer)
        self._tasks[id(informer)] = asyncio.create_task(run, name=f"k8s-informer-{informer.spec.kind}")

    async def _run_discovered(self, informer: Informer) -> None:
        """A discovered kind's informer: its errors do not end the watch (a CRD's broken
        conversion webhook answers 500; a CRD deleted answers 404 before discovery drops
        its kind); the last-known table stays, the error is kept in `unavailable`, and it
        tries again after `rediscover_s`. The base kinds' errors still end watch()."""
        while True:
            try:
                await informer.run()
                return
            except BackendError as exc:
                if not _tolerated(informer, exc):
                    raise
            await asyncio.sleep(self.rediscover_s)

    async def _relist(self, informer: Informer) -> None:
        """One LIST; a discovered kind's error leaves it out of this pass (as `_run_discovered`)."""
        try:
            await informer.relist()
        except BackendError as exc:
            if informer.spec.key in _BASE_KEYS or not _tolerated(informer, exc):
                raise

    async def _supervise(self) -> None:
        """Discovery, then keep it current: on CRD changes, or every `rediscover_s` when
        CRDs cannot be watched."""
        crd = Informer(self.api, CRD_SPEC, self.namespace, self.crds, self._crd_changed.set)
        await crd.ensure_synced()  # before discovery: what changes after it is seen by the watch
        seen = self.crds.signature()
        await self.refresh_kinds()
        crd_task = asyncio.create_task(crd.run(), name="k8s-crd-watch") if not crd.disabled else None
        try:
            while True:
                waiter = asyncio.create_task(self._crd_changed.wait())
                watched = crd_task is not None and not crd_task.done()
                pending = [waiter, crd_task] if watched and crd_task is not None else [waiter]
                await asyncio.wait(pending, timeout=None if watched else self.rediscover_s,
                                   return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                if crd_task is not None and crd_task.done():
                    crd_task.result()  # an error ends the supervisor (and so watch()); a 403 just returns
                    crd_task = None
                if not watched:
                    await self.refresh_kinds()
                    continue
                await asyncio.sleep(CRD_SETTLE_S)
                self._crd_changed.clear()
                if self.crds.signature() != seen:
                    seen = self.crds.signature()
                    await self.refresh_kinds()
        finally:
            if crd_task is not None:
                crd_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await crd_task

    async def stop(self) -> None:
        tasks = self._all_tasks()
        self._tasks, self._supervisor = {}, None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def failure(self) -> BaseException | None:
        """The error of an informer (or of discovery) that died, if any."""
        for task in self._all_tasks():
            if task.done() and not task.cancelled() and task.exception() is not None:
                return task.exception()
        return None

    async def wait_changed_or_failed(self, timeout: float | None = None) -> None:
        """Wait until something changed, an informer died (then raise its error),
        or `timeout` seconds passed."""
        waiter = asyncio.create_task(self.changed.wait())
        try:
            pending = [t for t in self._all_tasks() if not t.done()]
            await asyncio.wait([waiter, *pending], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        self.raise_failure()

    # -- RBAC ----------------------------------------------------------------
    def unavailable(self) -> dict[str, str]:
        """Discovered types whose last LIST or watch failed (kubectl's name → the error)."""
        return {i.spec.resource_name: i.unavailable for i in self.informers if i.unavailable}

    def forbidden(self) -> list[str]:
        """Resource types skipped because RBAC forbids listing them (`configmaps`, `ingresses.networking.k8s.io`)."""
        return sorted(i.spec.resource_name for i in self.informers if i.denied)

    async def probe_forbidden(self) -> list[str]:
        """Discovery, then one `limit=1` LIST per type: those answering 403 (for `envdeck doctor`,
        without listing everything)."""
        if self.discovered is None:
            await self.refresh_kinds()
        gate = asyncio.Semaphore(LIST_CONCURRENCY)

        async def denied(informer: Informer) -> str | None:
            async with gate:
                try:
                    await self.api.get(informer.path, limit=1)
                except BackendDenied:
                    return informer.spec.resource_name
                except BackendError:
                    return None
            return None

        names = await asyncio.gather(*(denied(i) for i in self.informers))
        return sorted({n for n in names if n} | set(self.forbidden()))

    def raise_failure(self) -> None:
        """Raise the error of an informer that died (as a BackendError), if any."""
        error = self.failure()
        if error is None:
            return
        if isinstance(error, BackendError):
            raise error
        raise BackendUnreachable(f"watch failed: {error}", backend="kubernetes") from error

    # -- reading -------------------------------------------------------------
    def resources(self) -> list[Resource]:
        out: list[Resource] = []
        for table in self.tables.values():
            out.extend(table.resources())
        return out

    def faults(self) -> list[Fault]:
        out = [f for table in self.tables.values() for f in table.faults()]
        # an event of a deleted object is no fault: the kinds listed in full (synced, not skipped
        # nor failing) say which objects exist (backends/kubernetes/events.py)
        held = {i.spec.kind: self.tables[i.spec.kind] for i in self.informers
                if i.spec.kind in self.tables and i.synced and not (i.disabled or i.unavailable)}
        out.extend(self.events.faults(held))
        return out

    def take_events(self) -> list[Event]:
        return self.events.take_new()

    def entry(self, kind: str, name: str) -> Converted | None:
        table = self.tables.get(kind)
        return table.entries.get(name) if table else None

    def workload_of(self, pod: Converted) -> str | None:
        """'Kind/name' of the workload that owns a pod (a Deployment through its ReplicaSet)."""
        owner = pod.owner
        if owner and owner.startswith("ReplicaSet/"):
            rs = self.entry("ReplicaSet", owner.partition("/")[2])
            if rs is not None and rs.owner and rs.owner.startswith("Deployment/"):
                return rs.owner
        return owner

    def pods(self) -> Iterator[Converted]:
        yield from self.tables["Pod"].entries.values()


_BASE_KEYS = frozenset(k.key for k in BASE_KINDS)


def _tolerated(informer: Informer, exc: BackendError) -> bool:
    """Record a discovered kind's failure (synced with its last-known table, so that one
    broken type never holds back the observations); False for a 410, which run() handles."""
    if isinstance(exc, ResourceExpired):
        return False
    log.info("kubernetes: %s skipped for now: %s", informer.spec.resource_name, exc)
    informer.unavailable = str(exc)
    informer.synced = True
    return True


async def _gather_or_cancel(coros: list) -> None:
    tasks = [asyncio.create_task(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
