"""Which request the end of a lifecycle operation answers, read from the environment's audit trail.

A process nobody waits for (the reconciler's lifecycle loop, `reconcile --once`) writes one row
when an operation it carried out ends (`engine._Run._end_row`). That row names its request
(`params.request`): the newest request row of the operation's action (`env.create`/`env.clone`,
`env.destroy`, `env.sleep`, `env.wake`; the TTL's destroy has one too, origin `ttl`). The rules,
all read from rows, newest first (`audit_entries`), step rows (`lifecycle.*`), rows of another
target and denied rows skipped:

- a `--wait` request (`params.wait`) ends its own row, driven or joined (`joined: … carried it
  out; ready`), unless it was interrupted: no end row answers it (there is never a second end row);
- the same request carried out again (a failing TTL destroy asked again every round) has no new
  request row: the newest row is then the end row of the earlier attempt, and a new end row
  (naming the same request) is written only when the outcome differs from that one;
- a request of another action, or an end row of another action, is an older operation: it stops
  the search.

Never imports Textual; pure functions over `Store.audit_entries` rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tui.core.model import AuditResult, Origin

__all__ = ["LIFECYCLE_ACTIONS", "EndOf", "end_of", "is_end_row", "same_outcome", "ttl_destroy_retried"]

LIFECYCLE_ACTIONS = frozenset({"env.create", "env.clone", "env.destroy", "env.sleep", "env.wake"})


def _params(row: Mapping[str, Any]) -> Mapping[str, Any]:
    params = row.get("params")
    return params if isinstance(params, Mapping) else {}


def is_end_row(row: Mapping[str, Any]) -> bool:
    """A row written by `_Run._end_row` (origin reconciler, params naming the operation and the
    request's origin), not a request."""
    params = _params(row)
    return row.get("origin") == str(Origin.RECONCILER) and "operation" in params and "requested_origin" in params


def _waiter_ends(row: Mapping[str, Any]) -> bool:
    """A `--wait` request: its own row says how the operation ended, unless it was interrupted."""
    return bool(_params(row).get("wait")) and row.get("result") != str(AuditResult.INTERRUPTED)


def _relevant(rows: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    return (r for r in rows if r.get("action") in LIFECYCLE_ACTIONS and r.get("target") == r.get("env")
            and r.get("result") != str(AuditResult.DENIED))


@dataclass(frozen=True, slots=True)
class EndOf:
    """What the end row of an operation answers."""

    #: the request row's id (None: none found)
    request: int | None = None
    #: the request's action (`env.clone` for a clone's create); None: the operation's own
    action: str | None = None
    #: the newest end row already naming that request (an earlier attempt of the same request)
    previous: Mapping[str, Any] | None = None
    #: the operation's only requests are `--wait` ones: they end their own rows, no end row is written
    waited: bool = False


def end_of(rows: Iterable[Mapping[str, Any]], actions: tuple[str, ...]) -> EndOf:
    """The request an operation of `actions` answers, from the environment's rows (newest first)."""
    waited = False
    for row in _relevant(rows):
        action = str(row.get("action"))
        if is_end_row(row):
            if action in actions and not waited:    # the same request carried out again
                request = _params(row).get("request")
                return EndOf(request if isinstance(request, int) else None, action, row)
            break
        if action not in actions:
            break
        if _waiter_ends(row):
            waited = True     # an earlier request handed over may be answered still: read on
            continue
        return EndOf(row.get("id"), action)
    return EndOf(waited=waited)


def _without_by(message: str) -> str:
    return message.rsplit(" (by ", 1)[0] if message.endswith(")") else message


def same_outcome(previous: Mapping[str, Any], result: str, message: str) -> bool:
    """The earlier end row says the same (result and message, whoever carried it out)."""
    return (previous.get("result") == str(result)
            and _without_by(str(previous.get("message") or "")) == _without_by(message))


def ttl_destroy_retried(rows: Iterable[Mapping[str, Any]]) -> bool:
    """The newest lifecycle row is the TTL's destroy request, or the end row of a destroy it
    requested: asking the destroy again is the same request (no second request row)."""
    for row in _relevant(rows):
        if row.get("action") != "env.destroy":
            return False
        if is_end_row(row):
            return _params(row).get("requested_origin") == str(Origin.TTL)
        return row.get("origin") == str(Origin.TTL)
    return False
