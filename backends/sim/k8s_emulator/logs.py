"""Container logs: what the kubelet keeps, and `GET .../pods/NAME/log`.

Each (namespace, pod, container) has a bounded list of (timestamp, line); a
crash fault moves it to the "previous" container. Followers (`follow=true`)
get appended lines through a queue until the pod goes away or they disconnect.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from .status import ApiError

LogKey = tuple[str, str, str]
MAX_LINES = 20_000


def rfc3339nano(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond * 1000:09d}Z"


def _parse_created(stamp: str | None) -> datetime:
    try:
        return datetime.strptime(stamp or "", "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return datetime.now(UTC)


class LogBook:
    def __init__(self) -> None:
        self.current: dict[LogKey, deque[tuple[datetime, str]]] = {}
        self.previous: dict[LogKey, deque[tuple[datetime, str]]] = {}
        self.followers: dict[LogKey, set[asyncio.Queue[tuple[datetime, str] | None]]] = {}

    def _lines(self, pod: dict[str, Any], container: str) -> deque[tuple[datetime, str]]:
        key = (pod["metadata"].get("namespace", ""), pod["metadata"]["name"], container)
        lines = self.current.get(key)
        if lines is None:  # the container's start-up lines, created on first use
            start = _parse_created(pod["metadata"].get("creationTimestamp"))
            image = next((c.get("image", "") for c in pod["spec"].get("containers", []) if c["name"] == container), "")
            lines = deque(maxlen=MAX_LINES)
            for i, text in enumerate((f"starting {container} ({image})", "configuration loaded",
                                      f"listening on 0.0.0.0:8080 pod={pod['metadata']['name']}")):
                lines.append((start + timedelta(milliseconds=10 * i), text))
            self.current[key] = lines
        return lines

    def append(self, pod: dict[str, Any], container: str, line: str, when: datetime | None = None) -> None:
        entry = (when or datetime.now(UTC), line)
        self._lines(pod, container).append(entry)
        key = (pod["metadata"].get("namespace", ""), pod["metadata"]["name"], container)
        for queue in self.followers.get(key, ()):
            queue.put_nowait(entry)

    def restart(self, pod: dict[str, Any], container: str, last_line: str) -> None:
        """The container died (`last_line` was its last word) and started again."""
        lines = self._lines(pod, container)
        lines.append((datetime.now(UTC), last_line))
        key = (pod["metadata"].get("namespace", ""), pod["metadata"]["name"], container)
        self.previous[key] = lines
        self.current[key] = deque([(datetime.now(UTC), f"starting {container} (restarted)")], maxlen=MAX_LINES)

    def forget(self, namespace: str, pod_name: str) -> None:
        for store in (self.current, self.previous):
            for key in [k for k in store if k[:2] == (namespace, pod_name)]:
                del store[key]
        for key in [k for k in self.followers if k[:2] == (namespace, pod_name)]:
            for queue in self.followers[key]:
                queue.put_nowait(None)

    def close_followers(self) -> None:
        for queues in self.followers.values():
            for queue in queues:
                queue.put_nowait(None)


def _container(pod: dict[str, Any], requested: str | None) -> str:
    names = [c["name"] for c in pod["spec"].get("containers", [])]
    pod_name = pod["metadata"]["name"]
    if not requested:
        if len(names) == 1:
            return names[0]
        raise ApiError(400, f"a container name must be specified for pod {pod_name}, choose one of: "
                            f"[{' '.join(names)}]")
    if requested not in names:
        raise ApiError(400, f"container {requested} is not valid for pod {pod_name}")
    return requested


def _check_started(pod: dict[str, Any], container: str) -> None:
    for cs in (pod.get("status") or {}).get("containerStatuses", []):
        waiting = (cs.get("state") or {}).get("waiting")
        if cs.get("name") == container and waiting and not cs.get("containerID"):
            reason = waiting.get("reason", "")
            detail = "trying and failing to pull image" if reason in ("ImagePullBackOff", "ErrImagePull") else reason
            raise ApiError(400, f'container "{container}" in pod "{pod["metadata"]["name"]}" is waiting to '
                                f"start: {detail}")


def _int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"invalid value for {name}: {raw!r}") from None


def _format(entry: tuple[datetime, str], timestamps: bool) -> bytes:
    text = entry[1] if entry[1].endswith("\n") else entry[1] + "\n"
    return (f"{rfc3339nano(entry[0])} {text}" if timestamps else text).encode()


async def serve_log(request: web.Request, book: LogBook, pod: dict[str, Any],
                    pod_exists: Any) -> web.StreamResponse:
    """`pod_exists()` tells a follower whether to keep going."""
    container = _container(pod, request.query.get("container"))
    key = (pod["metadata"].get("namespace", ""), pod["metadata"]["name"], container)
    truthy = ("true", "True", "1")
    previous = request.query.get("previous") in truthy
    follow = request.query.get("follow") in truthy and not previous
    timestamps = request.query.get("timestamps") in truthy
    tail, since_s, limit = (_int_param(request, n) for n in ("tailLines", "sinceSeconds", "limitBytes"))
    if previous:
        if key not in book.previous:
            raise ApiError(400, f'previous terminated container "{container}" in pod '
                                f'"{pod["metadata"]["name"]}" not found')
        lines = list(book.previous[key])
    else:
        _check_started(pod, container)
        lines = list(book._lines(pod, container))
    if since_s is not None:
        cutoff = datetime.now(UTC) - timedelta(seconds=since_s)
        lines = [e for e in lines if e[0] >= cutoff]
    if tail is not None and tail >= 0:
        lines = lines[-tail:] if tail else []
    body = b"".join(_format(e, timestamps) for e in lines)
    if limit is not None and limit > 0:
        body = body[:limit]
    if not follow:
        return web.Response(body=body, content_type="text/plain", charset="utf-8")
    queue: asyncio.Queue[tuple[datetime, str] | None] = asyncio.Queue()
    book.followers.setdefault(key, set()).add(queue)
    resp = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    resp.enable_chunked_encoding()
    try:
        await resp.prepare(request)
        if body:
            await resp.write(body)
        while True:
            try:
                entry = await asyncio.wait_for(queue.get(), timeout=1.0)
            except TimeoutError:
                if not pod_exists() or request.transport is None or request.transport.is_closing():
                    break
                continue
            if entry is None:
                break
            # Send everything already queued in one chunk: one write per line caps a
            # follower at the event loop's write rate, far below a busy pod's.
            chunk = [_format(entry, timestamps)]
            ended = False
            while not queue.empty() and len(chunk) < 4096:
                more = queue.get_nowait()
                if more is None:
                    ended = True
                    break
                chunk.append(_format(more, timestamps))
            await resp.write(b"".join(chunk))
            if ended:
                break
    except ConnectionResetError:
        pass
    finally:
        book.followers.get(key, set()).discard(queue)
    return resp
