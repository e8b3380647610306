"""One audited operation: its `pending` row is committed before the work starts, and
finished however the work ends.

    async with audited(store, user=..., env=..., target=..., action=..., params=..., origin=...) as op:
        result = await backend.perform(resource, action, params)
        op.finish(AuditResult.SUCCEEDED if result.ok else AuditResult.FAILED, result.message)

How the row ends:
- the body returns: what it set with `op.finish(...)` (or `op.fail(...)`), else `succeeded`;
- the body raises an Exception: `failed`, with the exception's text (the store redacts it);
- the body is cancelled or interrupted (any other BaseException): `interrupted`;
- in both raising cases an outcome the body had already set wins (a log stream the
  reader closes is a `succeeded` read, "closed").

A `deferred` row is not written when the block is entered but with the body's first write
of its own (a lifecycle step's row: `LifecycleStore.upsert_step(audit=op)`, one commit for
both, still before anything is changed in a backend), and its end likewise with the body's
last row (`ended`); a body that writes no row of its own gets its row at the end.

Many operations run as one (a fleet run: a row per node) use `audited_group`: every row
begun in one commit before the work, their ends in one more, each by the rules above.

The row of an operation that outlives one call (an interactive shell: opened by one
Session call, closed by another) is begun with `AuditedOperation.begin` and finished
with `finish_row` by whoever sees it end. Never imports Textual.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui.core.model import AuditResult

if TYPE_CHECKING:
    from tui.core.store import Store


def exception_text(exc: BaseException) -> str:
    """What an audit row says of an exception: its text, else its type's name; a cancellation
    or Ctrl-C in words, never Python's names for them."""
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    return str(exc) or type(exc).__name__


@dataclass(frozen=True, slots=True)
class AuditFields:
    """What a `pending` audit row says (Store.audit_begin's keywords)."""

    user: str
    env: str
    target: str
    action: str
    params: dict[str, Any] | None
    origin: str


@dataclass(slots=True)
class AuditedOperation:
    """The open audit row of one operation; the body says how it ended."""

    store: Store
    id: int                    # 0: a deferred row not written yet
    result: str | None = None  # None: not decided by the body (succeeded when it returns)
    message: str = ""
    #: a deferred row's fields and fencing epoch, kept until the row is written
    deferred: AuditFields | None = None
    epoch: int | None = None
    #: the row's end is written already (with the body's last row): nothing left to write
    ended: bool = False

    def begun(self, audit_id: int) -> None:
        """The deferred row was written (by the caller's transaction) with id `audit_id`."""
        self.id, self.deferred = audit_id, None

    @classmethod
    async def begin(cls, store: Store, *, user: str, env: str, target: str, action: str,
                    params: dict[str, Any] | None, origin: str, epoch: int | None = None) -> AuditedOperation:
        """Commit the `pending` row (before anything is asked of a backend). `epoch`: a leader's
        repair, refused by the store (`Fenced`) once the lease has moved on."""
        audit_id = await store.audit_begin(user=user, env=env, target=target, action=action,
                                           params=params, origin=origin, epoch=epoch)
        return cls(store, audit_id)

    def finish(self, result: str, message: str = "") -> None:
        """How the operation ended (written when the `audited` block is left)."""
        self.result, self.message = str(result), message

    def succeed(self, message: str = "") -> None:
        self.finish(AuditResult.SUCCEEDED, message)

    def fail(self, message: str) -> None:
        self.finish(AuditResult.FAILED, message)

    async def finish_row(self, result: str, message: str = "") -> bool:
        """Write the row's end now (for an operation that is not one `audited` block); a deferred
        row not written yet is written first; nothing when its end is written already."""
        if self.ended:
            return False
        if self.deferred is not None:
            fields = self.deferred
            self.begun(await self.store.audit_begin(user=fields.user, env=fields.env, target=fields.target,
                                                    action=fields.action, params=fields.params,
                                                    origin=fields.origin, epoch=self.epoch))
        return await self.store.audit_finish(self.id, result, message)


@asynccontextmanager
async def audited(store: Store, *, user: str, env: str, target: str, action: str,
                  params: dict[str, Any] | None, origin: str,
                  reason: Callable[[BaseException], str] = exception_text,
                  epoch: int | None = None, deferred: bool = False) -> AsyncIterator[AuditedOperation]:
    """Begin a row, run the body, finish the row (see the module's doc). `reason` words
    the message of an exception the body raises (default: its text, else its type).
    `epoch`: the leader's fencing epoch of a repair (tui/core/leases.py). `deferred`: the row
    is written with the body's first row of its own (see the module's doc)."""
    if deferred:
        op = AuditedOperation(store, 0, deferred=AuditFields(user, env, target, action, params, origin),
                              epoch=epoch)
    else:
        op = await AuditedOperation.begin(store, user=user, env=env, target=target, action=action,
                                          params=params, origin=origin, epoch=epoch)
    try:
        yield op
    except Exception as exc:
        if op.result is None:
            op.fail(reason(exc))
        await op.finish_row(op.result or AuditResult.FAILED, op.message)
        raise
    except BaseException as exc:  # cancelled, ctrl+c, a closed generator
        if op.result is None:
            op.finish(AuditResult.INTERRUPTED, reason(exc))
        await op.finish_row(op.result or AuditResult.INTERRUPTED, op.message)
        raise
    await op.finish_row(op.result or AuditResult.SUCCEEDED, op.message)


@dataclass(frozen=True, slots=True)
class AuditEnd:
    """How one row ends (Store.audit_finish_many's records)."""

    id: int
    result: str
    message: str


async def _finish_group(store: Store, ops: Sequence[AuditedOperation], default: str) -> None:
    await store.audit_finish_many([AuditEnd(op.id, op.result or default, op.message) for op in ops])


async def _finish_group_whatever_comes(store: Store, ops: Sequence[AuditedOperation], default: str) -> None:
    """The ends of a group whose work was cancelled. A Ctrl-C cancels the work again every half
    second until it has ended (tui/cli/interrupt.py): one landing in this write would leave
    every row `pending` for ever, so the write is finished first; the cancellation that ended
    the work is raised by the caller right after."""
    writing = asyncio.ensure_future(_finish_group(store, ops, default))
    while not writing.done():
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.shield(writing)
    writing.result()


@asynccontextmanager
async def audited_group(store: Store, rows: Sequence[AuditFields],
                        reason: Callable[[BaseException], str] = exception_text
                        ) -> AsyncIterator[list[AuditedOperation]]:
    """`audited` for many operations run as one: all their `pending` rows are committed in ONE
    transaction before the body starts (a fleet run on 50 nodes: one synced write, not 50), and
    their ends in one more when it is left; each row ends by the rules of `audited` (what the
    body set on its operation, else `succeeded`, `failed` or `interrupted` as the body ended)."""
    ops = [AuditedOperation(store, audit_id) for audit_id in await store.audit_begin_many(rows)]
    try:
        yield ops
    except Exception as exc:
        for op in ops:
            if op.result is None:
                op.fail(reason(exc))
        await _finish_group(store, ops, AuditResult.FAILED)
        raise
    except BaseException as exc:  # cancelled, ctrl+c
        for op in ops:
            if op.result is None:
                op.finish(AuditResult.INTERRUPTED, reason(exc))
        await _finish_group_whatever_comes(store, ops, AuditResult.INTERRUPTED)
        raise
    await _finish_group(store, ops, AuditResult.SUCCEEDED)
