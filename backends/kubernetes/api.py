"""Raw-JSON access to the Kubernetes REST API over aiohttp.

Typed models of the official client cost ~4x at 20k pods (see BASELINES.md), so
lists, watches and log streams read JSON bytes and hand plain dicts to the
converters, which keep only what the resource model needs. Lists paginate with
`limit`/`continue` as kubectl does. HTTP failures become the typed errors of
`tui.errors`; a `410 Gone` becomes `ResourceExpired` so that an informer relists.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from backends.kubernetes.connection import ClusterConnection
from tui.errors import BackendDenied, BackendError, BackendUnreachable, InvalidRequest, NotFound

try:  # orjson parses the 66 MB of a 20k-pod list ~2x faster than json
    from orjson import dumps as _dumps
    from orjson import loads
except ImportError:  # pragma: no cover - orjson is a declared dependency
    import json

    loads = json.loads

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj).encode()


PAGE_SIZE = 500
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
_USER_AGENT = "envdeck/0.1 (kubernetes backend)"


@contextlib.contextmanager
def paused_gc() -> Any:
    """Pause the cyclic garbage collector while building many small objects.

    Parsing a page of 500 pods allocates ~100k dicts and strings, none of them
    cyclic garbage; with the collector on, its passes over an ever larger heap
    (20k Resources) took 3/4 of the time (66 MB: 2.2 s → 0.5 s)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class ResourceExpired(BackendError):
    """410 Gone: the resourceVersion (or continue token) is too old; relist."""


def _status_message(body: bytes, status: int, reason: str) -> str:
    try:
        data = loads(body)
        if isinstance(data, dict) and data.get("message"):
            return str(data["message"])
    except ValueError:
        pass
    return f"HTTP {status} {reason}".strip()


def error_for(status: int, message: str, what: str) -> BackendError:
    """The typed error for an HTTP status; `http_status` keeps the code."""
    error = _error_for(status, f"{what}: {message}", what)
    error.http_status = status  # type: ignore[attr-defined]
    return error


def _error_for(status: int, text: str, what: str) -> BackendError:
    if status == 410:
        return ResourceExpired(text, backend="kubernetes")
    if status == 401:
        return BackendUnreachable(f"{what}: unauthorized (credentials rejected or expired)",
                                  backend="kubernetes")
    if status == 403:
        return BackendDenied(text, backend="kubernetes")
    if status == 404:
        return NotFound(text, backend="kubernetes")
    if status in (400, 405, 409, 415, 422):
        return InvalidRequest(text, backend="kubernetes")
    return BackendUnreachable(text, backend="kubernetes")  # 429, 5xx and anything odd


class KubeApi:
    """One aiohttp session to one API server, opened lazily on the running loop."""

    def __init__(self, connection: ClusterConnection, timeout_s: float):
        self.connection = connection
        self.timeout_s = timeout_s
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ssl = connection.ssl_context()
        self.requests = 0  # requests sent (tests and benchmarks read it)

    @property
    def host(self) -> str:
        return self.connection.host.rstrip("/")

    def _session_for_loop(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl, limit=200),
                headers={"User-Agent": _USER_AGENT},
                json_serialize=lambda o: _dumps(o).decode(),
            )
            self._loop = loop
        return self._session

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            with contextlib.suppress(RuntimeError):  # its loop may already be gone
                await session.close()

    async def _headers(self, accept: str = "application/json") -> dict[str, str]:
        headers = await asyncio.to_thread(self.connection.auth_headers)
        headers["Accept"] = accept
        return headers

    @contextlib.asynccontextmanager
    async def _open(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                    body: Any = None, content_type: str | None = None, accept: str = "application/json",
                    read_timeout: float | None = -1.0) -> AsyncIterator[aiohttp.ClientResponse]:
        headers = await self._headers(accept)
        data = None
        if body is not None:
            data = _dumps(body)
            headers["Content-Type"] = content_type or "application/json"
        sock_read = self.timeout_s if read_timeout == -1.0 else read_timeout
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout_s, sock_read=sock_read)
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        what = f"{method} {path}"
        self.requests += 1
        try:
            async with self._session_for_loop().request(
                method, self.host + path, params=query, data=data, headers=headers, timeout=timeout,
                proxy=self.connection.configuration.proxy or None,
                server_hostname=self.connection.configuration.tls_server_name or None,
            ) as resp:
                if resp.status >= 400:
                    raise error_for(resp.status, _status_message(await resp.read(), resp.status,
                                                                 resp.reason or ""), what)
                yield resp
        except BackendError:
            raise
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            raise BackendUnreachable(f"{what}: cannot reach {self.host}: {_describe(exc)}",
                                     backend="kubernetes") from None

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      body: Any = None, content_type: str | None = None) -> dict[str, Any]:
        async with self._open(method, path, params=params, body=body, content_type=content_type) as resp:
            raw = await resp.read()
        if not raw:
            return {}
        with paused_gc():
            return loads(raw)

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        return await self.request("GET", path, params=params)

    async def patch(self, path: str, body: Any, content_type: str = STRATEGIC_MERGE_PATCH) -> dict[str, Any]:
        return await self.request("PATCH", path, body=body, content_type=content_type)

    async def delete(self, path: str) -> dict[str, Any]:
        return await self.request("DELETE", path)

    async def list_pages(self, path: str, **params: Any) -> AsyncIterator[tuple[list[dict], str]]:
        """Pages of items as kubectl reads them (limit=500 + continue); yields
        (items, list resourceVersion). An expired continue token raises
        ResourceExpired: the caller starts again."""
        token: str | None = None
        while True:
            page = await self.request("GET", path, params={**params, "limit": PAGE_SIZE, "continue": token})
            meta = page.get("metadata") or {}
            yield page.get("items") or [], str(meta.get("resourceVersion") or "")
            token = meta.get("continue")
            if not token:
                return

    async def list_all(self, path: str, **params: Any) -> tuple[list[dict], str]:
        items: list[dict] = []
        version = ""
        async for page, page_version in self.list_pages(path, **params):
            items.extend(page)
            version = page_version
        return items, version

    async def watch(self, path: str, resource_version: str, timeout_s: int) -> AsyncIterator[dict]:
        """Watch events (`{"type", "object"}`) from `resource_version` until the
        server ends the stream after `timeout_s`. An ERROR event with code 410
        raises ResourceExpired; other ERROR events raise the matching error.
        The first event is `{"type": "OPENED"}` (envdeck's own): the server accepted the watch."""
        params = {"watch": "true", "resourceVersion": resource_version, "timeoutSeconds": timeout_s,
                  "allowWatchBookmarks": "true"}
        async with self._open("GET", path, params=params, read_timeout=timeout_s + 30.0) as resp:
            yield {"type": "OPENED"}
            async for line in _lines(resp, text=False):
                if not line.strip():
                    continue
                event = loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise error_for(int(status.get("code") or 500), str(status.get("message") or ""),
                                    f"watch {path}")
                yield event

    async def stream_lines(self, path: str, **params: Any) -> AsyncIterator[str]:
        """Text lines of a (possibly endless) plain-text stream such as pods/log."""
        async with self._open("GET", path, params=params, accept="text/plain, */*",
                              read_timeout=None if params.get("follow") else self.timeout_s) as resp:
            async for line in _lines(resp, text=True):
                yield line


async def _lines(resp: aiohttp.ClientResponse, *, text: bool) -> AsyncIterator[Any]:
    """Split a chunked body into lines without a line-length limit."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace") if text else None
    pending = "" if text else b""
    sep = "\n" if text else b"\n"
    async for chunk in resp.content.iter_any():
        data = decoder.decode(chunk) if decoder else chunk
        pending += data
        if sep not in data:
            continue
        *complete, pending = pending.split(sep)
        for line in complete:
            yield line.removesuffix("\r") if text else line
    if decoder:
        pending += decoder.decode(b"", final=True)
    if pending:
        yield pending


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
