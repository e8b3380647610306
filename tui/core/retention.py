"""Retention: the store's metric samples and timeline rows are deleted once old.

Run by every long-running reconciler (the TUI's, `envdeck agent`, `envdeck reconcile`
without `--once`) for the environments it leads, never by a follower or a read-only member: in team
mode only the leader prunes, each batch under its lease (`epoch`: a fenced process deletes
nothing). Every round deletes in small batches (`BATCH_ROWS`), each its own short
transaction, with a pause between them, so that a UI read or a repair's audit row waits for
one batch at most (SQLite: ~10 ms).

- metric samples older than `state.retention.samples` (default 24 h);
- the samples of a resource that is gone (ResourcesChanged.removed) once it has been gone
  for `state.retention.gone_samples` (default 10 min), unless it came back by then; those of
  a resource that went while no reconciler ran age out with the rest;
- timeline rows older than `state.retention.timeline` (default 30 days).

The audit trail is never pruned: it is the record of who did what."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tui.core.env_state import Change, ResourcesChanged
from tui.core.errors import StateError
from tui.core.leases import Fenced

if TYPE_CHECKING:
    from tui.core.config import RetentionConfig
    from tui.core.reconciler import Reconciler

log = logging.getLogger(__name__)

BATCH_ROWS = 1000  # rows per delete (SQLite: ~12 ms of CPU, bench/retention_batches.py)
GONE_IDS_PER_BATCH = 200  # gone resources whose samples one delete takes
BATCH_PAUSE_S = 0.05  # between two batches: what waits on the store goes first
MAX_BATCHES_PER_ROUND = 200  # per environment and kind; the rest next round
ROUND_S = 60.0
MAX_GONE_QUEUED = 200_000  # beyond that, the oldest gone ids are left to the age rule


@dataclass
class PruneCounts:
    samples: int = 0
    gone_samples: int = 0
    timeline: int = 0


class Retention:
    """Prunes the store for the environments `reconciler` leads: `start()` a round every
    ROUND_S; `prune_round()` one round now (tests, one-shot passes)."""

    def __init__(self, reconciler: Reconciler, config: RetentionConfig,
                 now: Callable[[], datetime] | None = None):
        self.reconciler = reconciler
        self.config = config
        self.now = now or reconciler.clock
        self._gone: deque[tuple[datetime, str, str]] = deque(maxlen=MAX_GONE_QUEUED)  # (when, env, id)
        self._task: asyncio.Task | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.totals = PruneCounts()

    def observe(self, change: Change) -> None:
        """A reconciler subscriber: note when each resource went."""
        if isinstance(change, ResourcesChanged) and change.removed:
            at = self.now()
            self._gone.extend((at, change.env, rid) for rid in change.removed)

    def start(self) -> None:
        if self._task is None:
            self._unsubscribe = self.reconciler.subscribe(self.observe)
            self._task = asyncio.get_running_loop().create_task(self._run(), name="retention")

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(ROUND_S)
            try:
                await self.prune_round()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("pruning the store failed")

    def _epoch(self, env: str) -> int | None:
        """The lease epoch to prune `env` under, None: not this process's to prune."""
        leadership = self.reconciler.leadership
        if leadership.member or not leadership.leads(env):
            return None
        return leadership.epoch(env)

    async def prune_round(self, pause_s: float = BATCH_PAUSE_S) -> PruneCounts:
        counts = PruneCounts()
        now = self.now()
        store = self.reconciler.store
        samples_before = now - timedelta(seconds=self.config.samples)
        timeline_before = now - timedelta(seconds=self.config.timeline)
        for env in list(self.reconciler.envs):
            epoch = self._epoch(env)
            if epoch is None:
                continue
            try:
                counts.samples += await self._batches(
                    lambda e=env, ep=epoch: store.prune_samples_batch(e, samples_before, BATCH_ROWS, epoch=ep), pause_s)
                counts.timeline += await self._batches(
                    lambda e=env, ep=epoch: store.prune_timeline_batch(e, timeline_before, BATCH_ROWS, epoch=ep),
                    pause_s)
            except Fenced as exc:
                self.reconciler.leadership.lose(env, f"fenced: {exc}; not pruning it here")
            except StateError as exc:
                log.error("cannot prune the store for %s: %s", env, exc)
        counts.gone_samples = await self._prune_gone(now, pause_s)
        self.totals.samples += counts.samples
        self.totals.gone_samples += counts.gone_samples
        self.totals.timeline += counts.timeline
        return counts

    async def _batches(self, delete: Callable, pause_s: float) -> int:
        total = 0
        for _ in range(MAX_BATCHES_PER_ROUND):
            n = await delete()
            total += n
            if n < BATCH_ROWS:
                break
            await asyncio.sleep(pause_s)
        return total

    async def _prune_gone(self, now: datetime, pause_s: float) -> int:
        """The samples of resources gone for `gone_samples` (and not back), oldest first."""
        due = now - timedelta(seconds=self.config.gone_samples)
        by_env: dict[str, list[str]] = {}
        while self._gone and self._gone[0][0] <= due:
            _, env, rid = self._gone.popleft()
            state = self.reconciler.envs.get(env)
            if state is not None and state.resource(rid) is None:
                by_env.setdefault(env, []).append(rid)
        total = 0
        for env, ids in by_env.items():
            epoch = self._epoch(env)
            if epoch is None:
                continue
            try:
                for i in range(0, len(ids), GONE_IDS_PER_BATCH):
                    if i:
                        await asyncio.sleep(pause_s)
                    total += await self.reconciler.store.prune_samples_of(
                        env, ids[i:i + GONE_IDS_PER_BATCH], due, epoch=epoch)
            except Fenced as exc:
                self.reconciler.leadership.lose(env, f"fenced: {exc}; not pruning it here")
            except StateError as exc:
                log.error("cannot prune the samples of gone resources of %s: %s", env, exc)
        return total

    def gone_queued(self) -> int:
        return len(self._gone)
