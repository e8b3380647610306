"""An event loop of the edge backend's own, in a thread of its own.

At 1,000 nodes an observe pass is thousands of SSH channels: asyncssh's packet
parsing, channel callbacks and the parsing of every node's answer. On the caller's
loop (the TUI's) every keystroke waited behind that work. The backend's connections
therefore live on this loop: its public async methods hand their coroutine over with
`call()` and the caller's loop only receives the finished result.

- `call(coro)` runs `coro` on this loop (started on first use) and awaits its outcome
  on the caller's loop. Called from this loop itself it simply awaits `coro`.
- Cancellation goes both ways: cancelling the caller cancels the work here and waits
  for it to unwind (so a cancelled observe() has finished its cleanup when the caller
  sees CancelledError); work cancelled here (the backend closing under it) reaches a
  caller that was not itself cancelled as `BackendUnreachable`, the error every caller
  of a backend already handles.
- `stop()` lets the work still running finish for a short grace (most of it fails
  fast once the connections are closed), cancels the rest, shuts the loop's executor
  down and joins the thread: no thread is left behind.

The context variables of the caller travel with each call (a copy, as for a task).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from tui.core.errors import BackendUnreachable

T = TypeVar("T")
STOP_GRACE_S = 2.0  # how long stop() lets running work finish before cancelling it
_JOIN_S = 10.0


class LoopThread:
    def __init__(self, name: str):
        self.name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # -- state ---------------------------------------------------------------
    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The running loop, None before the first call and after stop()."""
        return self._loop

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    @property
    def running(self) -> bool:
        return self._loop is not None

    def running_here(self) -> bool:
        """True when called on this loop (in its thread)."""
        loop = self._loop
        if loop is None:
            return False
        try:
            return asyncio.get_running_loop() is loop
        except RuntimeError:
            return False

    # -- start / stop --------------------------------------------------------
    def start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def serve() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    try:
                        loop.run_forever()
                    finally:
                        loop.close()

                thread = threading.Thread(target=serve, name=self.name, daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop

    async def stop(self) -> None:
        """Finish (grace), cancel what is left, shut the executor down, join the thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self.running_here():  # cannot join ourselves: wind down and let the thread end on its own
            await _wind_down()
            loop.stop()
            return
        await self.call(_wind_down())
        with self._lock:
            self._loop = self._thread = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_JOIN_S)  # the loop has nothing left to run: it stops and closes at once

    # -- calls ---------------------------------------------------------------
    async def call(self, coro: Awaitable[T]) -> T:
        """Run `coro` (a coroutine, or any awaitable such as asyncssh's create_process())
        on this loop and return (or raise) its outcome on the caller's loop."""
        if self.running_here():
            return await coro
        if not asyncio.iscoroutine(coro):
            coro = _awaited(coro)
        loop = self.start()
        caller = asyncio.get_running_loop()
        outcome: asyncio.Future[T] = caller.create_future()
        outcome.add_done_callback(_retrieve)
        context = contextvars.copy_context()
        remote: list[asyncio.Task[T]] = []

        def deliver(task: asyncio.Task[T]) -> None:
            exc = None if task.cancelled() else task.exception()  # retrieved here, delivered there
            if not caller.is_closed():
                caller.call_soon_threadsafe(_settle, outcome, task, exc)

        def begin() -> None:
            try:
                task = loop.create_task(coro, context=context)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, never lost in a callback
                if not caller.is_closed():
                    caller.call_soon_threadsafe(_fail, outcome, exc)
                return
            remote.append(task)
            task.add_done_callback(deliver)

        def cancel() -> None:
            if remote:
                remote[0].cancel()

        try:
            loop.call_soon_threadsafe(begin)
        except RuntimeError:  # stopped between start() and here
            coro.close()
            raise BackendUnreachable("the edge backend was closed", backend="edge") from None
        try:
            return await asyncio.shield(outcome)
        except asyncio.CancelledError:
            if outcome.done():  # the work was cancelled on our loop, not its caller
                task = asyncio.current_task()
                if task is None or not task.cancelling():
                    raise BackendUnreachable("the edge backend was closed while this ran",
                                             backend="edge") from None
                raise
            # the caller was cancelled: cancel the work and let it unwind before we go
            loop.call_soon_threadsafe(cancel)  # after begin(): the loop runs them in order
            await asyncio.wait({outcome})
            raise

    def call_soon(self, callback: Callable[..., object], *args: object) -> None:
        """Schedule a plain callback on this loop (e.g. a terminal resize), from any thread."""
        loop = self._loop
        if loop is not None:
            loop.call_soon_threadsafe(callback, *args)


async def _wind_down() -> None:
    current = asyncio.current_task()
    others = {t for t in asyncio.all_tasks() if t is not current}
    if others:
        _, pending = await asyncio.wait(others, timeout=STOP_GRACE_S)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=STOP_GRACE_S)
    loop = asyncio.get_running_loop()
    await loop.shutdown_asyncgens()
    await loop.shutdown_default_executor()


def _settle(outcome: asyncio.Future, task: asyncio.Task, exc: BaseException | None) -> None:
    if outcome.done():
        return
    if task.cancelled():
        outcome.cancel()
    elif exc is not None:
        outcome.set_exception(exc)
    else:
        outcome.set_result(task.result())


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _fail(outcome: asyncio.Future, exc: BaseException) -> None:
    if not outcome.done():
        outcome.set_exception(exc)


def _retrieve(future: asyncio.Future) -> None:
    """Mark an outcome's exception as seen: a cancelled caller no longer reads it."""
    if not future.cancelled():
        future.exception()


def on_own_loop(method: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., Coroutine[Any, Any, T]]:
    """Decorate an async method of an object with a `remote: LoopThread`: called from any
    other loop, the method runs on `remote` (see LoopThread.call). The caller's loop is
    remembered as the object's `owner_loop` (callbacks meant for the caller go there), and
    an `on_result` callback is relayed to it: it runs on the caller's loop, awaited as before."""

    @functools.wraps(method)
    async def delegated(self: Any, *args: Any, **kwargs: Any) -> T:
        remote: LoopThread = self.remote
        if remote.running_here():
            return await method(self, *args, **kwargs)
        caller = asyncio.get_running_loop()
        self.owner_loop = caller
        if kwargs.get("on_result") is not None:
            kwargs["on_result"] = relay_to(caller, kwargs["on_result"])
        return await remote.call(method(self, *args, **kwargs))

    return delegated


def relay_to(loop: asyncio.AbstractEventLoop, callback: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, None]]:
    """`callback` (plain or async) made callable from another loop: it runs on `loop`, and
    the caller waits until it has (so a slow reader still slows its producer down)."""

    async def show(*args: Any) -> None:
        outcome = callback(*args)
        if inspect.isawaitable(outcome):
            await outcome

    async def relayed(*args: Any) -> None:
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(show(*args), loop))

    return relayed
