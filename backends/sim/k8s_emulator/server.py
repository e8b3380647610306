"""The emulator's HTTP server: aiohttp app, middlewares (errors, auth, injected
failures, request log), start/stop, kubeconfig writer.

Threading model: the server, the store and the controllers live on ONE event
loop (the one that called `start()`). Every public mutator of `Emulator` is
decorated with `on_loop`: called from that loop's thread it runs directly;
called from any other thread while the loop runs (a sync test driving the
`kubernetes` client or kubectl against an `EmulatorThread`) it is scheduled on
the loop and the caller waits for its result. So tests may call mutators from
anywhere.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import functools
import hmac
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from aiohttp import web

from .discovery import Discovery
from .openapi import OpenApiV3
from .resources import TypeRegistry
from .status import ApiError

log = logging.getLogger(__name__)
T = TypeVar("T")
DUMMY_TOKEN = "envdeck-emulator-token"


@dataclass
class FailureMode:
    status: int | None = None  # every request answers this status (429, 500, 503...)
    delay_s: float = 0.0  # every request waits this long first
    gone_watches: bool = False  # every watch answers 410 Gone
    message: str = ""  # the injected Status's message ("" = "injected failure: HTTP <status>")
    retry_after_s: int | None = None  # sent as `Retry-After` (and details.retryAfterSeconds)
    times: int | None = None  # answer `status` to this many requests, then heal (None: until healed)
    silent_watches: bool = False  # watches are accepted, then send nothing and never end (a hung stream)
    watch_error: int | None = None  # every watch answers 200 + an ERROR event: 410 Gone or 504 Too large (at once)
    endless_watch_line: bool = False  # every watch answers 200, then 64 KiB chunks of "A", never a newline
    watch_lines_sent: int = 0  # bytes of those endless lines sent so far
    injected: int = 0  # requests answered `status` so far (tests count on the server side)


def on_loop(fn: Callable[..., T]) -> Callable[..., T]:
    """Run a mutator on the emulator's loop thread (see the module docstring), then settle controllers."""

    @functools.wraps(fn)
    def wrapper(self: ServerBase, *args: Any, **kwargs: Any) -> T:
        loop = self._loop
        if loop is not None and loop.is_running() and threading.get_ident() != self._loop_thread:
            done: concurrent.futures.Future[T] = concurrent.futures.Future()

            def run() -> None:
                try:
                    done.set_result(wrapper(self, *args, **kwargs))
                except BaseException as exc:  # handed to the calling thread
                    done.set_exception(exc)

            loop.call_soon_threadsafe(run)
            return done.result(timeout=120)
        result = fn(self, *args, **kwargs)
        self.settle()
        return result

    return wrapper


class ServerBase:
    """Lifecycle and HTTP plumbing; `Emulator` adds the state and mutators."""

    def __init__(self, token: str | None = None):
        self.token = token
        self.failure = FailureMode()
        self.watch_timeout_s = 1800.0
        self.bookmark_interval_s = 5.0
        #: a watch (or a LIST) from a resourceVersion not reached yet waits this long for it, then
        #: answers 504 "Too large resource version" (kube-apiserver's watch cache waits 3 s)
        self.too_large_wait_s = 3.0
        self.request_log: deque[tuple[str, str]] = deque(maxlen=20_000)
        self.response_log: deque[tuple[str, str, int]] = deque(maxlen=20_000)
        #: API groups whose discovery answers 503, as an aggregated API whose service is down
        self.unavailable_groups: set[str] = set()
        #: freeze(): requests are taken and not answered, open watches send nothing (thaw() ends it)
        self.frozen = False
        self.url: str | None = None
        self.port: int | None = None
        self.ca_pem: bytes | None = None  # its certificate when it serves HTTPS (start(tls=True))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # hooks the Emulator provides
    def settle(self) -> None:
        raise NotImplementedError

    def _routes(self) -> list[web.RouteDef]:
        raise NotImplementedError

    def _hidden_groups(self) -> set[str]:
        return set()

    def _types(self) -> TypeRegistry:
        """The types served (the built-in ones; the Emulator adds those of its CRDs)."""
        return TypeRegistry()

    def _on_stop(self) -> None:
        """Close watches and log followers."""

    # -- lifecycle -----------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0, *, tls: bool = False) -> str:
        """Serve on host:port (0 = a free port); returns the base URL, also in `self.url`. With
        `tls`, HTTPS with a self-signed certificate for `host`, which the kubeconfigs carry
        (`certificate-authority-data`): kubectl sends a token over HTTPS only (tls.py)."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._attach_loop()
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 2**20)
        discovery = Discovery(lambda: f"{host}:{self.port}", self._hidden_groups, self._types(),
                              lambda: self.unavailable_groups)
        app.add_routes(discovery.routes())
        app.add_routes(OpenApiV3(self._types()).routes())
        app.add_routes(self._routes())
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        context = None
        if tls:
            from backends.sim.k8s_emulator.tls import self_signed, server_context

            self.ca_pem, key_pem = self_signed(host)
            context = server_context(self.ca_pem, key_pem)
        site = web.TCPSite(self._runner, host, port, reuse_address=True, ssl_context=context)
        await site.start()
        server = site._server
        assert server is not None and getattr(server, "sockets", None)
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        display_host = f"[{host}]" if ":" in host else host
        self.url = f"{'https' if tls else 'http'}://{display_host}:{self.port}"
        return self.url

    def _attach_loop(self) -> None:
        """Tell loop-dependent parts (controllers' timers) which loop they run on."""

    async def stop(self) -> None:
        """Close open watches/log streams and the listening socket. `start()` may be called again."""
        self._on_stop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def freeze(self) -> None:
        """Stop answering, as a SIGSTOPped kube-apiserver or a black-holed network: connections stay
        open and requests are taken, but nothing is answered and open watches send nothing (no event,
        no bookmark, no end), until thaw(). The state still changes meanwhile (the tests' hand, the
        controllers): what changed is sent once thawed, as a stopped server that is continued."""
        self.frozen = True

    def thaw(self) -> None:
        self.frozen = False

    async def while_frozen(self) -> None:
        """Return once the server is not frozen (at once when it is not)."""
        while self.frozen and self._runner is not None:
            await asyncio.sleep(0.05)

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- middleware ----------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.request_log.append((request.method, request.path_qs))
        await self.while_frozen()
        response = await self._answer(request, handler)
        # what each request did (a POST that met 409 made nothing): tests count effects here
        self.response_log.append((request.method, request.path_qs, response.status))
        return response

    async def _answer(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            if self.failure.delay_s:
                await asyncio.sleep(self.failure.delay_s)
            failure = self.failure
            if failure.status and (failure.times is None or failure.times > 0):
                return self._injected(failure)
            if self.token is not None and not hmac.compare_digest(
                    request.headers.get("Authorization", "").encode(), f"Bearer {self.token}".encode()):
                raise ApiError(401, "Unauthorized")
            return await handler(request)
        except ApiError as exc:
            return exc.response()
        except web.HTTPException as exc:
            if exc.status == 404:
                return ApiError(404, "the server could not find the requested resource").response()
            if exc.status == 405:
                return ApiError(405, "the server does not allow this method on the requested resource").response()
            raise
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception as exc:  # an emulator bug must look like an apiserver 500, not a dropped connection
            log.exception("emulator error on %s %s", request.method, request.path_qs)
            return ApiError(500, f"emulator internal error: {exc!r}").response()

    @staticmethod
    def _injected(failure: FailureMode) -> web.StreamResponse:
        assert failure.status is not None
        if failure.times is not None:
            failure.times -= 1
        failure.injected += 1
        details = {"retryAfterSeconds": failure.retry_after_s} if failure.retry_after_s is not None else None
        response = ApiError(failure.status, failure.message or f"injected failure: HTTP {failure.status}",
                            details=details).response()
        if failure.retry_after_s is not None:
            response.headers["Retry-After"] = str(failure.retry_after_s)
        return response

    # -- kubeconfig ----------------------------------------------------------
    def kubeconfig(self, namespace: str = "default", context: str = "emulator") -> dict[str, Any]:
        if self.url is None:
            raise RuntimeError("start the emulator before writing a kubeconfig")
        return {
            "apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": context, "cluster": {"server": self.url, **(
                {"certificate-authority-data": base64.b64encode(self.ca_pem).decode()} if self.ca_pem else {})}}],
            "users": [{"name": f"{context}-user", "user": {"token": self.token or DUMMY_TOKEN}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": f"{context}-user",
                                                       "namespace": namespace}}],
            "current-context": context,
        }

    def write_kubeconfig(self, path: str | Path, namespace: str = "default", context: str = "emulator") -> Path:
        """Write a kubeconfig for this server (token auth with a dummy token) and return its path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.kubeconfig(namespace, context), sort_keys=False))
        path.chmod(0o600)
        return path
