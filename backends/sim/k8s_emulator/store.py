"""The emulator's object store: etcd's role, in memory.

- One global resourceVersion counter (like etcd's revision); every write bumps it.
- Stored objects are treated as immutable: a write stores a new dict. Each
  entry caches its JSON bytes, so a list of 20,000 pods is one `b",".join`.
- Every write is appended to a bounded per-type history (for watch resume) and
  pushed to the live watchers of that type. A watch from a resourceVersion older
  than the history keeps answers `410 Gone` (`compacted_rv`).
- Listeners (the controllers) are told about every write.

Not thread-safe: only the emulator's event loop thread touches it.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from .resources import TYPES, ResourceType


def _py_clone(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _py_clone(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_py_clone(v) for v in obj]
    return obj


def _py_encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


try:  # orjson is ~10x faster; the stdlib handles what it refuses (integers beyond 64 bits)
    import orjson

    def encode(obj: Any) -> bytes:
        try:
            return orjson.dumps(obj)
        except TypeError:
            return _py_encode(obj)

    def clone(obj: Any) -> Any:
        """A deep copy of a JSON-like value (dicts, lists, scalars): much faster than copy.deepcopy."""
        try:
            return orjson.loads(orjson.dumps(obj))
        except TypeError:
            return _py_clone(obj)
except ImportError:  # pragma: no cover - depends on the machine
    encode = _py_encode
    clone = _py_clone


Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace or "", name)
Listener = Callable[[ResourceType, str, Obj, Obj | None], None]


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Entry:
    """One stored object and its cached encoding."""

    __slots__ = ("obj", "_raw")

    def __init__(self, obj: Obj, raw: bytes | None = None):
        self.obj = obj
        self._raw = raw

    @property
    def raw(self) -> bytes:
        if self._raw is None:
            self._raw = encode(self.obj)
        return self._raw


class WatchEvent:
    """One change: type ADDED|MODIFIED|DELETED, the object after it, the object before it."""

    __slots__ = ("type", "rv", "entry", "old")

    def __init__(self, type_: str, rv: int, entry: Entry, old: Obj | None):
        self.type = type_
        self.rv = rv
        self.entry = entry
        self.old = old


class Watcher:
    """A live watch: events are queued here by the store, read by the HTTP handler."""

    __slots__ = ("namespace", "queue")

    def __init__(self, namespace: str | None):
        self.namespace = namespace
        self.queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue()


class TypeTable:
    __slots__ = ("objects", "_sorted", "history", "compacted_rv", "watchers")

    def __init__(self) -> None:
        self.objects: dict[Key, Entry] = {}
        self._sorted: list[Key] | None = None
        self.history: deque[WatchEvent] = deque()
        self.compacted_rv = 0
        self.watchers: set[Watcher] = set()

    def sorted_keys(self) -> list[Key]:
        if self._sorted is None:
            self._sorted = sorted(self.objects)
        return self._sorted


class Store:
    def __init__(self, history_limit: int = 10_000):
        self.rv = 1
        self.history_limit = history_limit
        self.tables: dict[str, TypeTable] = {t.key: TypeTable() for t in TYPES if t.stored}
        self.listeners: list[Listener] = []

    # -- reads ---------------------------------------------------------------
    def table(self, rt: ResourceType) -> TypeTable:
        return self.tables[rt.key]

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        entry = self.tables[rt.key].objects.get(((namespace or "") if rt.namespaced else "", name))
        return entry.obj if entry else None

    def entries(self, rt: ResourceType, namespace: str | None = None, start_after: Key | None = None
                ) -> Iterator[tuple[Key, Entry]]:
        """Entries in key order (namespace, name), optionally one namespace, after a key.
        Starts by bisection, as etcd's range reads do: a page of a paginated list costs
        the page, not the whole collection (40 pages of 20,000 pods were O(n) each)."""
        table = self.tables[rt.key]
        keys = table.sorted_keys()
        scoped = namespace is not None and rt.namespaced
        start = bisect.bisect_left(keys, (namespace,)) if scoped else 0
        if start_after is not None:
            start = max(start, bisect.bisect_right(keys, start_after))
        objects = table.objects
        for i in range(start, len(keys)):
            key = keys[i]
            if scoped and key[0] != namespace:
                return
            entry = objects.get(key)
            if entry is not None:
                yield key, entry

    def objects(self, rt: ResourceType, namespace: str | None = None) -> Iterator[Obj]:
        for _, entry in self.entries(rt, namespace):
            yield entry.obj

    # -- writes --------------------------------------------------------------
    def create(self, rt: ResourceType, obj: Obj) -> Obj:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", now_iso())
        if rt.has_status:
            meta["generation"] = 1
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        self._write(rt, obj, "ADDED", None)
        return obj

    def update(self, rt: ResourceType, obj: Obj) -> Obj:
        meta = obj["metadata"]
        key = (meta.get("namespace", "") if rt.namespaced else "", meta["name"])
        old = self.tables[rt.key].objects[key].obj
        old_meta = old["metadata"]
        for kept in ("uid", "creationTimestamp"):
            meta[kept] = old_meta[kept]
        if rt.has_status:
            generation = old_meta.get("generation", 1)
            if obj.get("spec") != old.get("spec"):
                generation += 1
            meta["generation"] = generation
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        self._write(rt, obj, "MODIFIED", old)
        return obj

    def delete(self, rt: ResourceType, namespace: str | None, name: str) -> Obj | None:
        table = self.tables[rt.key]
        key = ((namespace or "") if rt.namespaced else "", name)
        entry = table.objects.get(key)
        if entry is None:
            return None
        final = dict(entry.obj)
        final["metadata"] = dict(entry.obj["metadata"])
        self._write(rt, final, "DELETED", entry.obj)
        return final

    def _write(self, rt: ResourceType, obj: Obj, type_: str, old: Obj | None) -> None:
        self.rv += 1
        meta = obj["metadata"]
        meta["resourceVersion"] = str(self.rv)
        if not rt.namespaced:
            meta.pop("namespace", None)
        table = self.tables[rt.key]
        key = (meta.get("namespace", ""), meta["name"])
        entry = Entry(obj)
        if type_ == "DELETED":
            del table.objects[key]
            table._sorted = None
        else:
            if key not in table.objects:
                table._sorted = None
            table.objects[key] = entry
        event = WatchEvent(type_, self.rv, entry, old)
        history = table.history
        if len(history) >= self.history_limit:
            table.compacted_rv = history.popleft().rv
        history.append(event)
        for watcher in table.watchers:
            watcher.queue.put_nowait(event)
        for listener in self.listeners:
            listener(rt, type_, obj, old)

    def add_type(self, rt: ResourceType) -> None:
        """Store a new type (a custom resource); versions of one resource share its table."""
        self.tables.setdefault(rt.key, TypeTable())

    def drop_type(self, rt: ResourceType) -> None:
        """Forget a type (its CRD is gone): its objects are deleted first (watchers see them
        DELETED), then its watches end."""
        table = self.tables.get(rt.key)
        if table is None:
            return
        for _, entry in list(self.entries(rt)):
            meta = entry.obj["metadata"]
            self.delete(rt, meta.get("namespace"), meta["name"])
        for watcher in table.watchers:
            watcher.queue.put_nowait(None)
        del self.tables[rt.key]

    # -- watch support -------------------------------------------------------
    def events_since(self, rt: ResourceType, rv: int) -> list[WatchEvent] | None:
        """History after `rv`, or None when part of it was compacted away (→ 410)."""
        table = self.tables[rt.key]
        if rv < table.compacted_rv:
            return None
        return [e for e in table.history if e.rv > rv]

    def compact(self) -> None:
        """Forget all history: any watch from an older resourceVersion gets 410."""
        for table in self.tables.values():
            table.history.clear()
            table.compacted_rv = self.rv

    def add_watcher(self, rt: ResourceType, watcher: Watcher) -> None:
        self.tables[rt.key].watchers.add(watcher)

    def remove_watcher(self, rt: ResourceType, watcher: Watcher) -> None:
        table = self.tables.get(rt.key)  # None: the type is gone (its CRD was deleted)
        if table is not None:
            table.watchers.discard(watcher)

    def close_watchers(self) -> None:
        """End every open watch (as an apiserver restart would)."""
        for table in self.tables.values():
            for watcher in table.watchers:
                watcher.queue.put_nowait(None)
