"""Waiting on conditions in the edge tests (poll with a generous deadline, never a
fixed sleep as the assertion), and reading what a running Reconciler shows."""

from __future__ import annotations

import asyncio
import time

from tui.core.reconciler import Reconciler

WAIT_S = 120.0  # generous: other suites share the 2 cores
# passes only when asked (the scheduled one is an hour away); backoff 1, 2, 4, 4 … s
HOUR = {"interval": "1h", "timeout": "10s", "max_backoff": "4s"}


async def wait_for(predicate, what: str, deadline_s: float = WAIT_S):
    deadline = time.monotonic() + deadline_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def shown(rec: Reconciler, rid: str):
    return rec.envs["dev"].resource(rid)


async def pass_until(rec: Reconciler, predicate, what: str) -> None:
    """Ask for passes (as an action does) until the published state satisfies predicate."""
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        rec.wake("dev", "edge")
        await asyncio.sleep(0.5)


def attempts_allowed(failures: int, elapsed_s: float, max_backoff: float) -> int:
    """The most connect attempts a link may start within elapsed_s after its failure
    number `failures`, going by its backoff alone (1, 2, 4 … s capped by max_backoff,
    at least 3/4 of that with the jitter) — the attempts' own durations not counted."""
    allowed, spent = 0, 0.0
    while True:
        delay = 0.75 * min(max_backoff, 2.0 ** (failures + allowed - 1))
        if spent + delay > elapsed_s:
            return allowed
        spent += delay
        allowed += 1
