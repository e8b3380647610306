"""Raw-JSON access to the Kubernetes REST API over aiohttp.

Typed models of the official client cost ~4x at 20k pods (see BASELINES.md), so
lists, watches and log streams read JSON bytes and hand plain dicts to the
converters, which keep only what the resource model needs. Lists paginate with
`limit`/`continue` as kubectl does. HTTP failures become the typed errors of
`tui.core.errors`; a `410 Gone` becomes `ResourceExpired` and a 504 "Too large resource
version" `ResourceVersionTooLarge`, so that an informer relists (as client-go's reflector).
A `429 Too Many Requests` (and a 5xx carrying `Retry-After`, as client-go) is asked again after
its `Retry-After` while the call's timeout allows (`_retry_wait`). A 500/502/503/504 without
`Retry-After` is asked again only for an idempotent read (GET: a list page, a get, a watch's
establishment), at most `SERVER_ERROR_RETRIES` times with exponential backoff and jitter, within the
call's timeout and the API server's shared `RetryBudget` (17 kinds failing at once must not turn
into a retry storm); a write (PATCH, POST, DELETE) never is: the server may have done it. 429 and
5xx errors say what they are and how often they were asked, with the server's message sanitized.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from backends.kubernetes.connection import ClusterConnection
from tui.core.errors import BackendDenied, BackendError, BackendUnreachable, InvalidRequest, NotFound
from tui.core.sanitize import clean

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
#: A watch silent for longer than max(3 x defaults.timeout, this) means a hung API server.
WATCH_SILENCE_FLOOR_S = 30.0
#: 429 retries of one call at most (client-go: 10), all within the call's timeout
THROTTLE_RETRIES = 10
#: the wait before retrying a 429 without a usable Retry-After (client-go: 1 s)
THROTTLE_DEFAULT_WAIT_S = 1.0
#: a 5xx without Retry-After to an idempotent read (GET) is asked again at most this many times
SERVER_ERROR_RETRIES = 3
#: the wait before the first such retry (x0.5-1.5 jitter), doubling each time, at most the second value
SERVER_ERROR_BACKOFF_S = 0.25
SERVER_ERROR_BACKOFF_MAX_S = 2.0
#: the statuses that mean "the server could not answer now" (501 Not Implemented, 505... never will)
_TRANSIENT_5XX = frozenset({500, 502, 503, 504})
#: the 5xx retries one API server allows this process at once (every kind, every environment on it),
#: and how fast that budget refills (per second)
RETRY_BUDGET = 10
RETRY_BUDGET_REFILL_PER_S = 1.0
#: at most this much of an API server's message is shown
MESSAGE_MAX = 500
MIB = 1024 * 1024
#: a watch event (one line) longer than this is refused and the kind relisted: a real object is at
#: most ~1.5 MiB in etcd, its event < ~3 MiB; a hostile or broken stream without a newline must not grow
#: the process without bound
WATCH_LINE_MAX = 16 * MIB
#: the unfinished watch lines of every watch of the process together hold at most this much (WatchLineBudget):
#: 17 kinds each streaming a line up to WATCH_LINE_MAX would otherwise hold 17 x 16 MiB at once
WATCH_LINES_HELD_MAX = 64 * MIB
#: a log line longer than this is cut (the rest of it, up to its newline, is dropped)
LOG_LINE_MAX = 1 * MIB
#: a response body (a LIST page, an object) longer than this is refused: 500 objects of the 1.5 MiB etcd
#: allows would be 750 MiB; an endless chunked body must not grow the process without bound
BODY_MAX = 1024 * MIB
#: of an error response, at most this much is read (its Status message is cut at MESSAGE_MAX anyway)
ERROR_BODY_MAX = 1 * MIB


_gc_pauses = 0  # paused_gc() sections open now (they overlap: every informer lists at once)
_gc_was_enabled = False


@contextlib.contextmanager
def paused_gc() -> Any:
    """Pause the cyclic garbage collector while building many small objects.

    Parsing a page of 500 pods allocates ~100k dicts and strings, none of them
    cyclic garbage; with the collector on, its passes over an ever larger heap
    (20k Resources) took 3/4 of the time (66 MB: 2.2 s → 0.5 s).

    Sections may overlap and span awaits (an informer's whole LIST, five environments'
    inventories at once): the collector comes back when the last one ends. Re-enabling
    it after every page instead let the counts piled up meanwhile start a collection
    right away, over a heap that grows with every page: at 100,000 pods that was about a
    third of the first inventory (docs/benchmarks.md, issue 19)."""
    global _gc_pauses, _gc_was_enabled
    if _gc_pauses == 0:
        _gc_was_enabled = gc.isenabled()
        gc.disable()
    _gc_pauses += 1
    try:
        yield
    finally:
        _gc_pauses -= 1
        if _gc_pauses == 0 and _gc_was_enabled:
            gc.enable()


class RetryBudget:
    """The 5xx retries (without Retry-After) one API server still allows this process: a token bucket
    of `capacity` refilled at `per_s`, shared by every KubeApi to that server (`retry_budget_for`).
    When 17 informers' lists meet the same 503 at once, the first `capacity` retries go and the rest
    report the error at once (the informers' own backoff takes over), instead of 17 x 3 retries."""

    def __init__(self, capacity: int = RETRY_BUDGET, per_s: float = RETRY_BUDGET_REFILL_PER_S):
        self.capacity = capacity
        self.per_s = per_s
        self._tokens = float(capacity)
        self._at = time.monotonic()
        self._lock = threading.Lock()  # KubeApis of one server may run on several loops (threads)
        self.spent = 0  # retries granted so far (tests read it)
        self.refused = 0  # retries refused because the budget was spent

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.per_s)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                self.spent += 1
                return True
            self.refused += 1
            return False


_budgets: dict[str, RetryBudget] = {}
_budgets_lock = threading.Lock()


def retry_budget_for(host: str) -> RetryBudget:
    """The process's one RetryBudget for the API server at `host`."""
    with _budgets_lock:
        return _budgets.setdefault(host.rstrip("/"), RetryBudget())


class ResourceExpired(BackendError):
    """410 Gone: the resourceVersion (or continue token) is too old; relist."""


class WatchEventTooLong(ResourceExpired):
    """A watch sent a line (an event) longer than `KubeApi.watch_line_max`: the connection is dropped and
    the kind relisted, as after a failed watch (with the informer's relist backoff)."""


class WatchLinesOverBudget(WatchEventTooLong):
    """A watch's unfinished line would take the bytes held in unfinished lines by every watch of the
    process past `WatchLineBudget.limit`: that watch is dropped and its kind relisted (with the relist
    backoff; the informer shows a `WatchRelisting` fault naming the watch at once)."""


class WatchLineBudget:
    """The bytes held at once in unfinished watch lines across every watch of the process. Each
    read is bounded by `KubeApi.watch_line_max` (16 MiB); this bounds their sum (`WATCH_LINES_HELD_MAX`),
    so 17 kinds streaming endless lines hold at most 64 MiB, not 17 x 16 MiB."""

    def __init__(self, limit: int = WATCH_LINES_HELD_MAX):
        self.limit = limit
        self.held = 0
        self.peak = 0  # the most held at once (tests read it)
        self.refused = 0  # watches dropped for it
        self._lock = threading.Lock()  # watches of several loops (threads) share it

    def resize(self, old: int, new: int) -> bool:
        """A watch's unfinished line goes from `old` to `new` bytes; False (nothing changed) when
        growing it would pass the limit."""
        with self._lock:
            held = self.held - old + new
            if new > old and held > self.limit:
                self.refused += 1
                return False
            self.held = held
            self.peak = max(self.peak, held)
            return True


#: the process's one budget of unfinished watch lines
WATCH_LINES = WatchLineBudget()


class _LineHold:
    """What one watch holds of a WatchLineBudget (released by `release()`, also when the watch ends)."""

    __slots__ = ("budget", "size")

    def __init__(self, budget: WatchLineBudget):
        self.budget = budget
        self.size = 0

    def set(self, size: int) -> bool:
        if size == self.size:
            return True
        if not self.budget.resize(self.size, size):
            return False
        self.size = size
        return True

    def release(self) -> None:
        self.set(0)


class ResourceVersionTooLarge(ResourceExpired):
    """504 "Too large resource version": the server has not reached the resourceVersion asked
    for; after a reset (a restart with fresh state, an etcd restore) it never will. Relist,
    as client-go's reflector does (isTooLargeResourceVersionError)."""


def _status(body: bytes) -> dict[str, Any]:
    try:
        data = loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _status_message(body: bytes, status: int, reason: str) -> str:
    message = _status(body).get("message")
    return str(message) if message else f"HTTP {status} {reason}".strip()


def _too_large(status: int, message: str, details: Any) -> bool:
    """client-go's isTooLargeResourceVersionError: the cause ResourceVersionTooLarge, or (servers
    before 1.18.6) a Timeout whose cause or message says "Too large resource version"."""
    if status != 504:
        return False
    causes = (details or {}).get("causes") if isinstance(details, dict) else None
    for cause in causes or []:
        if isinstance(cause, dict) and (cause.get("reason") == "ResourceVersionTooLarge"
                                        or cause.get("message") == "Too large resource version"):
            return True
    return "Too large resource version" in message


def error_for_body(status: int, body: bytes | str | None, reason: str, what: str, tries: int = 1) -> BackendError:
    """The typed error of an error response: its Status's message and details when it has one."""
    raw = body.encode() if isinstance(body, str) else body or b""
    return error_for(status, _status_message(raw, status, reason), what, _status(raw).get("details"), tries)


def error_for(status: int, message: str, what: str, details: Any = None, tries: int = 1) -> BackendError:
    """The typed error for an HTTP status (`details`: the Status's); `http_status` keeps the code.
    The server's message is outside text: sanitized and bounded. `tries`: how often the call was
    asked (said for 429/5xx when more than once)."""
    message = clean(message, max_len=MESSAGE_MAX)
    if _too_large(status, message, details):
        error: BackendError = ResourceVersionTooLarge(f"{what}: {message}", backend="kubernetes")
    else:
        error = _error_for(status, f"{what}: {message}", what, message, f" (asked {tries} times)" if tries > 1 else "")
    error.http_status = status  # type: ignore[attr-defined]
    return error


def _error_for(status: int, text: str, what: str, message: str, tries: str = "") -> BackendError:
    if status == 410:
        return ResourceExpired(text, backend="kubernetes")
    if status == 429:
        return BackendUnreachable(f"{what}: throttled by the API server (429){tries}: {message}",
                                  backend="kubernetes")
    if 500 <= status <= 599:
        return BackendUnreachable(f"{what}: API server error {status}{tries}: {message}", backend="kubernetes")
    if status == 401:
        return BackendUnreachable(f"{what}: unauthorized (credentials rejected or expired)",
                                  backend="kubernetes")
    if status == 403:
        return BackendDenied(text, backend="kubernetes")
    if status == 404:
        return NotFound(text, backend="kubernetes")
    if status in (400, 405, 409, 415, 422):
        return InvalidRequest(text, backend="kubernetes")
    return BackendUnreachable(text, backend="kubernetes")  # anything odd


class KubeApi:
    """One aiohttp session to one API server, opened lazily on the running loop."""

    def __init__(self, connection: ClusterConnection, timeout_s: float,
                 silence_floor_s: float = WATCH_SILENCE_FLOOR_S):
        self.connection = connection
        self.timeout_s = timeout_s
        #: how long a watch may go without a byte before the server counts as hung (see watch_timeout_s)
        self.watch_silence_s = max(3.0 * timeout_s, silence_floor_s)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ssl = connection.ssl_context()
        #: the 5xx retries this API server still allows the process (shared with every KubeApi to it)
        self.retry_budget = retry_budget_for(connection.host)
        self.requests = 0  # requests sent (tests and benchmarks read it)
        self.watch_line_max = WATCH_LINE_MAX  # bytes of one watch event (tests lower them)
        self.watch_line_budget = WATCH_LINES  # bytes of unfinished lines of every watch at once (shared)
        self.log_line_max = LOG_LINE_MAX
        self.body_max = BODY_MAX

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
                    read_timeout: float | None = -1.0, header_timeout: float | None = None
                    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """The response of one call (headers read; error statuses raised as typed errors).
        `read_timeout`: per read (-1: `timeout_s`; None: none); `header_timeout`: the wait for
        the headers alone (a watch, whose body has its own bound). A 429 is retried (`_retry_wait`)."""
        headers = await self._headers(accept)
        data = None
        if body is not None:
            data = _dumps(body)
            headers["Content-Type"] = content_type or "application/json"
        sock_read = self.timeout_s if read_timeout == -1.0 else read_timeout
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout_s, sock_read=sock_read)
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        what = f"{method} {path}"
        deadline = time.monotonic() + self.timeout_s  # the budget of 429 retries
        attempt = 0
        while True:
            self.requests += 1
            attempt += 1
            try:
                call = self._session_for_loop().request(
                    method, self.host + path, params=query, data=data, headers=headers, timeout=timeout,
                    proxy=self.connection.configuration.proxy or None,
                    server_hostname=self.connection.configuration.tls_server_name or None)
                async with asyncio.timeout(header_timeout):  # None: no bound but sock_read
                    resp = await call
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
                if isinstance(exc, aiohttp.SocketTimeoutError):
                    waited = sock_read
                elif isinstance(exc, TimeoutError) and not isinstance(exc, aiohttp.ClientError):
                    waited = header_timeout  # ours (aiohttp's connect timeout is a ClientError)
                else:
                    waited = None
                reason = f"no answer for {waited:g}s" if waited else _describe(exc)
                raise BackendUnreachable(f"{what}: cannot reach {self.host}: {reason}",
                                         backend="kubernetes") from None
            try:
                if resp.status >= 400:
                    try:
                        raw = await _read_up_to(resp, ERROR_BODY_MAX)
                    except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
                        raw = b""
                    error = error_for_body(resp.status, raw, resp.reason or "", what, attempt)
                    wait = _retry_wait(resp, deadline, attempt, method, error, self.retry_budget)
                    if wait is None:
                        raise error
                else:
                    try:
                        yield resp
                    except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:  # reading the body
                        reason = f"no answer for {sock_read:g}s" if isinstance(exc, aiohttp.SocketTimeoutError) \
                            and sock_read else _describe(exc)
                        raise BackendUnreachable(f"{what}: cannot reach {self.host}: {reason}",
                                                 backend="kubernetes") from None
                    return
            finally:
                resp.release()
            await asyncio.sleep(wait)

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                      body: Any = None, content_type: str | None = None) -> dict[str, Any]:
        async with self._open(method, path, params=params, body=body, content_type=content_type) as resp:
            raw = await _read_up_to(resp, self.body_max)
            if len(raw) > self.body_max:
                resp.close()  # the rest is never read
                raise BackendUnreachable(f"{method} {path}: the API server's answer is longer than "
                                         f"{_mib(self.body_max)}; refused", backend="kubernetes")
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
        ResourceExpired: the caller starts again.

        The next page is requested as soon as a page's continue token is known, before
        the caller converts that page: the server prepares page k+1 while we convert
        page k (20,000 pods: observe() 2.6 s -> see docs/benchmarks.md §1)."""

        def fetch(token: str | None) -> asyncio.Task[dict[str, Any]]:
            task = asyncio.ensure_future(
                self.request("GET", path, params={**params, "limit": PAGE_SIZE, "continue": token}))
            task.add_done_callback(_retrieve)  # a prefetch the caller never awaits must not warn
            return task

        pending: asyncio.Task[dict[str, Any]] | None = fetch(None)
        try:
            while pending is not None:
                page = await pending
                meta = page.get("metadata") or {}
                token = meta.get("continue")
                pending = fetch(token) if token else None
                yield page.get("items") or [], str(meta.get("resourceVersion") or "")
        finally:
            if pending is not None:
                pending.cancel()  # the caller stopped early (error, cancellation)

    async def list_all(self, path: str, **params: Any) -> tuple[list[dict], str]:
        items: list[dict] = []
        version = ""
        async for page, page_version in self.list_pages(path, **params):
            items.extend(page)
            version = page_version
        return items, version

    def watch_timeout_s(self) -> int:
        """The `timeoutSeconds` of the next watch: uniform in [1/2, 2/3] of `watch_silence_s`.

        A hung API server does not close its watches, it goes silent; the only
        way to notice is a read timeout (aiohttp `sock_read` = `watch_silence_s`,
        i.e. max(3 x defaults.timeout, 30 s): 30 s with the default 10 s timeout).
        For that not to fire on a healthy but quiet namespace, every watch must
        see a byte more often than that, whatever the server sends:
        - the server ends each watch cleanly after `timeoutSeconds`, which is
          at most 2/3 of the read timeout, leaving >= max(defaults.timeout, 10 s)
          for latency (a real apiserver honours timeoutSeconds exactly);
        - `allowWatchBookmarks=true`: a real apiserver sends a bookmark about once
          a minute, and ~2 s before timeoutSeconds when that comes first (so each
          of these short watches usually ends with a fresh resourceVersion, and the
          reconnect resumes without a 410); the emulator every `bookmark_interval_s`
          (5 s). Bookmarks are not relied on: watches of resources outside the
          watch cache send none.
        client-go watches for 5-10 minutes (jittered, as here, so that informers do
        not reconnect in step); these watches last 15-20 s by default, i.e. about
        one cheap resumed watch request per kind every ~17 s, the price of
        noticing a hung server within ~30 s instead of minutes. A new watch to a
        server that hangs before answering hits the same read timeout.
        """
        low, high = self.watch_silence_s / 2, self.watch_silence_s * 2 / 3
        return max(1, int(random.uniform(low, high)))  # noqa: S311 - jitter, not crypto

    def watch_silent_after_s(self, timeout_s: float) -> float:
        """How long an open watch may send nothing (no event, no bookmark) before it is dropped
        and watched again from the last resourceVersion: past the `timeoutSeconds` the server
        was asked to end it by (a real apiserver sends a bookmark ~2 s before), plus one
        `defaults.timeout` of latency. Never more than `watch_silence_s`."""
        return min(timeout_s + self.timeout_s, self.watch_silence_s)

    async def watch(self, path: str, resource_version: str, timeout_s: int | None = None) -> AsyncIterator[dict]:
        """Watch events (`{"type", "object"}`) from `resource_version` until the
        server ends the stream after `timeout_s` (default: `watch_timeout_s()`).
        An ERROR event with code 410 raises ResourceExpired, one saying "Too large resource
        version" ResourceVersionTooLarge; other ERROR events raise the matching error; no
        answer (headers) for `watch_silence_s` (a hung server) raises BackendUnreachable.
        The first event is `{"type": "OPENED"}` (envdeck's own): the server accepted the
        watch. An open stream that stays silent for `watch_silent_after_s` ends with
        `{"type": "SILENT"}` (envdeck's own): the caller watches again."""
        if timeout_s is None:
            timeout_s = self.watch_timeout_s()
        params = {"watch": "true", "resourceVersion": resource_version, "timeoutSeconds": timeout_s,
                  "allowWatchBookmarks": "true"}
        silent_after = self.watch_silent_after_s(timeout_s)
        hold = _LineHold(self.watch_line_budget)
        async with self._open("GET", path, params=params, read_timeout=None,
                              header_timeout=self.watch_silence_s) as resp:
            yield {"type": "OPENED"}
            try:
                async for line in _watch_lines(resp, silent_after, self.watch_line_max, hold):
                    if line is _TOO_LONG:
                        resp.close()  # drop the connection: the rest of that line is never read
                        raise WatchEventTooLong(f"watch {path}: an event from the API server longer than "
                                                f"{_mib(self.watch_line_max)}; ignored, relisting",
                                                backend="kubernetes")
                    if line is _OVER_BUDGET:
                        resp.close()
                        raise WatchLinesOverBudget(
                            f"watch {path}: unfinished watch lines would hold more than "
                            f"{_mib(hold.budget.limit)} across all watches (this one {_mib(hold.size)}); "
                            "watch restarted, relisting", backend="kubernetes")
                    if line is None:
                        yield {"type": "SILENT"}
                        return
                    if not line.strip():
                        continue
                    event = loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        raise error_for(int(status.get("code") or 500), str(status.get("message") or ""),
                                        f"watch {path}", status.get("details"))
                    yield event
            finally:
                hold.release()  # at once: the line generator itself may be finalized later

    async def websocket(self, path: str, params: list[tuple[str, str]], protocols: tuple[str, ...]
                        ) -> aiohttp.ClientWebSocketResponse:
        """A WebSocket to `path` (pods/portforward, pods/exec) with the connection's TLS,
        credentials and proxy; a refused handshake is the typed error of its status."""
        headers = await self._headers("*/*")
        url = self.host + path
        what = f"GET {path}"
        self.requests += 1
        try:
            return await self._session_for_loop().ws_connect(
                url, params=params, protocols=protocols, headers=headers, heartbeat=None, autoping=True,
                max_msg_size=0, timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=self.timeout_s),
                proxy=self.connection.configuration.proxy or None,
                server_hostname=self.connection.configuration.tls_server_name or None)
        except aiohttp.WSServerHandshakeError as exc:
            raise error_for(exc.status, exc.message or f"HTTP {exc.status}", what) from None
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            raise BackendUnreachable(f"{what}: cannot reach {self.host}: {_describe(exc)}",
                                     backend="kubernetes") from None

    async def stream_lines(self, path: str, **params: Any) -> AsyncIterator[str]:
        """Text lines of a (possibly endless) plain-text stream such as pods/log."""
        async with self._open("GET", path, params=params, accept="text/plain, */*",
                              read_timeout=None if params.get("follow") else self.timeout_s) as resp:
            async for line in _log_lines(resp, self.log_line_max):
                yield line


_TOO_LONG = b"\0too long"  # what _watch_lines yields (then ends) for a line longer than its limit
_OVER_BUDGET = b"\0over budget"  # ... for a line that would pass the process's WatchLineBudget


def _unfinished_refused(size: int, limit: int, hold: _LineHold | None) -> bytes | None:
    """`_TOO_LONG` when an unfinished line of `size` bytes is past `limit`, `_OVER_BUDGET` when
    keeping it would pass the process's budget (`hold` then keeps its old share), else None."""
    if size > limit:
        return _TOO_LONG
    if hold is not None and not hold.set(size):
        return _OVER_BUDGET
    return None


async def _watch_lines(resp: aiohttp.ClientResponse, silent_after: float, limit: int,
                       hold: _LineHold | None = None) -> AsyncIterator[bytes | None]:
    """Lines of a watch body; None (then the end) when nothing arrives for `silent_after`;
    `_TOO_LONG` (then the end) when a line grows past `limit` bytes: no more of it is kept;
    `_OVER_BUDGET` (then the end) when keeping the unfinished line would take every watch's
    unfinished lines past the process's budget (`hold`: this watch's share of it)."""
    parts: list[bytes] = []  # the unfinished line, in pieces (joined once, when its newline comes)
    size = 0
    try:
        while True:
            try:
                async with asyncio.timeout(silent_after):
                    chunk = await resp.content.readany()
            except TimeoutError:
                yield None
                return
            if not chunk:
                break
            if b"\n" not in chunk:
                parts.append(chunk)
                size += len(chunk)
                if (stop := _unfinished_refused(size, limit, hold)) is not None:
                    yield stop
                    return
                continue
            *complete, tail = chunk.split(b"\n")
            if parts:
                parts.append(complete[0])
                complete[0] = b"".join(parts)
            for line in complete:
                if len(line) > limit:
                    yield _TOO_LONG
                    return
                yield line
            parts, size = ([tail], len(tail)) if tail else ([], 0)
            if (stop := _unfinished_refused(size, limit, hold)) is not None:
                yield stop
                return
        # what is left has no newline: an event cut off when the connection ended (the API server
        # ends every event with one). It is dropped, not parsed: the caller watches again from
        # the last whole event's resourceVersion, which delivers that event again
    finally:
        if hold is not None:
            hold.release()


async def _log_lines(resp: aiohttp.ClientResponse, limit: int) -> AsyncIterator[str]:
    """Text lines of a chunked body (UTF-8, undecodable bytes replaced); a line longer than `limit`
    bytes is cut there, marked, and the rest of it (up to its newline) dropped."""
    parts: list[bytes] = []
    size = 0
    cut = False  # dropping the rest of a line already yielded cut

    def text(raw: bytes) -> str:
        return raw.decode("utf-8", "replace").removesuffix("\r")

    async for chunk in resp.content.iter_any():
        if b"\n" not in chunk:
            if cut:
                continue
            parts.append(chunk)
            size += len(chunk)
            if size > limit:
                yield text(b"".join(parts)[:limit]) + f" [line cut at {_mib(limit)}]"
                parts, size, cut = [], 0, True
            continue
        *complete, tail = chunk.split(b"\n")
        if cut:
            complete, cut = complete[1:], False  # the end of the line already cut
        elif parts:
            parts.append(complete[0])
            complete[0] = b"".join(parts)
        for line in complete:
            yield text(line[:limit]) + (f" [line cut at {_mib(limit)}]" if len(line) > limit else "")
        parts, size = ([tail], len(tail)) if tail else ([], 0)
    if parts and not cut:
        yield text(b"".join(parts)[:limit])


async def _read_up_to(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, or its first `limit` + 1 bytes or so when longer (the caller checks the length)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_any():
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(parts)


def _mib(size: int) -> str:
    return f"{size / MIB:g} MiB"


def _retry_wait(resp: aiohttp.ClientResponse, deadline: float, attempt: int, method: str = "GET",
                error: BackendError | None = None, budget: RetryBudget | None = None) -> float | None:
    """How long to wait before asking again, as client-go's `checkWait`: a 429 after its
    `Retry-After` in seconds (1 s without one), a 5xx carrying a `Retry-After` after it (the server
    says it did not act: any method). A transient 5xx without one only for a GET (idempotent), at
    most SERVER_ERROR_RETRIES times, after SERVER_ERROR_BACKOFF_S doubling (jittered), each retry
    taken from the API server's `budget`; never a 504 "Too large resource version" (a relist's
    cue). None when the status is not retried, retries are spent or the wait would pass the
    call's timeout (then the error is reported)."""
    if resp.status != 429 and resp.status < 500:
        return None
    try:
        wait = float(resp.headers.get("Retry-After", ""))
    except ValueError:  # absent, or an HTTP date (kube-apiserver sends seconds)
        if resp.status != 429:
            return _server_error_wait(resp.status, deadline, attempt, method, error, budget)
        wait = THROTTLE_DEFAULT_WAIT_S
    wait = max(wait, 0.0)
    if attempt > THROTTLE_RETRIES or time.monotonic() + wait > deadline:
        return None
    return wait


def _server_error_wait(status: int, deadline: float, attempt: int, method: str,
                       error: BackendError | None, budget: RetryBudget | None) -> float | None:
    if method != "GET" or status not in _TRANSIENT_5XX or isinstance(error, ResourceVersionTooLarge):
        return None  # a write may have been done: never asked again blindly
    if attempt > SERVER_ERROR_RETRIES:
        return None
    base = min(SERVER_ERROR_BACKOFF_MAX_S, SERVER_ERROR_BACKOFF_S * 2.0 ** (attempt - 1))
    wait = base * random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not crypto
    if time.monotonic() + wait > deadline:
        return None
    if budget is not None and not budget.take():
        return None  # the API server's retries are spent (many calls failing at once): no storm
    return wait


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


def _retrieve(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()
