"""`envdeck status --summary`: a line per environment and one per backend under it (state,
counts of resources, faults and drifts), 80 columns wide (or the terminal's width): what fits a
24-row screen where the full table (`status`) is a page per environment. Built from the same
JSON as `status --json` (`EnvState.to_json()`, `pending` from `mark_pending`)."""

from __future__ import annotations

import shutil
import sys
from typing import Any

from tui.cli.output import age, write_line

HEAD = f"{'ENVIRONMENT/BACKEND':<20} {'STATE':<14} {'RESOURCES':>9} {'FAULTS':>6} {'DRIFT':>5}"


def _cut(text: str, width: int) -> str:
    """`text` in `width` columns, its middle cut with `…` (names told apart by start and end)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    keep = width - 1
    return text[:(keep + 1) // 2] + "…" + text[len(text) - keep // 2:]


def _backend_of(resource_id: str) -> str:
    return resource_id.split("/", 1)[0]


def _counts(env: dict[str, Any], backend: str | None) -> tuple[int, int, int]:
    def mine(rid: str) -> bool:
        return backend is None or _backend_of(rid) == backend

    return (sum(1 for r in env.get("resources", []) if mine(r["id"])),
            sum(1 for f in env["faults"] if mine(f["resource"])),
            sum(1 for d in env["drifts"] if mine(d["resource"])))


def _backend_state(b: dict[str, Any]) -> str:
    if b.get("pending"):
        return "pending"
    if not b["reachable"]:
        return "UNREACHABLE"
    return f"ok {age(b['observed_at'])}" if b.get("observed_at") else "ok"


def _row(label: str, state: str, counts: tuple[int, int, int]) -> str:
    return f"{label:<20} {state:<14} {counts[0]:>9} {counts[1]:>6} {counts[2]:>5}"


def summary_lines(envs: list[dict[str, Any]], width: int | None = None) -> list[str]:
    """The lines, each at most `width` columns (None: whole, e.g. piped)."""
    lines = [HEAD]
    for env in envs:
        row = _row(_cut(env["name"], 20), str(env["health"]), _counts(env, None))
        extra = f"repair={env['repair']}" + (f" led by {env['leader']}" if env.get("leader") else "")
        lines.append(_fit(f"{row}  {extra}", width))
        for name, b in env["backends"].items():
            row = _row("  " + _cut(name, 18), _backend_state(b), _counts(env, name))
            why = b.get("error") or (f"first pass by {env.get('leader') or 'its leader'} running"
                                     if b.get("pending") else "")
            lines.append(_fit(f"{row}  {why}" if why else row, width))
    return lines


def _fit(line: str, width: int | None) -> str:
    if width is None or len(line) <= width:
        return line
    return line[:width - 1] + "…"


def status_summary(envs: list[dict[str, Any]]) -> None:
    width = shutil.get_terminal_size((80, 24)).columns if sys.stdout.isatty() else None
    for line in summary_lines(envs, width):
        write_line(line)
