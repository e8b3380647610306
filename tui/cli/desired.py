"""The CLI side of desired-state overlays and repair holds.

- `envdeck act` in an `auto` environment: an action against the desired state asks on a
  terminal (keep as desired / hold repair / cancel); without a terminal it needs
  `--set-desired` or `--hold-repair DURATION`, else exit 2 naming both.
- `envdeck desired ENV [--clear RESOURCE_ID [--field F]] [--json]`: list the overlays and
  the repair holds of an environment, or drop a resource's overlays.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from tui.cli.output import ask, print_json, write_line
from tui.core import overrides
from tui.core.config import parse_duration
from tui.core.errors import EnvdeckError
from tui.core.model import Resource
from tui.core.sanitize import clean
from tui.core.session import Session
from tui.core.shown_value import shown_value

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class Refused(Exception):
    """The action must not run; `code` is the exit code, the message already printed."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Override:
    choice: str  # "set-desired" | "hold"
    found: list[overrides.Conflict]
    hold_s: float = overrides.DEFAULT_HOLD_S


def _say(text: str) -> None:
    print(clean(text), file=sys.stderr)  # stderr is for people, piped too


def hold_seconds(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        _say(f"envdeck: --hold-repair: {exc}")
        raise Refused(EXIT_USAGE) from None
    if not 0 < seconds <= overrides.MAX_HOLD_S:
        _say(f"envdeck: --hold-repair: {text!r}: a hold lasts more than 0s and at most "
             f"{overrides.MAX_HOLD_S / 86400:.0f} days")
        raise Refused(EXIT_USAGE)
    return seconds


def choose(args: argparse.Namespace, session: Session, resource: Resource, params: dict[str, str]
           ) -> Override | None:
    """What to do about an action against the desired state (None: there is no conflict).
    Raises Refused when the action must not run."""
    set_desired, hold = getattr(args, "set_desired", False), getattr(args, "hold_repair", None)
    if set_desired and hold:
        _say("envdeck: --set-desired and --hold-repair exclude each other: choose one")
        raise Refused(EXIT_USAGE)
    hold_s = hold_seconds(hold) if hold else overrides.DEFAULT_HOLD_S
    found = overrides.conflicts(session, args.env, resource, args.action, params)
    if not found:
        return None
    if set_desired:
        return Override("set-desired", found)
    if hold:
        return Override("hold", found, hold_s)
    lines = [f"envdeck: {args.action} {args.resource} contradicts the desired state of {args.env}, which repairs "
             "automatically (the reconciler would undo it):"] + [f"  {c.describe()}" for c in found]
    if not sys.stdin.isatty():
        _say("\n".join(lines) + "\nenvdeck: pass --set-desired (keep the new value as the desired state) or "
             "--hold-repair DURATION (hold its automatic repair, e.g. 30m); nothing was done")
        raise Refused(EXIT_USAGE)
    _say("\n".join(lines))
    answer = ask("[d] keep it as the desired state, [h] hold automatic repair for "
                   f"{overrides.DEFAULT_HOLD_S / 60:.0f}m, [c] cancel: ").strip().lower()
    if answer in ("d", "desired"):
        return Override("set-desired", found)
    if answer in ("h", "hold"):
        return Override("hold", found)
    _say("envdeck: cancelled; nothing was done")
    raise Refused(EXIT_FAILED)


async def apply(session: Session, env: str, override: Override, reason: str) -> None:
    """Before the action runs (no pass may undo it in between)."""
    if override.choice == "set-desired":
        await overrides.set_desired(session, env, override.found, reason=reason)
    else:
        await overrides.hold_repair(session, env, sorted({c.resource for c in override.found}), override.hold_s,
                                    reason=reason)


async def after(session: Session, env: str, override: Override | None, ok: bool, reason: str) -> str:
    """After the action: a failed action's overlay is dropped again. Returns a note for the output."""
    if override is None:
        return ""
    if override.choice == "set-desired":
        if not ok:
            await overrides.undo_set_desired(session, env, override.found, reason=f"{reason} failed")
            return ""
        return " (kept as the desired state)"
    return f" (automatic repair held for {override.hold_s / 60:.0f} min)" if ok else ""


async def cmd_desired(args: argparse.Namespace) -> int:
    from tui.cli.opening import load, open_session

    cfg = load(args)
    session = await open_session(args, cfg, args.env)
    try:
        if args.env not in session.states():
            raise EnvdeckError(f"no environment named {args.env!r}")
        if args.field and not args.clear:
            _say("envdeck: --field needs --clear RESOURCE_ID")
            return EXIT_USAGE
        if args.clear:
            count = await overrides.clear_desired(session, args.env, args.clear, args.field)
            if not count:
                _say(f"envdeck: {args.clear} has no desired-state overlay"
                     + (f" for {args.field}" if args.field else "") + f" in {args.env}")
                return EXIT_FAILED
            write_line(f"{args.clear}: {count} overlay(s) dropped; the config's desired state applies again")
            return EXIT_OK
        await session.load_overrides(args.env)
        state = session.state(args.env)
        data = state.to_json(include_resources=False)
    finally:
        await session.close()
    if args.json:
        print_json({"env": args.env, "desired_overlays": data["desired_overlays"],
                    "repair_holds": data["repair_holds"]})
        return EXIT_OK
    if not data["desired_overlays"] and not data["repair_holds"]:
        write_line(f"{args.env}: the desired state is the config's; no repair is held")
    for o in data["desired_overlays"]:
        write_line(f"overlay {o['resource']} {o['field']} = {shown_value(o['value'])}  by {o['user']} at {o['at']}"
                   + (f"  ({o['reason']})" if o["reason"] else ""))
    for h in data["repair_holds"]:
        write_line(f"held    {h['resource']} until {h['until']}  by {h['user']}"
                   + (f"  ({h['reason']})" if h["reason"] else ""))
    return EXIT_OK


__all__ = ["Override", "Refused", "after", "apply", "choose", "cmd_desired"]
