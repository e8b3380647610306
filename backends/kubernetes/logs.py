"""Pod logs: one container, all containers of a pod, or all pods of a workload
merged, each line tagged with its `pod/container` source.

Lines are requested with `timestamps=true` so that merged output of several
streams can be ordered when not following; the timestamp goes into
`LogLine.at` and the text stays as the container wrote it. Closing the
iterator cancels the readers, which closes their HTTP streams.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from backends.kubernetes.api import KubeApi
from backends.kubernetes.api_paths import item_path
from tui.core.errors import InvalidRequest, NotFound
from tui.core.model import LogLine

# Like kubectl's --max-log-requests, but a workload's pods are what one wants to see.
MAX_STREAMS = 50
_DONE = object()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def split_timestamp(line: str) -> tuple[datetime | None, str]:
    """`2024-05-01T10:00:00.123456789Z text` → (time, text); lines without one stay whole."""
    stamp, sep, rest = line.partition(" ")
    if sep and len(stamp) >= 20 and stamp[4:5] == "-" and stamp[10:11] == "T":
        try:
            return datetime.fromisoformat(stamp.replace("Z", "+00:00")), rest
        except ValueError:
            pass
    return None, line


def selector_string(selector: dict[str, Any]) -> str:
    """A LabelSelector object → the `labelSelector` query syntax."""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or ():
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


class LogTarget:
    """One container of one pod."""

    __slots__ = ("pod", "container")

    def __init__(self, pod: str, container: str):
        self.pod = pod
        self.container = container

    @property
    def source(self) -> str:
        return f"{self.pod}/{self.container}"


def targets_of(pods: list[dict[str, Any]], container: str | None) -> list[LogTarget]:
    out = []
    for pod in pods:
        name = pod["metadata"]["name"]
        names = [c["name"] for c in (pod.get("spec") or {}).get("containers") or ()]
        if container is not None:
            if container in names:
                out.append(LogTarget(name, container))
        else:
            out.extend(LogTarget(name, c) for c in names)
    return out


async def _stream(api: KubeApi, namespace: str, target: LogTarget, *, follow: bool, tail: int | None,
                  previous: bool) -> AsyncIterator[LogLine]:
    path = item_path("v1", "pods", namespace, target.pod, "log")
    params: dict[str, Any] = {"container": target.container, "timestamps": True}
    if follow:
        params["follow"] = True
    if tail is not None:
        params["tailLines"] = tail
    if previous:
        params["previous"] = True
    async for raw in api.stream_lines(path, **params):
        at, text = split_timestamp(raw)
        yield LogLine(text, target.source, at)


async def merged_lines(api: KubeApi, namespace: str, targets: list[LogTarget], *, follow: bool,
                       tail: int | None, previous: bool) -> AsyncIterator[LogLine]:
    """Lines of several streams: each stream's order is kept; without follow the
    lines are ordered by timestamp, with follow they come as they arrive."""
    if len(targets) == 1:
        async for line in _stream(api, namespace, targets[0], follow=follow, tail=tail, previous=previous):
            yield line
        return
    if len(targets) > MAX_STREAMS:
        yield LogLine(f"envdeck: showing {MAX_STREAMS} of {len(targets)} containers", "envdeck")
        targets = targets[:MAX_STREAMS]
    if not follow:
        chunks = await asyncio.gather(*(_collect(api, namespace, t, tail, previous) for t in targets))
        lines = [line for chunk in chunks for line in chunk]
        lines.sort(key=lambda ln: ln.at or _EPOCH)  # stable: each stream keeps its order
        for line in lines:
            yield line
        return
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=10_000)

    async def pump(target: LogTarget) -> None:
        try:
            async for line in _stream(api, namespace, target, follow=True, tail=tail, previous=previous):
                await queue.put(line)
        except Exception as exc:  # noqa: BLE001 - one pod's failure must not end the others
            await queue.put(LogLine(f"envdeck: log stream ended: {exc}", target.source))
        finally:
            await queue.put(_DONE)

    tasks = [asyncio.create_task(pump(t)) for t in targets]
    try:
        remaining = len(tasks)
        while remaining:
            item = await queue.get()
            if item is _DONE:
                remaining -= 1
                continue
            yield item
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def _collect(api: KubeApi, namespace: str, target: LogTarget, tail: int | None,
                   previous: bool) -> list[LogLine]:
    try:
        return [line async for line in _stream(api, namespace, target, follow=False, tail=tail,
                                               previous=previous)]
    except (InvalidRequest, NotFound) as exc:  # e.g. a container that has not started yet
        return [LogLine(f"envdeck: cannot read logs: {exc}", target.source)]
