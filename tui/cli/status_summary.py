"""`envdeck status --summary`: a line per environment and one per backend under it (state,
counts of resources, faults and drifts), 80 columns wide (or the terminal's width): what fits a
24-row screen where the full table (`status`) is a page per environment. Built from the same
JSON as `status --json` (`EnvState.to_json()`, `pending` from `mark_pending`)."""

from __future__ import annotations

from typing import Any

from tui.cli.output import age, nodes_down_words, write_line
from tui.cli.table_fit import cut_middle as _cut
from tui.cli.table_fit import terminal_width

HEAD = f"{'ENVIRONMENT/BACKEND':<20} {'STATE':<14} {'RESOURCES':>9} {'FAULTS':>6} {'DRIFT':>5}"




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
    if b.get("nodes_unreachable"):  # it answers, but some of its hosts did not (edge)
        return f"PARTIAL {b['nodes_unreachable']}/{b.get('nodes_total')}"
    return f"ok {age(b['observed_at'])}" if b.get("observed_at") else "ok"


def _row(label: str, state: str, counts: tuple[int, int, int]) -> str:
    return f"{label:<20} {state:<14} {counts[0]:>9} {counts[1]:>6} {counts[2]:>5}"


def summary_lines(envs: list[dict[str, Any]], width: int | None = None) -> list[str]:
    """The lines, each at most `width` columns (None: whole, e.g. piped)."""
    lines = [HEAD]
    for env in envs:
        row = _row(_cut(env["name"], 20), str(env["health"]), _counts(env, None))
        lines.append(_fit(f"{row}  {_repair_cell(env, None if width is None else width - len(row) - 2)}", width))
        for name, b in env["backends"].items():
            row = _row("  " + _cut(name, 18), _backend_state(b), _counts(env, name))
            why = b.get("error") or (f"first pass by {env.get('leader') or 'its leader'} running"
                                     if b.get("pending") else nodes_down_words(b))
            lines.append(_fit(f"{row}  {why}" if why else row, width))
    return lines


def _repair_cell(env: dict[str, Any], room: int | None) -> str:
    """`repair=MODE led by LEADER`; in less room the leader (who repairs it) is kept longest:
    the words around it go first, then its middle is cut (user and pid stay)."""
    mode = env["repair"] + (" PAUSED" + (f" by {env['pause']['user']}" if env.get("pause") else "")
                            if env.get("paused") else "")
    whole = f"repair={mode}" + (f" led by {env['leader']}" if env.get("leader") else "")
    if room is None or len(whole) <= room or not env.get("leader"):
        return whole
    leader = env["leader"]
    for text in (f"{mode}, led by {leader}", f"led by {leader}", leader):
        if len(text) <= room:
            return text
    return _cut_leader(leader, max(room, 8))


def _cut_leader(leader: str, room: int) -> str:
    """`user@host:pid` in `room` columns: the host's end (its domain) is cut first, the user and
    the pid stay; anything else is cut in the middle."""
    user, at, rest = leader.partition("@")
    host, colon, pid = rest.rpartition(":")
    left = room - len(user) - len(pid) - 3   # `@`, `…`, `:`
    if not at or not colon or left < 3:
        return _cut(leader, room)
    return f"{user}@{host[:left]}…:{pid}"


def _fit(line: str, width: int | None) -> str:
    if width is None or len(line) <= width:
        return line
    return line[:width - 1] + "…"


def status_summary(envs: list[dict[str, Any]]) -> None:
    for line in summary_lines(envs, terminal_width()):
        write_line(line)
