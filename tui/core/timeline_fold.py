"""The Timeline's folding of edge health changes that follow from each other (on-call finding,
session 11: at 90 flapping edge nodes the view filled with `HealthChanged Unknown → Healthy`
rows, a node's and each of its services', and pushed the real events out of sight).

Folded in presentation only: the store keeps every row as it was recorded (the timeline and the
audit trail stay the truth, `envdeck`'s readers and a filter see each row), the view shows

- a node's service whose health changed the same way in the same pass as its node (same time,
  same `before → after`: the service's state follows from the node's, Unknown while it was
  away) in the node's row: `Unknown → Healthy (+2 services)`; a service that changed in another
  way (`Unknown → Unhealthy`: a service that did not come back) keeps its own row;
- FOLD_NODES or more nodes whose health changed the same way in the same pass as one summary
  row, `87 nodes Unknown → Healthy (+174 services)`, at the place of the newest of them, with the
  node names in its message (the preview line under the table reads them); its level is theirs.

`/` (any filter) shows every row again, unfolded: the filter is how a summary opens to its detail.
Only `HealthChanged` events of edge resources are folded (the edge backend's, once a pass)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

FOLD_NODES = 3  # nodes changing the same way in one pass, from which they are one summary row
NAMES_SHOWN = 40  # node names in a summary's message (the rest counted)
NODE_PREFIX = "edge/node/"
SERVICE_PREFIX = "edge/service/"


def _transition(entry: dict[str, Any]) -> str | None:
    """`Unknown → Healthy` of an edge HealthChanged event (its reason after `:` left out), else None."""
    if entry.get("reason") != "HealthChanged" or entry.get("kind") != "event":
        return None
    if int(entry.get("count") or 1) != 1:
        return None
    head = str(entry.get("message") or "").split(":", 1)[0].strip()
    return head if " → " in head else None


def _node_of(resource: str) -> str | None:
    """`edge/service/gw-01:nginx` → `gw-01`."""
    if not resource.startswith(SERVICE_PREFIX):
        return None
    node, sep, _ = resource[len(SERVICE_PREFIX):].rpartition(":")
    return node if sep else None


def fold_health(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries (newest first, as the store returns them) to show: those not folded as they are,
    a node's row with its services' count, a summary row in place of a burst. Returns `entries`
    itself when nothing folds."""
    # (at, transition) -> node name -> index of the node's row
    nodes: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for i, e in enumerate(entries):
        change = _transition(e)
        resource = str(e.get("resource") or "")
        if change is not None and resource.startswith(NODE_PREFIX):
            nodes[(str(e.get("at")), change)].setdefault(resource[len(NODE_PREFIX):], i)
    if not nodes:
        return entries
    services_of: dict[int, int] = defaultdict(int)  # node row index -> services folded into it
    hidden: set[int] = set()
    for i, e in enumerate(entries):
        change = _transition(e)
        node = _node_of(str(e.get("resource") or "")) if change is not None else None
        at_node = nodes.get((str(e.get("at")), change or ""), {}).get(node or "") if node else None
        if at_node is not None:
            services_of[at_node] += 1
            hidden.add(i)
    summary_at: dict[int, dict[str, Any]] = {}  # the newest member's index -> the summary row
    for (at, change), members in nodes.items():
        if len(members) < FOLD_NODES:
            continue
        rows = sorted(members.values())
        hidden.update(rows)
        summary_at[rows[0]] = _summary(entries, rows, at, change, sum(services_of[i] for i in rows))
    if not hidden:
        return entries
    shown: list[dict[str, Any]] = []
    for i, e in enumerate(entries):
        if i in summary_at:
            shown.append(summary_at[i])
        elif i not in hidden:
            folded = services_of.get(i, 0)
            shown.append({**e, "message": f"{e.get('message') or ''} (+{_services(folded)})"} if folded else e)
    return shown


def _services(n: int) -> str:
    return f"{n} service" + ("" if n == 1 else "s")


def _summary(entries: list[dict[str, Any]], rows: list[int], at: str, change: str, services: int) -> dict[str, Any]:
    newest = entries[rows[0]]
    names = sorted(str(entries[i].get("resource", ""))[len(NODE_PREFIX):] for i in rows)
    listed = ", ".join(names[:NAMES_SHOWN]) + (f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else "")
    also = f" (+{_services(services)})" if services else ""
    return {"id": f"fold{newest.get('id', '')}", "at": at, "env": newest.get("env"), "resource": "",
            "label": f"{len(rows)} nodes", "kind": "event", "severity": newest.get("severity", "info"),
            "reason": "HealthChanged", "count": 1, "folded": len(rows) + services,
            "message": f"{len(rows)} nodes {change}{also}: {listed} · / shows each row"}
