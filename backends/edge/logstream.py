"""Stream the lines of remote log commands (journalctl -f, tail -F, …).

Several commands (a node's log files) are merged as their lines arrive, each
line tagged with its source. Closing the generator (aclose) closes the
channels, so sshd closes the remote process's pipes and the process ends.
Without `follow`, the stream stops after the requested number of lines per
source, when every command has exited, or when the output goes quiet
(templates are followers by default, e.g. `journalctl -f`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncssh

from tui.core.errors import BackendUnreachable
from tui.core.model import LogLine

QUIET_FIRST_S = 5.0  # without follow: wait this long for a first line
QUIET_NEXT_S = 1.0  # …and this long between lines
_DONE = object()


async def stream_lines(procs: list[tuple[str, asyncssh.SSHClientProcess]], *, follow: bool,
                       lines_per_source: int | None) -> AsyncIterator[LogLine]:
    queue: asyncio.Queue = asyncio.Queue(maxsize=10_000)

    async def pump(source: str, proc: asyncssh.SSHClientProcess) -> None:
        try:
            async for line in proc.stdout:
                if not line:  # asyncssh's end of output while a readline waited (an empty line is "\n")
                    break
                await queue.put(LogLine(line.rstrip("\r\n"), source))
            lost = await _lost(proc)
            if lost:
                await queue.put(BackendUnreachable(f"log stream {source} failed: {lost}", backend="edge"))
        except (OSError, asyncssh.Error) as exc:
            await queue.put(BackendUnreachable(f"log stream {source} broke: {exc}", backend="edge"))
        finally:
            await queue.put(_DONE)

    tasks = [asyncio.create_task(pump(source, proc)) for source, proc in procs]
    limit = None if follow or not lines_per_source else lines_per_source * len(procs)
    try:
        finished = count = 0
        while finished < len(tasks):
            wait = None if follow else (QUIET_NEXT_S if count else QUIET_FIRST_S)
            try:
                item = await asyncio.wait_for(queue.get(), wait)
            except TimeoutError:
                return
            if item is _DONE:
                finished += 1
            elif isinstance(item, BackendUnreachable):
                raise item
            else:
                yield item
                count += 1
                if limit is not None and count >= limit:
                    return
    finally:
        for task in tasks:
            task.cancel()
        for _, proc in procs:
            proc.close()
        await asyncio.gather(*tasks, *(_closed(proc) for _, proc in procs), return_exceptions=True)


async def _lost(proc: asyncssh.SSHClientProcess) -> str:
    """Why a stream whose output ended did not end by itself: the channel closed with no exit
    status from the command means the connection went (an abort delivers no error, only an end
    of output). "" when the command ended (exit status or signal)."""
    await _closed(proc)
    if proc.exit_status is not None or proc.exit_signal is not None:
        return ""
    why = proc.channel.get_extra_info("envdeck_lost")  # set by NodeLink.drop
    return f"connection lost ({why})" if why else "connection lost (the channel closed before the command ended)"


async def _closed(proc: asyncssh.SSHClientProcess) -> None:
    try:
        async with asyncio.timeout(5):
            await proc.wait_closed()
    except (TimeoutError, OSError, asyncssh.Error):
        pass
