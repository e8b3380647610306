"""This process's leadership of its environments (issue 16): the reconciler repairs an
environment (and drives its lifecycle) only while it holds the environment's lease in the store
(tui/core/leases.py); everyone observes.

- `claim(env)` takes the lease when it is free, expired or ours (a single user sees no
  difference: the first claim succeeds); `run()` renews the held ones every `renew_s` and tries
  the others, so a follower takes over within the lease's ttl after the leader is gone.
- `leads(env)` is also bounded by this process's monotonic clock: a lease is trusted only until
  `ttl_s - margin` after the renewal that was asked for, so a process frozen (SIGSTOP) or cut off
  from the store past its lease stops repairing on its own; a renewal refused (another holder
  took the lease) or a repair row refused by the store (`Fenced`) drops it at once. Either way
  the environment's `leader` fields say so and a warning is logged.
- A claim that takes the lease over from another holder (gone: its process no longer runs on
  this host; or it stopped leading: released, expired) says so once: a Timeline row of the
  environment ("now leading prod (root@vm:1234 gone)") and `took_over[env]`, which the
  reconciler hands on with its LeaderChanged (the TUI's toast).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from tui.core.errors import StateError, StoreRefused
from tui.core.leases import Lease, holder_gone, this_holder
from tui.core.model import TimelineEntry, now_utc
from tui.core.store import Store

__all__ = ["LeaderView", "Leadership", "holder_label"]

log = logging.getLogger("envdeck.leadership")

TTL_S = 15.0
RENEW_S = 5.0
MARGIN_S = 1.0
TTL_ENV = "ENVDECK_LEASE_TTL"  # seconds; renewed every third of it (the tests shorten it)


def _ttl_from_env() -> float:
    try:
        ttl = float(os.environ.get(TTL_ENV, "") or TTL_S)
    except ValueError:
        log.warning("$%s: not a number of seconds; using %.0f", TTL_ENV, TTL_S)
        return TTL_S
    return min(max(ttl, 3.0), 3600.0)


def holder_label(holder: str, own: str | None = None) -> str:
    """How a holder `user@host:pid` is shown: `user@host` (the pid says nothing to the reader),
    but with its pid when it is this process's user@host (`own`, default: this process), where
    the user@host alone would not tell two processes apart."""
    who, colon, pid = holder.rpartition(":")
    if not colon or not pid.isdigit():
        return holder
    own_who = (own or this_holder()).rpartition(":")[0]
    return holder if who == own_who else who


@dataclass(frozen=True, slots=True)
class LeaderView:
    """Who leads an environment, as the status shows it."""

    leader: str          # "you", a holder "user@host:pid", or "" (nobody)
    holder: str          # the holder as stored ("" nobody)
    epoch: int
    lease_age_s: float | None
    leading: bool        # this process repairs it
    note: str = ""       # why this process does not repair it (led by…, fenced, cannot renew)


class Leadership:
    def __init__(self, store: Store, envs: Callable[[], Iterable[str]], *, holder: str | None = None,
                 ttl_s: float | None = None, renew_s: float | None = None,
                 on_change: Callable[[str], None] | None = None, clock: Callable[[], datetime] = now_utc):
        self.store = store
        self.clock = clock  # the time written into the lease rows (the lifecycle engine's clock in its tests)
        self.envs = envs
        self.holder = holder or this_holder()
        self.ttl_s = ttl_s if ttl_s is not None else _ttl_from_env()
        self.renew_s = renew_s if renew_s is not None else self.ttl_s / 3
        self.margin_s = min(MARGIN_S, self.ttl_s / 5)
        self.on_change = on_change
        self.held: dict[str, Lease] = {}
        self._deadline: dict[str, float] = {}
        self.seen: dict[str, Lease | None] = {}
        self.notes: dict[str, str] = {}
        self.others: dict[str, str] = {}  # env -> the last other live holder seen (a takeover names it)
        self.took_over: dict[str, str] = {}  # env -> "now leading ENV (HOLDER gone)", until handed on
        self._task: asyncio.Task | None = None
        self.closed = False  # stopped: no claim until started again (a SIGTERM released the leases)
        self.member = False  # the store refused this role the leases (team mode): it only follows

    # -- queries -------------------------------------------------------------------
    def leads(self, env: str) -> bool:
        return env in self.held and time.monotonic() < self._deadline.get(env, 0.0)

    @property
    def running(self) -> bool:
        """The renewal loop runs (a TUI or an agent); a one-shot command renews what it drives itself."""
        return self._task is not None

    def epoch(self, env: str) -> int | None:
        lease = self.held.get(env)
        return lease.epoch if lease is not None and self.leads(env) else None

    def view(self, env: str) -> LeaderView:
        lease = self.held.get(env) if self.leads(env) else self.seen.get(env)
        now = self.clock()
        if lease is None or not lease.live(now):
            return LeaderView("", "", lease.epoch if lease else 0, None, False, self.notes.get(env, ""))
        age = (now - lease.acquired_at).total_seconds() if lease.acquired_at else None
        mine = lease.holder == self.holder and self.leads(env)
        return LeaderView("you" if mine else str(lease.holder), str(lease.holder), lease.epoch,
                          None if age is None else round(max(age, 0.0), 1), mine,
                          "" if mine else self.notes.get(env, ""))

    def led_by(self, env: str) -> str:
        """'env X is led by HOLDER' when another live holder has it, else ''."""
        lease = self.seen.get(env)
        if lease is not None and lease.holder != self.holder and lease.live(self.clock()):
            return f"env {env} is led by {lease.holder}"
        return ""

    # -- changes -------------------------------------------------------------------
    async def claim(self, env: str) -> bool:
        """Take or extend the lease of `env`; False (and `led_by`) when another holds it."""
        if self.closed:
            return False
        if self.member:
            await self._follow(env)
            return False
        asked = time.monotonic()
        try:
            lease = await self.store.acquire_lease(env, self.holder, self.ttl_s, now=self.clock())
        except StoreRefused:
            # a member role (docs/security.md, Team mode): never asks again, follows
            self.member = True
            await self._follow(env)
            return False
        except StateError as exc:
            self._note(env, f"cannot take the lease: {exc}")
            return self.leads(env)
        if lease is None:
            with contextlib.suppress(StateError):
                self._saw(env, await self.store.lease(env))
            if env in self.held:
                self.lose(env, f"{self.led_by(env) or 'the lease moved on'}; not repairing it here")
            else:
                self._note(env, self.led_by(env))
            return False
        was = self.leads(env)
        self.held[env] = self.seen[env] = lease
        self._deadline[env] = asked + self.ttl_s - self.margin_s
        self.notes.pop(env, None)
        if not was:
            log.info("leading %s (epoch %d, %s)", env, lease.epoch, self.holder)
            await self._took_over(env)
            self._changed(env)
        return True

    def _saw(self, env: str, lease: Lease | None) -> None:
        self.seen[env] = lease
        if lease is not None and lease.holder and lease.holder != self.holder and lease.live(self.clock()):
            self.others[env] = lease.holder

    async def _took_over(self, env: str) -> None:
        """Say once that this process now leads `env` in place of another holder."""
        before = self.others.pop(env, "")
        if not before:
            return  # nobody led it (a single user's first claim): nothing to say
        why = "gone" if holder_gone(before) else "stopped leading"
        message = f"now leading {env} ({holder_label(before, self.holder)} {why})"
        self.took_over[env] = message
        log.info("%s", message)
        with contextlib.suppress(StateError):
            await self.store.add_timeline(env, [TimelineEntry(self.clock(), env, "leader", "info", "Leading",
                                                              message)])

    async def _follow(self, env: str) -> None:
        with contextlib.suppress(StateError):
            self._saw(env, await self.store.lease(env))
        self._note(env, self.led_by(env) or "not leading: the store lets this role only follow (read-only member)")

    async def renew(self, env: str) -> bool:
        lease = self.held.get(env)
        if lease is None:
            return False
        asked = time.monotonic()
        try:
            ok = await self.store.renew_lease(lease, self.ttl_s, now=self.clock())
        except StateError as exc:
            # kept until its local deadline; past it, leads() is False and repairs stop
            self._note(env, f"cannot renew the lease: {exc}")
            if not self.leads(env):
                self.lose(env, f"cannot renew the lease: {exc}")
            return self.leads(env)
        if not ok:
            self.lose(env, "fenced: another process took the lease; not repairing it here")
            return False
        if time.monotonic() - asked < self.ttl_s - self.margin_s:
            self._deadline[env] = asked + self.ttl_s - self.margin_s
        self.notes.pop(env, None)
        return True

    def lose(self, env: str, why: str) -> None:
        """Stop leading `env` (fenced, or the lease could not be kept)."""
        had = self.held.pop(env, None) is not None
        self._deadline.pop(env, None)
        self.seen[env] = None  # who leads now: read again with the next refresh
        self.notes[env] = why
        if had:
            log.warning("%s: %s", env, why)
            self._changed(env)

    async def release(self, env: str) -> None:
        lease = self.held.pop(env, None)
        self._deadline.pop(env, None)
        if lease is not None:
            self.seen[env] = None
            with contextlib.suppress(StateError):
                await self.store.release_lease(lease)
            self._changed(env)

    async def release_all(self) -> None:
        for env in list(self.held):
            await self.release(env)

    async def refresh(self) -> None:
        """Read the leases of the environments this process does not lead (for the status)."""
        for env in self.envs():
            if env not in self.held:
                with contextlib.suppress(StateError):
                    self._saw(env, await self.store.lease(env))

    async def tick(self) -> None:
        for env in list(self.envs()):
            if env in self.held:
                await self.renew(env)
            else:
                await self.claim(env)

    # -- the loop ------------------------------------------------------------------
    def start(self) -> None:
        self.closed = False
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="leadership")

    async def stop(self, *, release: bool = True) -> None:
        task, self._task = self._task, None
        self.closed = release
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if release:
            await self.release_all()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.renew_s)
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep leading/following whatever one round met
                log.exception("the leadership round failed")

    def _note(self, env: str, why: str) -> None:
        if why and self.notes.get(env) != why:
            log.info("%s: %s", env, why)
        if why:
            self.notes[env] = why
        else:
            self.notes.pop(env, None)
        self._changed(env)

    def _changed(self, env: str) -> None:
        if self.on_change is not None:
            self.on_change(env)
