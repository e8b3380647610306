"""Reading one resource's log stream in a worker and posting it in batches.

A reader task pumps lines from `Session.logs` into a queue; the worker posts
them as `LogLinesReceived` batches (up to 500 lines, or whatever arrived within
50 ms of the first). Batches are never coalesced or dropped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from textual.message import Message

from tui.core.errors import EnvdeckError
from tui.core.session import Session
from tui.messages import LogLinesReceived, LogStreamEnded

BATCH_LINES = 500
BATCH_WINDOW_S = 0.05
_END = object()


async def stream_logs(session: Session, env: str, resource_id: str, label: str, stream_id: int,
                      post: Callable[[Message], object], *, tail: int = 200) -> None:
    queue: asyncio.Queue = asyncio.Queue()
    error: list[str] = []

    async def pump() -> None:
        try:
            async for line in session.logs(env, resource_id, follow=True, tail=tail):
                if not line.source:
                    line.source = label
                await queue.put(line)
        except EnvdeckError as exc:
            error.append(str(exc))
        except (OSError, TimeoutError) as exc:
            error.append(str(exc) or type(exc).__name__)
        finally:
            await queue.put(_END)

    reader = asyncio.create_task(pump(), name=f"logs:{resource_id}")
    loop = asyncio.get_running_loop()
    try:
        ended = False
        while not ended:
            item = await queue.get()
            if item is _END:
                break
            batch = [item]
            deadline = loop.time() + BATCH_WINDOW_S
            while len(batch) < BATCH_LINES:
                try:
                    item = queue.get_nowait()
                except asyncio.QueueEmpty:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        item = await asyncio.wait_for(queue.get(), remaining)
                    except TimeoutError:
                        break
                if item is _END:
                    ended = True
                    break
                batch.append(item)
            post(LogLinesReceived(stream_id, batch))
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        post(LogStreamEnded(stream_id, label, error[0] if error else None))
