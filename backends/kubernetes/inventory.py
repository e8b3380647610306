"""The namespace's inventory: one informer per kind, kept across watch() calls so
that a reconnect resumes from the last resourceVersions instead of relisting."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from backends.kubernetes.api import KubeApi
from backends.kubernetes.convert import Converted
from backends.kubernetes.events import EventLog
from backends.kubernetes.informer import Informer, ResourceTable
from backends.kubernetes.kinds import KINDS
from tui.core.errors import BackendError, BackendUnreachable
from tui.core.model import Event, Fault, Resource


class Inventory:
    def __init__(self, api: KubeApi, namespace: str):
        self.api = api
        self.namespace = namespace
        self.changed = asyncio.Event()
        self.tables: dict[str, ResourceTable] = {}
        self.events = EventLog()
        self.informers: list[Informer] = []
        for spec in KINDS:
            sink = self.events if spec.convert is None else self.tables.setdefault(spec.kind, ResourceTable(spec))
            self.informers.append(Informer(api, spec, namespace, sink, self._mark_changed))
        self._tasks: list[asyncio.Task] = []

    def _mark_changed(self) -> None:
        self.changed.set()

    # -- lifecycle -----------------------------------------------------------
    @property
    def running(self) -> bool:
        return any(not t.done() for t in self._tasks)

    @property
    def synced(self) -> bool:
        return all(i.synced for i in self.informers)

    async def list_all(self) -> None:
        """One list of every kind (what observe() does when nothing is watching)."""
        await _gather_or_cancel([i.relist() for i in self.informers])

    def start(self) -> None:
        if not self.running:
            self.changed = asyncio.Event()  # bound to the running loop
            self._tasks = [asyncio.create_task(i.run(), name=f"k8s-informer-{i.spec.kind}")
                           for i in self.informers]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def failure(self) -> BaseException | None:
        """The error of an informer that died, if any."""
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                return task.exception()
        return None

    async def wait_changed_or_failed(self, timeout: float | None = None) -> None:
        """Wait until something changed, an informer died (then raise its error),
        or `timeout` seconds passed."""
        waiter = asyncio.create_task(self.changed.wait())
        try:
            pending = [t for t in self._tasks if not t.done()]
            await asyncio.wait([waiter, *pending], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        self.raise_failure()

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
        out.extend(self.events.faults())
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


async def _gather_or_cancel(coros: list) -> None:
    tasks = [asyncio.create_task(c) for c in coros]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
