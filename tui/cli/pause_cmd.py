"""`envdeck pause ENV [--reason TEXT]` and `envdeck resume ENV`: the TUI's `p` from a shell.

The pause is the store's (tui/core/store.py `repair_pauses`): every reconciler on the store
(TUIs, `envdeck reconcile`, `envdeck agent`) stops repairing ENV automatically until someone
resumes, and observing goes on. Both verbs need the operator role (`pause`), are refused by
`--read-only`, and are audited (action `pause` / `resume`) like the key. No backend is called.
"""

from __future__ import annotations

import argparse

from tui.cli.opening import load, open_session
from tui.cli.output import print_json, write_line
from tui.core.errors import EnvdeckError
from tui.core.pause_text import already_paused, pause_ended

EXIT_OK = 0


async def cmd_pause(args: argparse.Namespace) -> int:
    pausing = args.command == "pause"
    cfg = load(args)
    session = await open_session(args, cfg, args.env)
    try:
        if args.env not in session.states():
            raise EnvdeckError(f"no environment named {args.env!r}")
        before = await session.set_paused(args.env, pausing, reason=getattr(args, "reason", None) or "")
        after = await session.repairs_pause(args.env)
    finally:
        await session.close()
    if args.json:
        print_json({"env": args.env, "paused": after is not None,
                    "pause": after.to_json() if after is not None else None,
                    "was_paused": before is not None})
    elif pausing and before is not None:  # someone's pause is never overwritten (its reason stays)
        write_line(already_paused(args.env, before))
    elif pausing:
        write_line(f"{args.env}: automatic repairs paused for every envdeck on the store"
                   + (f" by {after.user}" if after is not None else "")
                   + (f" ({after.reason})" if after is not None and after.reason else "")
                   + f"; observing goes on; `envdeck resume {args.env}` resumes them")
    elif before is None:
        write_line(f"{args.env}: automatic repairs were not paused; nothing to resume")
    else:
        write_line(f"{args.env}: automatic repairs resumed ({pause_ended(before)})")
    return EXIT_OK


__all__ = ["cmd_pause"]
