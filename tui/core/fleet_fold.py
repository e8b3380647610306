"""The audit rows of one fleet run shown as one row (a 90-node `envdeck run` writes 90 rows, one a
node, in one transaction): `envdeck audit` on a terminal and the TUI's Timeline fold them; the
store keeps every row, and `--json`, a piped listing or a Timeline filter show each."""

from __future__ import annotations

from typing import Any

FLEET_FOLD_MIN = 3  # rows of one fleet run shown as one line on a terminal
FAILED_NAMED = 10  # nodes named in a folded run's line (of those that did not succeed)


def _fleet_key(e: dict[str, Any]) -> tuple[Any, ...] | None:
    """What the rows of one `envdeck run` share (written in one transaction: same user, env, origin,
    time and params, consecutive ids), or None for a row of no fleet run."""
    if e.get("action") != "run" or not str(e.get("target", "")).startswith("edge/node/") or e.get("params_error"):
        return None
    return (e.get("user"), e.get("env"), e.get("origin"), e.get("at"), repr(e.get("params")), e.get("db_user"))


def fold_fleet_runs(entries: list[dict[str, Any]], hint: str) -> list[dict[str, Any]]:
    """The rows of one fleet run (FLEET_FOLD_MIN or more, adjacent in the listing and by id, sharing
    user, env, origin, time and params) as one row: target `90 edge nodes`, result the one they share
    or `mixed`, message `82 succeeded, 8 failed (not succeeded: gw-03, …) · 90 rows, one a node:
    HINT`, `folded` the number of rows. It says how many rows it stands for, not how many nodes the
    run had (a limit may cut a run). Returns `entries` itself when nothing folds."""
    out: list[dict[str, Any]] = []
    i = 0
    while i < len(entries):
        key, j = _fleet_key(entries[i]), i + 1
        targets = {entries[i].get("target")}
        # a node twice: another run of the same command in the same second (two shells, one account)
        while (key is not None and j < len(entries) and _fleet_key(entries[j]) == key
               and abs(int(entries[j]["id"]) - int(entries[j - 1]["id"])) == 1
               and entries[j].get("target") not in targets):
            targets.add(entries[j].get("target"))
            j += 1
        if key is None or j - i < FLEET_FOLD_MIN:
            out.extend(entries[i:j])
        else:
            out.append(_fleet_row(entries[i:j], hint))
        i = j
    return out if len(out) < len(entries) else entries


def _fleet_row(rows: list[dict[str, Any]], hint: str) -> dict[str, Any]:
    results: dict[str, list[str]] = {}
    for r in rows:
        results.setdefault(str(r["result"]), []).append(str(r["target"]).removeprefix("edge/node/"))
    counts = ", ".join(f"{len(names)} {result}" for result, names in sorted(results.items(), key=lambda x: -len(x[1])))
    others = sorted(n for result, names in results.items() if result != "succeeded" for n in names)
    named = f" (not succeeded: {', '.join(others[:FAILED_NAMED])}{', …' if len(others) > FAILED_NAMED else ''})" \
        if others else ""
    ids = sorted(int(r["id"]) for r in rows)
    return {**rows[0], "id": f"{ids[0]}-{ids[-1]}", "target": f"{len(rows)} edge nodes",
            "result": next(iter(results)) if len(results) == 1 else "mixed", "message_cut": False,
            "message": f"{counts}{named} · {len(rows)} rows, one a node: {hint}", "folded": len(rows)}
