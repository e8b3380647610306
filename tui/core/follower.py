"""Following the leader of an environment (issue 16, team mode): a process that does not lead an
environment another live process leads does not observe the cloud for it; it shows what the
leader published (tui/core/change_feed.py) and follows its changes.

- `following(env)`: the holder of a live lease that is not this process (what Leadership saw
  at its last round; its rounds claim a lease that expired, so a follower takes over and
  observes within the lease's ttl plus one round when the leader is gone).
- `load(env)`: the environment's state from the store as the leader wrote it: resources
  (`snapshots`, with their health), backend states, open drifts and the published faults;
  the same typed changes as a pass are published, so screens cannot tell the difference.
- The loop (`start()`): wait on the feed (PostgreSQL NOTIFY, SQLite polling), compare the
  marks, load what another process published, and announce new timeline/audit rows
  (`TimelineAdded` with no entries: the timeline view reloads them from the store). A leader
  asked by another process's action (its audit row) runs an early pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING

from tui.core.change_feed import SQLITE_POLL_S, ChangeFeed, FeedMarks
from tui.core.env_state import (
    BackendStatusChanged,
    DriftsChanged,
    FaultsChanged,
    ResourcesChanged,
    TimelineAdded,
)
from tui.core.errors import StateError
from tui.core.model import DriftItem, Resource, now_utc

EARLY_PASS_MIN_S = 5.0

if TYPE_CHECKING:
    from tui.core.reconciler import Reconciler

__all__ = ["Follower"]

log = logging.getLogger("envdeck.follower")


def _value(text: str):
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


class Follower:
    def __init__(self, reconciler: Reconciler):
        self.rec = reconciler
        self.feed = ChangeFeed(reconciler.store)
        self.marks = FeedMarks()
        self.loaded: dict[str, str] = {}  # env -> the token last loaded
        self._texts: dict[str, dict[str, str]] = {}  # env -> resource id -> its snapshot JSON as last loaded
        self.loads = 0  # environments loaded from a publication (the benchmark and the tests read it)
        self._task: asyncio.Task | None = None
        self._primed = False  # the marks were read once: newer rows are news
        self._early_last: dict[str, float] = {}  # env -> loop time of the last early pass asked
        self._early_due: dict[str, asyncio.TimerHandle] = {}  # env -> the early pass set for later

    # -- early passes asked by other processes' actions -------------------------------
    def _early_pass(self, env: str) -> None:
        """A pass soon, at most one per EARLY_PASS_MIN_S per environment: a burst of actions
        (or a member writing audit rows and NOTIFYs in a loop) costs the cloud one pass per
        window, the last action's effect still shown by the pass at the window's end."""
        if env in self._early_due:
            return  # one is already set for the end of the window
        loop = asyncio.get_running_loop()
        wait = self._early_last.get(env, float("-inf")) + EARLY_PASS_MIN_S - loop.time()

        def run() -> None:
            self._early_due.pop(env, None)
            self._early_last[env] = loop.time()
            for bname in self.rec.backends.get(env, {}):
                self.rec.request_pass(env, bname)

        if wait <= 0:
            run()
        else:
            self._early_due[env] = loop.call_later(wait, run)

    # -- queries -------------------------------------------------------------------
    def following(self, env: str) -> str:
        """The live holder this process follows for `env`, or ''."""
        leadership = self.rec.leadership
        if leadership.leads(env):
            return ""
        lease = leadership.seen.get(env)
        if lease is None or not lease.holder or lease.holder == leadership.holder:
            return ""
        return lease.holder if lease.live(now_utc()) else ""

    # -- loading what the leader published -------------------------------------------
    async def load(self, env: str) -> bool:
        """Show `env` as its leader last published it; False when nothing was published yet."""
        state = self.rec.envs.get(env)
        if state is None:
            return False
        store = self.rec.store
        published = await self.feed.read(env)
        if published is None:
            return False
        snapshot = await self.feed.snapshot_rows(env)
        stored = await store.load_backend_states(env)
        drifts = await store.open_drifts(env)
        texts = self._texts.setdefault(env, {})
        for bname, bstate in state.backends.items():
            old = state.resources.get(bname, {})
            rows = snapshot.get(bname, {})
            new: dict[str, Resource] = {}
            changed: list[Resource] = []
            for rid, data in rows.items():
                if rid in old and texts.get(rid) == data:
                    new[rid] = old[rid]  # unchanged since the last load: the same object (screens diff by identity)
                    continue
                new[rid] = Resource.from_json(json.loads(data))
                texts[rid] = data
                changed.append(new[rid])
            removed = [rid for rid in old if rid not in new]
            for rid in removed:
                texts.pop(rid, None)
            state.resources[bname] = new
            b = stored.get(bname)
            if b is not None:
                bstate.reachable, bstate.error = b.reachable, b.error
                bstate.observed_at, bstate.last_pass = b.observed_at, b.last_pass
                bstate.nodes_total, bstate.nodes_unreachable = b.nodes_total, b.nodes_unreachable
                bstate.failures, bstate.backoff_s = published.retries.get(bname, (0, 0.0))
                bstate.next_pass = None  # the leader's to make
            state.faults[bname] = published.faults.get(bname, [])
            state.drifts[bname] = [DriftItem(d["resource_id"], d["field"], _value(d["desired"]), _value(d["actual"]))
                                   for d in drifts if str(d["resource_id"]).startswith(bname + "/")]
            state.revision += 1
            if changed or removed:
                self.rec._publish(ResourcesChanged(env, bname, changed, removed))
            self.rec._publish(FaultsChanged(env, bname, state.faults[bname]))
            self.rec._publish(DriftsChanged(env, bname, state.drifts[bname]))
            self.rec._publish(BackendStatusChanged(env, bname, bstate))
            if bstate.reachable is False and new:
                # as the leader shows them: Unknown, "last observed …" (its snapshot keeps the last health)
                self.rec._mark_unknown(env, bname, bstate)
                for rid in new:
                    texts.pop(rid, None)  # parsed again from the next publication
        self.loads += 1
        return True

    async def load_followed(self) -> set[str]:
        """Load every environment this process follows (a CLI command's observe): the ones loaded."""
        marks = await self.feed.marks()
        done = set()
        for env in list(self.rec.envs):
            if self.following(env) and env in marks.tokens and await self.load(env):
                self.loaded[env] = marks.tokens[env]
                done.add(env)
        return done

    # -- backends the leader has not observed yet ---------------------------------------
    def pending(self, env: str) -> list[str]:
        """The backends of a followed `env` its leader has published nothing for yet: neither an
        observation nor a failure (its first pass of them is still running). Shown as pending,
        never as unreachable: this process made no call that could have failed."""
        state = self.rec.envs.get(env)
        if state is None or not self.following(env):
            return []
        return [name for name, b in state.backends.items() if b.reachable is None]

    async def await_first_observations(self, timeout: float) -> dict[str, list[str]]:
        """Until the leaders have published a first observation of every pending backend
        (`envdeck status` right after a TUI or an agent started), at most `timeout` seconds:
        the feed is read again at each wake and what changed loaded. No cloud call. Returns
        what is still pending (env -> backends), empty when everything was observed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        waiting = {env: names for env in self.rec.envs if (names := self.pending(env))}
        while waiting and (left := deadline - loop.time()) > 0:
            await self.feed.wait(min(left, SQLITE_POLL_S))
            # who leads, read again: the lease seen when the command started ages past its ttl
            # while a slow first pass runs, though the leader keeps renewing it
            await self.rec.leadership.refresh()
            marks = await self.feed.marks()
            for env in list(waiting):
                token = marks.tokens.get(env)
                if token is not None and self.loaded.get(env) != token and await self.load(env):
                    self.loaded[env] = token
                if names := self.pending(env):
                    waiting[env] = names
                else:
                    del waiting[env]
        return waiting

    # -- the loop ------------------------------------------------------------------
    async def start(self) -> None:
        if self._task is not None:
            return
        with contextlib.suppress(StateError):
            self.marks = await self.feed.marks()
            self._primed = True
            for env in list(self.rec.envs):
                if self.following(env) and env in self.marks.tokens and await self.load(env):
                    self.loaded[env] = self.marks.tokens[env]
        self._task = asyncio.create_task(self._run(), name="follower")

    async def stop(self) -> None:
        for handle in self._early_due.values():
            handle.cancel()
        self._early_due.clear()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.feed.close()

    async def _run(self) -> None:
        while True:
            await self.feed.wait()
            try:
                await self.step()
            except asyncio.CancelledError:
                raise
            except StateError as exc:
                log.warning("cannot follow the store: %s", exc)
            except Exception:  # noqa: BLE001 - keep following whatever one round met
                log.exception("the follower's round failed")

    async def step(self) -> None:
        """One round: load the environments whose publication changed; announce new rows."""
        before, marks = self.marks, await self.feed.marks()
        self.marks = marks
        primed, self._primed = self._primed, True
        for env in list(self.rec.envs):
            token = marks.tokens.get(env)
            if token is not None and self.following(env) and self.loaded.get(env) != token:
                if await self.load(env):
                    self.loaded[env] = token
        if primed and (marks.audit, marks.timeline) != (before.audit, before.timeline):
            active = await self.feed.envs_active_since(before.audit, before.timeline, self.rec.envs)
            for env, foreign in active.items():
                if env not in self.rec.envs:
                    continue
                self.rec._publish(TimelineAdded(env, []))
                if foreign:  # another process paused or resumed its repairs: shown (and honoured) now
                    await self.rec.load_pause(env)
                if foreign and self.rec.leadership.leads(env):
                    self._early_pass(env)  # another user's action: show its effect soon
