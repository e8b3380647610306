"""List + watch of one kind, as client-go's informers do it.

An informer lists its collection page by page, then watches from the list's
resourceVersion; when a watch ends it reconnects from the last resourceVersion
it saw (bookmarks included). It lists again, as client-go's reflector does, on
`410 Gone` (the resourceVersion is older than the server keeps) and on 504 "Too
large resource version" (the server never reached it: it was reset, restarted with
fresh state or restored from an etcd backup, so the rows would otherwise never
converge). A watch that stays open and silent (no event, not even the bookmark
asked for) past `KubeApi.watch_silent_after_s` is dropped and watched again from
the last resourceVersion; when the next one is silent too, the informer lists again.

A server that answers every watch with 410/504 (or a stream with an endless line, or lines that
together would pass the process's budget of unfinished watch lines: api.WatchLineBudget) must not
make the informer list in a loop: the first relist comes at once (at most one a second), each
further one without a watch that delivered an event or a bookmark in between waits twice as long
(2, 4, 8 ... `relist_backoff_max_s`, jittered), and the kind's table carries a `WatchRelisting`
fault saying so until a watch delivers again. Unchanged objects
keep their Converted entry (and so the same Resource object), which lets the
reconciler find changes by identity at 20,000 pods.

A relist is staged: the pages fill a `Relist` beside the live table, which keeps
serving the last-known state (the informer stays `synced`), and `commit()`
swaps the result in at once. So a `410 Gone` storm on every watch still
publishes what each successful relist saw, without showing a half-listed table.
How long a watch lasts and how long a silent one is trusted: see `KubeApi.watch_timeout_s`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from typing import Any, Protocol

from backends.kubernetes.api import (
    KubeApi,
    ResourceExpired,
    ResourceVersionTooLarge,
    WatchEventTooLong,
    WatchLinesOverBudget,
    paused_gc,
)
from backends.kubernetes.convert import Converted, same_content
from backends.kubernetes.delta import DeltaTracker
from backends.kubernetes.kinds import KindSpec
from tui.core.errors import BackendDenied, NotFound
from tui.core.model import Fault, Resource, Severity, now_utc

log = logging.getLogger(__name__)

#: consecutive relists of one kind (no watch delivering in between) wait at most this long
RELIST_BACKOFF_MAX_S = 30.0


class Relist(Protocol):
    """What one LIST pass saw, kept apart from the live state until committed."""

    def upsert(self, obj: dict[str, Any]) -> None: ...
    def commit(self) -> bool:
        """Replace the live state with what was staged; True if anything changed."""
        ...


class Sink(Protocol):
    def upsert(self, obj: dict[str, Any]) -> None: ...
    def remove(self, name: str) -> None: ...
    def relist(self) -> Relist: ...


class ResourceTable:
    """The converted objects of one kind, by name; each change is told to `delta`."""

    def __init__(self, spec: KindSpec, delta: DeltaTracker | None = None):
        self.spec = spec
        self.entries: dict[str, Converted] = {}
        self.shown: dict[str, Resource] = {}  # entries' Resources, by name (resources() copies it at C speed)
        self.versions: dict[str, str] = {}
        #: metadata.uid by name: events follow an object's identity (backends/kubernetes/events.py)
        self.uids: dict[str, str] = {}
        self.faulty: dict[str, list[Fault]] = {}
        self.delta = delta or DeltaTracker()
        self.watch_fault: Fault | None = None  # set by the informer while its watches keep failing

    def upsert(self, obj: dict[str, Any]) -> None:
        name, version, entry = self.converted(obj)
        self.versions[name] = version
        self.uids[name] = _uid(obj)
        if self.entries.get(name) is entry:
            return
        self.entries[name] = entry
        self.shown[name] = entry.resource
        self.delta.changed(entry.resource.id, entry.resource)
        if entry.faults:
            self.faulty[name] = entry.faults
        else:
            self.faulty.pop(name, None)

    def converted(self, obj: dict[str, Any]) -> tuple[str, str, Converted]:
        """(name, resourceVersion, entry) of an object; the entry already held when
        the object did not change, or changed only in fields envdeck does not show."""
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        version = str(meta.get("resourceVersion") or "")
        old = self.entries.get(name)
        if old is not None and version and self.versions.get(name) == version:
            return name, version, old
        assert self.spec.convert is not None
        new = self.spec.convert(obj)
        if old is not None and old.faults == new.faults and old.owner == new.owner \
                and same_content(old.resource, new.resource):
            return name, version, old  # keep the same Resource
        return name, version, new

    def remove(self, name: str) -> None:
        gone = self.entries.pop(name, None)
        self.shown.pop(name, None)
        self.versions.pop(name, None)
        self.uids.pop(name, None)
        self.faulty.pop(name, None)
        if gone is not None:
            self.delta.changed(gone.resource.id, None)

    def relist(self) -> TableRelist:
        return TableRelist(self)

    def resources(self) -> list[Resource]:
        return list(self.shown.values())

    def faults(self) -> list[Fault]:
        out = [f for faults in self.faulty.values() for f in faults]
        if self.watch_fault is not None:
            out.append(self.watch_fault)
        return out


class TableRelist:
    """A relist of a ResourceTable: built beside it, swapped in by commit()."""

    def __init__(self, table: ResourceTable):
        self.table = table
        self.entries: dict[str, Converted] = {}
        self.versions: dict[str, str] = {}
        self.uids: dict[str, str] = {}

    def upsert(self, obj: dict[str, Any]) -> None:
        name, version, entry = self.table.converted(obj)
        self.entries[name] = entry
        self.versions[name] = version
        self.uids[name] = _uid(obj)

    def commit(self) -> bool:
        table = self.table
        changed = len(self.entries) != len(table.entries) or any(
            table.entries.get(name) is not entry for name, entry in self.entries.items())
        table.entries, table.versions, table.uids = self.entries, self.versions, self.uids
        table.shown = {name: e.resource for name, e in self.entries.items()}
        table.faulty = {name: e.faults for name, e in self.entries.items() if e.faults}
        if changed:
            table.delta.relisted()
        return changed


class Informer:
    def __init__(self, api: KubeApi, spec: KindSpec, namespace: str, sink: Sink,
                 on_change: Callable[[], None]):
        self.api = api
        self.spec = spec
        self.namespace = namespace
        self.sink = sink
        self.on_change = on_change
        self.resource_version = ""
        self.synced = False  # listed at least once: the table holds the last-known state
        self.needs_relist = False  # a watch got 410 Gone: list again (the table stays in use)
        self.disabled: str | None = None  # why an optional kind is skipped
        self.denied = False  # skipped because RBAC forbids listing it (403)
        self.unavailable = ""  # a discovered kind's last error (see Inventory._run_discovered)
        #: > 0: while the collection is empty, list it again this often instead of watching it
        #: (the Inventory sets it when a cluster has many kinds; most custom kinds are empty)
        self.poll_if_empty_s = 0.0
        self.gate: asyncio.Semaphore | None = None  # bounds concurrent LISTs (set by the Inventory)
        self.lists = 0  # LIST passes done (tests and benchmarks read them)
        self.watches = 0  # watch requests sent
        self.silent_watches = 0  # watches dropped because they stayed silent (tests read it)
        self.too_large = 0  # watches answered "Too large resource version" (tests read it)
        self._silent_in_a_row = 0
        #: relists in a row forced by failed watches, without a watch that delivered in between
        self.failed_in_a_row = 0
        self.relist_backoff_max_s = RELIST_BACKOFF_MAX_S
        self.degraded = ""  # what keeps failing, while relists back off ("" when watches deliver)
        self._announce_open = False
        self._listed_at = 0.0

    @property
    def path(self) -> str:
        return self.spec.collection(self.namespace)

    async def relist(self) -> None:
        """List the whole collection (page by page) and replace what is known at once."""
        self.lists += 1
        for attempt in range(3):
            try:
                if self.gate is None:
                    staged, version = await self._list_pages()
                else:
                    async with self.gate:
                        staged, version = await self._list_pages()
                break
            except ResourceExpired:  # the continue token expired mid-list: start again, as kubectl does
                if attempt == 2:
                    raise
            except (BackendDenied, NotFound) as exc:
                if not self.spec.optional:
                    raise
                self.disabled = str(exc)
                self.denied = isinstance(exc, BackendDenied)
                staged, version = self.sink.relist(), ""
                break
        changed = staged.commit()
        first = not self.synced
        self.resource_version = version
        self.synced = True
        self.needs_relist = False
        self._silent_in_a_row = 0
        self._listed_at = time.monotonic()
        if changed or first:
            self.on_change()

    async def _list_pages(self) -> tuple[Relist, str]:
        staged = self.sink.relist()
        version = ""
        with paused_gc():  # the whole list: see paused_gc
            async for items, page_version in self.api.list_pages(self.path):
                version = page_version
                for obj in items:
                    staged.upsert(obj)
                await asyncio.sleep(0)  # let the loop breathe between pages
        self.disabled = None
        self.denied = False
        self.unavailable = ""
        return staged, version

    async def ensure_synced(self) -> None:
        if not self.synced:
            await self.relist()

    async def run(self) -> None:
        """List if needed, then watch for ever; errors other than 410 propagate."""
        self._announce_open = True
        while True:
            if not self.synced or self.needs_relist or not self.resource_version:
                await self.relist()
            if self.disabled:
                return
            if self.poll_if_empty_s > 0 and getattr(self.sink, "entries", None) == {}:
                await asyncio.sleep(self.poll_if_empty_s)
                self.needs_relist = True
                continue
            started = time.monotonic()
            try:
                ended = await self._watch_once()
            except ResourceExpired as exc:  # 410, 504 "Too large resource version", an endless line
                if isinstance(exc, ResourceVersionTooLarge):
                    self.too_large += 1
                self.needs_relist = True  # relist on the next turn; the last-known state stays shown
                await self._back_off(exc)
                continue
            if time.monotonic() - started < 1.0:
                await asyncio.sleep(0.5)  # a server ending watches at once must not make us spin
            elif ended and self.failed_in_a_row:
                self._delivered()  # ran until the server ended it: watches work (a quiet kind sends no bookmark)

    async def _back_off(self, exc: ResourceExpired) -> None:
        """Wait before the relist a failed watch asks for: at most one a second at first, then
        2, 4, 8 ... `relist_backoff_max_s` (x0.8-1.2) while no watch delivers in between."""
        self.failed_in_a_row += 1
        if isinstance(exc, WatchEventTooLong) and self.failed_in_a_row == 1:
            log.warning("kubernetes: %s", exc)
        if isinstance(exc, WatchLinesOverBudget) and self.failed_in_a_row == 1:
            # named at once: this watch was dropped for what every watch holds, not for its own line
            self._set_degraded(f"watch of {self.spec.resource_name}: {_what_failed(exc)}; restarted")
        if self.failed_in_a_row == 1:
            if time.monotonic() - self._listed_at < 1.0:
                await asyncio.sleep(1.0)  # a server answering 410 to every watch must not make us spin
            return
        base = min(self.relist_backoff_max_s, 2.0 ** (self.failed_in_a_row - 1))
        wait = base * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not crypto
        self._set_degraded(f"watch of {self.spec.resource_name}: {_what_failed(exc)}; relisting every {base:g}s")
        await asyncio.sleep(wait)

    def _set_degraded(self, message: str) -> None:
        if message == self.degraded:
            return
        if not self.degraded:
            log.warning("kubernetes: %s", message)
        else:
            log.info("kubernetes: %s", message)
        self.degraded = message
        if isinstance(self.sink, ResourceTable):
            self.sink.watch_fault = Fault(f"kubernetes/{self.spec.kind}", Severity.MEDIUM, "WatchRelisting", message,
                                          since=now_utc(), last_seen=now_utc())
        self.on_change()

    def _delivered(self) -> None:
        """A watch delivered an event or a bookmark (or ran until the server ended it): the relist
        backoff starts over."""
        self.failed_in_a_row = 0
        if self.degraded:
            log.info("kubernetes: watch of %s delivers again", self.spec.resource_name)
            self.degraded = ""
            if isinstance(self.sink, ResourceTable):
                self.sink.watch_fault = None
            self.on_change()

    async def _watch_once(self) -> bool:
        """One watch until it ends; True when the server ended it, False when dropped as silent."""
        self.watches += 1
        async for event in self.api.watch(self.path, self.resource_version):
            kind = event.get("type")
            obj = event.get("object") or {}
            meta = obj.get("metadata") or {}
            version = str(meta.get("resourceVersion") or "")
            if kind == "OPENED":
                if self._announce_open:  # (re)connected after a start: the source is reachable
                    self._announce_open = False
                    self.on_change()
                continue
            if kind == "SILENT":  # open, yet nothing by the time the server should have ended it
                self.silent_watches += 1
                self._silent_in_a_row += 1
                if self._silent_in_a_row >= 2:  # the last resourceVersion gets nothing: list again
                    self._silent_in_a_row = 0
                    self.needs_relist = True
                return False
            self._silent_in_a_row = 0
            if self.failed_in_a_row:
                self._delivered()
            if kind == "BOOKMARK":
                self.resource_version = version or self.resource_version
                continue
            if kind in ("ADDED", "MODIFIED"):
                self.sink.upsert(obj)
            elif kind == "DELETED":
                self.sink.remove(str(meta.get("name") or ""))
            if version:
                self.resource_version = version
            self.on_change()
        return True


def _uid(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def _what_failed(exc: ResourceExpired) -> str:
    """What the API server keeps doing, in a few words (the degraded message)."""
    if isinstance(exc, WatchEventTooLong):
        return str(exc).partition(": ")[2].partition(";")[0] or "watch events too long"
    if isinstance(exc, ResourceVersionTooLarge):
        return "the API server keeps answering 504 Too large resource version"
    status = getattr(exc, "http_status", 410)
    return f"the API server keeps answering {status} Gone (too old resource version)"
