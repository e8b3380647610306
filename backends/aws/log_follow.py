"""CloudWatch Logs: tail the last N events of a log group and follow it with a cursor.

Following polls `filter_log_events` from a cursor. CloudWatch may ingest an event
later than newer ones from another stream, so each poll re-reads a short lookback
before the newest timestamp seen and drops the event ids already yielded: no event
is yielded twice, and none that arrives within the lookback is lost.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from backends.aws.clients import AwsClients
from tui.core.model import LogLine

# Tail: widen the search window until it holds N events.
_TAIL_WINDOWS_MS = (5 * 60_000, 3_600_000, 86_400_000, 14 * 86_400_000)
_TAIL_ALL_CAP = 10_000


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


def to_line(event: dict[str, Any]) -> LogLine:
    return LogLine(text=str(event.get("message", "")).rstrip("\n"), source=str(event.get("logStreamName", "")),
                   at=datetime.fromtimestamp(int(event.get("timestamp", 0)) / 1000, UTC))


def _order(event: dict[str, Any]) -> tuple[int, int, str]:
    return (int(event.get("timestamp", 0)), int(event.get("ingestionTime", 0)), str(event.get("eventId", "")))


def _key(event: dict[str, Any]) -> str:
    return f"{event.get('logStreamName', '')}\x00{event.get('eventId', '')}"


class LogCursor:
    """The follow position: newest timestamp yielded and the ids yielded within the lookback."""

    def __init__(self, start_ms: int, lookback_ms: int):
        self.newest_ms = start_ms
        self.lookback_ms = lookback_ms
        self._seen: dict[str, int] = {}  # stream + event id -> timestamp

    def start_time(self) -> int:
        return max(0, self.newest_ms - self.lookback_ms)

    def admit(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The events not yielded before, oldest first; remembers them."""
        fresh = []
        for ev in sorted(events, key=_order):
            ev_id = _key(ev)
            if ev_id in self._seen:
                continue
            self._seen[ev_id] = int(ev.get("timestamp", 0))
            fresh.append(ev)
            self.newest_ms = max(self.newest_ms, int(ev.get("timestamp", 0)))
        horizon = self.start_time()
        if len(self._seen) > 1000 or fresh:
            self._seen = {k: ts for k, ts in self._seen.items() if ts >= horizon}
        return fresh


class LogSource:
    def __init__(self, clients: AwsClients, group: str, stream_prefix: str | None):
        self.clients = clients
        self.group = group
        self.stream_prefix = stream_prefix

    async def events_since(self, start_ms: int, end_ms: int | None = None) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"logGroupName": self.group, "startTime": start_ms}
        if end_ms is not None:
            kwargs["endTime"] = end_ms
        if self.stream_prefix:
            kwargs["logStreamNamePrefix"] = self.stream_prefix
        events = await self.clients.paginate("logs", "filter_log_events", "events", **kwargs)
        if self.stream_prefix:  # AWS filters by the prefix itself; some emulators (moto) ignore it
            events = [e for e in events if str(e.get("logStreamName", "")).startswith(self.stream_prefix)]
        return events

    async def _recent(self, n: int | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(every event read, the last n of them oldest first); n None = all of 14 days, capped."""
        now = _now_ms()
        keep = _TAIL_ALL_CAP if n is None else max(0, n)
        found: list[dict[str, Any]] = []
        for window in _TAIL_WINDOWS_MS if n is not None else _TAIL_WINDOWS_MS[-1:]:
            found = await self.events_since(now - window)
            if len(found) >= keep:
                break
        found.sort(key=_order)
        return found, (list(deque(found, maxlen=keep)) if keep else [])

    async def tail(self, n: int | None) -> list[dict[str, Any]]:
        return (await self._recent(n))[1]

    async def follow(self, tail: int | None, poll_s: float, lookback_s: float) -> AsyncIterator[LogLine]:
        """Yield the last `tail` events, then every new event once, oldest first, until closed."""
        started = _now_ms()
        read, shown = await self._recent(tail)
        cursor = LogCursor(started, int(lookback_s * 1000))
        # Everything read so far counts as seen, shown or not: later polls yield only newer arrivals.
        cursor.admit(read)
        for ev in shown:
            yield to_line(ev)
        while True:
            await asyncio.sleep(poll_s)
            for ev in cursor.admit(await self.events_since(cursor.start_time())):
                yield to_line(ev)
