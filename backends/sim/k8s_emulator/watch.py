"""`?watch=true`: newline-delimited JSON events, as the apiserver's watch cache sends them.

- No resourceVersion (or "0"): synthetic ADDED events for the current state, then changes.
- resourceVersion=N: every change after N from the history; if that history was
  compacted, HTTP 200 and one `ERROR` event whose object is a Status with code 410
  (what a real apiserver sends for "too old resource version").
- Selectors are applied to both sides of a change: an object that starts matching
  arrives as ADDED, one that stops matching as DELETED.
- `allowWatchBookmarks=true`: periodic BOOKMARK events carrying only the resourceVersion;
  with `sendInitialEvents=true` the initial state ends with the `k8s.io/initial-events-end` bookmark.
- resourceVersion=N beyond the store's (the server restarted with fresh state, etcd was
  restored): after waiting `too_large_wait_s` for the store to reach N, HTTP 200 and one
  `ERROR` event whose Status is kube-apiserver's "Too large resource version" (504 Timeout,
  cause `ResourceVersionTooLarge`, retryAfterSeconds 1; client-go's reflector relists on it).
- `timeoutSeconds`: the stream ends cleanly after that long.
- `failure.silent_watches`: accepted, then nothing at all (no event, no bookmark, no end)
  until the client drops it, the failure is healed or the emulator closes its watches.
- `failure.watch_error` (410 or 504): HTTP 200 and one `ERROR` event at once, 410 Gone or 504
  "Too large resource version" (a server that answers so forever).
- `failure.endless_watch_line`: HTTP 200, then 64 KiB chunks of `A` without a newline until the
  client drops it (a hostile proxy); `failure.watch_lines_sent` counts the bytes.
- `freeze()` (server.py): an open watch sends nothing and does not end (its timeoutSeconds passing
  or not) until `thaw()`; then what changed meanwhile is sent, as by a stopped server continued.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import tables
from .resources import ResourceType
from .selectors import SelectorError, field_matcher, label_matcher
from .status import ApiError, too_large
from .store import Entry, Watcher, WatchEvent, encode

if TYPE_CHECKING:
    from .emulator import Emulator

TRUTHY = ("true", "True", "1")


def _matcher(request: web.Request, rt: ResourceType, namespace: str | None) -> Any:
    try:
        label_m = label_matcher(request.query.get("labelSelector"))
        field_m = field_matcher(request.query.get("fieldSelector"), rt)
    except SelectorError as exc:
        raise ApiError(400, str(exc)) from None

    def matches(obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        meta = obj["metadata"]
        if namespace is not None and rt.namespaced and meta.get("namespace") != namespace:
            return False
        if label_m is not None and not label_m(meta.get("labels") or {}):
            return False
        return field_m is None or field_m(obj)

    return matches


class _Stream:
    def __init__(self, request: web.Request, resp: web.StreamResponse, rt: ResourceType, as_table: bool):
        self.request = request
        self.resp = resp
        self.rt = rt
        self.as_table = as_table
        self.include = request.query.get("includeObject", "Metadata")

    async def send(self, type_: str, entry: Entry) -> None:
        if self.as_table:
            obj = encode(tables.table(self.rt, [entry.obj], {"resourceVersion": entry.obj["metadata"].get(
                "resourceVersion", "")}, self.include))
        else:
            obj = entry.raw
        await self.resp.write(b'{"type":"' + type_.encode() + b'","object":' + obj + b"}\n")

    async def send_raw(self, type_: str, obj: dict[str, Any]) -> None:
        await self.resp.write(encode({"type": type_, "object": obj}) + b"\n")

    def closed(self) -> bool:
        transport = self.request.transport
        return transport is None or transport.is_closing()


def _translate(event: WatchEvent, matches: Any) -> str | None:
    if event.type == "ADDED":
        return "ADDED" if matches(event.entry.obj) else None
    if event.type == "DELETED":
        return "DELETED" if matches(event.old) else None
    was, now = matches(event.old), matches(event.entry.obj)
    if was and now:
        return "MODIFIED"
    if now:
        return "ADDED"
    return "DELETED" if was else None


async def serve_watch(request: web.Request, emu: Emulator, rt: ResourceType, namespace: str | None
                      ) -> web.StreamResponse:
    q = request.query
    matches = _matcher(request, rt, namespace)
    bookmarks = q.get("allowWatchBookmarks") in TRUTHY
    initial_events = q.get("sendInitialEvents") in TRUTHY
    try:
        timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else emu.watch_timeout_s
    except ValueError:
        raise ApiError(400, f"invalid timeoutSeconds: {q.get('timeoutSeconds')!r}") from None
    rv_param = q.get("resourceVersion") or ""
    try:
        since = int(rv_param) if rv_param not in ("", "0") else None
    except ValueError:
        raise ApiError(400, f"invalid resource version: {rv_param!r}") from None
    store = emu.store
    watcher = Watcher(namespace)
    store.add_watcher(rt, watcher)
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    resp.enable_chunked_encoding()
    stream = _Stream(request, resp, rt, tables.wants_table(request.headers.get("Accept", "")))
    try:
        await resp.prepare(request)
        if emu.failure.silent_watches:
            await _stay_silent(stream, emu, watcher)
            return resp
        if emu.failure.endless_watch_line:
            await _endless_line(stream, emu)
            return resp
        if emu.failure.watch_error == 504:
            await stream.send_raw("ERROR", too_large(max(since or 0, store.rv) + 1000, store.rv).status())
            return resp
        if since is not None and since > store.rv and not await _reached(emu, since):
            await stream.send_raw("ERROR", too_large(since, store.rv).status())
            return resp
        last_rv = store.rv
        if emu.failure.gone_watches or emu.failure.watch_error == 410 or (since is not None and store.events_since(rt, since) is None):
            await stream.send_raw("ERROR", ApiError(410, f"too old resource version: {since or 0} "
                                                         f"({store.table(rt).compacted_rv + 1})", "Expired").status())
            return resp
        if since is None or initial_events:
            for _, entry in store.entries(rt, namespace):
                if matches(entry.obj):
                    await stream.send("ADDED", entry)
            if bookmarks and initial_events:
                await stream.send_raw("BOOKMARK", _bookmark(rt, last_rv, initial_end=True))
        else:
            for event in store.events_since(rt, since) or []:
                if event.rv > last_rv:
                    break
                type_ = _translate(event, matches)
                if type_:
                    await stream.send(type_, event.entry)
        await _follow(stream, emu, watcher, matches, last_rv, timeout, bookmarks)
    except ConnectionResetError:
        pass
    finally:
        store.remove_watcher(rt, watcher)
    return resp


async def _reached(emu: Emulator, rv: int) -> bool:
    """Wait (up to `too_large_wait_s`) for the store to reach `rv`, as the watch cache does."""
    deadline = time.monotonic() + emu.too_large_wait_s
    while emu.store.rv < rv:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def _stay_silent(stream: _Stream, emu: Emulator, watcher: Watcher) -> None:
    while emu.failure.silent_watches and not stream.closed():
        try:
            if await asyncio.wait_for(watcher.queue.get(), timeout=0.5) is None:
                return
        except TimeoutError:
            continue


async def _endless_line(stream: _Stream, emu: Emulator) -> None:
    chunk = b"A" * 65536
    while emu.failure.endless_watch_line and not stream.closed():
        await stream.resp.write(chunk)  # waits while the client does not read (the transport's flow control)
        emu.failure.watch_lines_sent += len(chunk)
        await asyncio.sleep(0)


def _bookmark(rt: ResourceType, rv: int, initial_end: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}


async def _follow(stream: _Stream, emu: Emulator, watcher: Watcher, matches: Any, last_rv: int, timeout: float,
                  bookmarks: bool) -> None:
    deadline = time.monotonic() + timeout
    next_bookmark = time.monotonic() + emu.bookmark_interval_s
    while True:
        await emu.while_frozen()  # a frozen server neither sends nor ends a watch
        now = time.monotonic()
        if now >= deadline:
            return
        wait = min(deadline - now, 1.0, max(next_bookmark - now, 0.01) if bookmarks else 1.0)
        try:
            event = await asyncio.wait_for(watcher.queue.get(), timeout=wait)
        except TimeoutError:
            if stream.closed():
                return
            if bookmarks and time.monotonic() >= next_bookmark:
                await emu.while_frozen()
                await stream.send_raw("BOOKMARK", _bookmark(stream.rt, emu.store.rv))
                next_bookmark = time.monotonic() + emu.bookmark_interval_s
            continue
        if event is None:  # the emulator closes all watches
            return
        if event.rv <= last_rv:
            continue
        last_rv = event.rv
        type_ = _translate(event, matches)
        if type_:
            await emu.while_frozen()  # an event of a change made while frozen is sent once thawed
            await stream.send(type_, event.entry)
