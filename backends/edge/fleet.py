"""Fleet commands: one command (or action) on many nodes, bounded concurrency,
a live callback per finished node, results in node order.

`FleetResult.to_json()` is one entry of the `envdeck run --json` contract:
`{"results": [{"node", "exit_code", "duration_s", "stdout", "stderr", "error"}],
"summary": {"ok", "failed", "unreachable"}}` (see `fleet_json`).
"""

from __future__ import annotations

import asyncio
import fnmatch
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from backends.edge.link import CommandTimedOut
from tui.core.errors import BackendDenied, BackendError, BackendUnreachable

log = logging.getLogger("envdeck.edge.fleet")
T = TypeVar("T")
CUT_MARK = "\n[envdeck: output cut at 1 MiB]"  # after a stdout past OUTPUT_CAP (EdgeBackend.run_fleet, a timed-out command)
ResultCallback = Callable[["FleetResult"], Awaitable[None] | None]


@dataclass(slots=True)
class FleetResult:
    node: str
    exit_code: int | None
    duration_s: float
    stdout: str = ""
    stderr: str = ""
    error: str | None = None
    reachable: bool = True  # False: no connection (counts as "unreachable"); not in the JSON

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.error is None

    @property
    def outcome(self) -> str:
        """ok | failed | unreachable — the keys of the summary."""
        if not self.reachable:
            return "unreachable"
        return "ok" if self.ok else "failed"

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "exit_code": self.exit_code, "duration_s": round(self.duration_s, 3),
                "stdout": self.stdout, "stderr": self.stderr, "error": self.error}


def fleet_summary(results: Sequence[FleetResult]) -> dict[str, int]:
    summary = {"ok": 0, "failed": 0, "unreachable": 0}
    for r in results:
        summary[r.outcome] += 1
    return summary


def fleet_json(results: Sequence[FleetResult]) -> dict[str, Any]:
    return {"results": [r.to_json() for r in results], "summary": fleet_summary(results)}


def select_names(names: Sequence[str], patterns: Sequence[str] | None) -> list[str]:
    """Names matching any of the patterns (exact names or shell globs), in config order."""
    if not patterns:
        return list(names)
    return [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]


async def run_bounded(
    targets: Sequence[T],
    work: Callable[[T], Awaitable[FleetResult]],
    name_of: Callable[[T], str],
    *,
    concurrency: int,
    on_result: ResultCallback | None = None,
) -> list[FleetResult]:
    """Run `work` for every target, at most `concurrency` at once; a target that
    raises becomes a failed (or unreachable) result, never an exception. `on_result`
    only shows a result: if it fails (e.g. the reader of our output went away), the
    result stands and the other targets go on."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(target: T) -> FleetResult:
        async with gate:
            start = time.monotonic()
            try:
                result = await work(target)
            except BackendError as exc:
                # A command that timed out on a connected node failed; a node we
                # could not connect to (or whose host key we refused) is unreachable.
                reachable = isinstance(exc, CommandTimedOut) or not isinstance(
                    exc, BackendUnreachable | BackendDenied)
                result = FleetResult(name_of(target), None, time.monotonic() - start, error=str(exc),
                                     reachable=reachable)
                partial = exc.output if isinstance(exc, CommandTimedOut) else None
                if partial is not None:  # the command answered but did not end: keep what arrived
                    result.stdout = partial.stdout + (CUT_MARK if partial.truncated else "")
                    result.stderr = partial.stderr
        if on_result is not None:
            try:
                outcome = on_result(result)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception as exc:
                log.warning("showing the result of %s failed: %s", result.node, exc)
        return result

    return list(await asyncio.gather(*(one(t) for t in targets)))
