"""`EmulatorThread`: the emulator on its own event loop in a daemon thread, for sync clients
(the `kubernetes` client, kubectl in a subprocess) that would block the test's loop.

    with EmulatorThread(Emulator()) as url:
        ...                           # mutators may be called from this thread directly
        thread.call(fn, *args)        # or run any function on the emulator's loop
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .emulator import Emulator

T = TypeVar("T")


class EmulatorThread:
    def __init__(self, emu: Emulator | None = None, host: str = "127.0.0.1", port: int = 0):
        self.emu = emu or Emulator()
        self.host = host
        self.port = port
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self.emu.url is not None, "not started"
        return self.emu.url

    def start(self) -> str:
        started: concurrent.futures.Future[str] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(started,), name="k8s-emulator", daemon=True)
        self._thread.start()
        return started.result(timeout=60)

    def _run(self, started: concurrent.futures.Future[str]) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        try:
            url = loop.run_until_complete(self.emu.start(self.host, self.port))
        except BaseException as exc:
            started.set_exception(exc)
            loop.close()
            return
        started.set_result(url)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(*args, **kwargs)` on the emulator's loop and return its result (awaited if a coroutine)."""
        assert self.loop is not None, "not started"

        async def run() -> T:
            result = fn(*args, **kwargs)
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=120)

    def restart(self) -> str:
        """Stop the server and serve again on the same port (an apiserver restart; state is kept)."""
        self.call(self.emu.stop)
        port = self.emu.port or 0
        return self.call(self.emu.start, self.host, port)

    def stop(self) -> None:
        if self.loop is None or self._thread is None:
            return
        try:
            self.call(self.emu.stop)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=30)
            self.loop = None
            self._thread = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
