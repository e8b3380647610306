"""Is the API server behind the watches still answering?

A watch says nothing when nothing changes, and a frozen API server (its process stopped, a
network that black-holes packets while the TCP connections stay open) says nothing either: the
informers keep their last tables and would go on presenting them as current until the watches'
own silence bound drops them (a minute or more). So while watch() runs, the backend asks the
server one cheap question every `interval_s`: `GET /version` (what `kubectl version` and
client-go's discovery ask first; served from memory, no etcd read, no namespace listed, so its
cost does not grow with the pods: one request per backend per interval), each with a short
timeout (`probe_timeout_s`). Any HTTP answer counts, an error status too (a 403 or a 500 still
comes from a running server); only no answer does not.

- The first unanswered probe reports the time the answer was due (the last answer +
  `interval_s`) through `report(due)`; the reconciler shows it as a polled backend's overdue
  pass (`k8s?12s` in the overview once 10 s late, docs/tui.md). The next answer reports
  `report(None)`: fresh again.
- No answer for `unreachable_after_s` (KubeApi.watch_silence_s: the bound after which a silent
  watch already meant a hung server) raises BackendUnreachable: watch() ends, the backend reads
  unreachable (`✗`, a timeline entry, its rows Unknown) and the reconciler watches again with
  backoff; the informers resume from their resourceVersions (and relist on 410) once it answers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from backends.kubernetes.api import KubeApi
from tui.core.errors import BackendError, BackendUnreachable
from tui.core.model import now_utc

log = logging.getLogger(__name__)

#: one probe every this many seconds while watching
PROBE_INTERVAL_S = 10.0
#: a probe waits at most this long (and never longer than defaults.timeout)
PROBE_TIMEOUT_S = 5.0
#: what the probe asks: the server's version, answered from memory
PROBE_PATH = "/version"


class ApiLiveness:
    """The probe loop of one backend's API server while it is watched."""

    def __init__(self, api: KubeApi, *, interval_s: float = PROBE_INTERVAL_S,
                 probe_timeout_s: float = PROBE_TIMEOUT_S, unreachable_after_s: float | None = None):
        self.api = api
        self.interval_s = interval_s
        self.probe_timeout_s = min(probe_timeout_s, api.timeout_s, interval_s)
        self.unreachable_after_s = api.watch_silence_s if unreachable_after_s is None else unreachable_after_s
        self.probes = 0  # probes sent (tests read it)
        self.answered_at: datetime = now_utc()  # the last answer (wall clock, as BackendState's times)
        self._answered_mono = time.monotonic()
        self.late = False  # an answer is overdue (reported, not yet answered)

    async def run(self, report: Callable[[datetime | None], None]) -> None:
        """Probe for ever; `report(due)` when an answer is first overdue, `report(None)` when the
        server answers again. Raises BackendUnreachable once nothing was answered for
        `unreachable_after_s`."""
        self.answered_at, self._answered_mono = now_utc(), time.monotonic()  # watch() just opened
        next_at = time.monotonic() + self.interval_s
        while True:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            next_at = time.monotonic() + self.interval_s  # one probe per interval, answered or not
            if await self._probe():
                self.answered_at, self._answered_mono = now_utc(), time.monotonic()
                if self.late:
                    self.late = False
                    log.info("kubernetes: %s answers again", self.api.host)
                    report(None)
                continue
            silent = time.monotonic() - self._answered_mono
            if not self.late:
                self.late = True
                log.warning("kubernetes: %s has not answered for %.0fs (GET %s)", self.api.host, silent, PROBE_PATH)
                report(self.answered_at + timedelta(seconds=self.interval_s))
            if silent >= self.unreachable_after_s:
                raise BackendUnreachable(f"{self.api.host} has not answered for {silent:.0f}s "
                                         f"(GET {PROBE_PATH}, every {self.interval_s:g}s): the API server "
                                         "is frozen or the network drops its packets", backend="kubernetes")

    async def _probe(self) -> bool:
        """True when the server answered (any HTTP status) within `probe_timeout_s`."""
        self.probes += 1
        try:
            async with asyncio.timeout(self.probe_timeout_s):
                await self.api.get(PROBE_PATH)
        except TimeoutError:
            return False
        except BackendError as exc:
            return getattr(exc, "http_status", None) is not None
        return True
