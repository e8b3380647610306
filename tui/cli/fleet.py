"""`envdeck run ENV [--nodes GLOB] [--json] -- COMMAND...`: one command on many nodes."""

from __future__ import annotations

import argparse
import shlex
import sys

from tui.cli.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, load, open_session
from tui.cli.output import print_json, write_line


async def cmd_run(args: argparse.Namespace) -> int:
    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print("envdeck: run needs a command after --, e.g. envdeck run staging -- uptime", file=sys.stderr)
        return EXIT_USAGE
    # One word is taken as a shell command line as typed; several words are quoted one by one.
    command = argv[0] if len(argv) == 1 else shlex.join(argv)
    cfg = load(args)
    session = await open_session(args, cfg, args.env)

    def live(result) -> None:
        if not args.json:
            first = (result.stdout or result.stderr or "").strip().splitlines()[:1]
            status = result.error or f"exit {result.exit_code}"
            write_line(f"{result.node:<20} {status:<12} {result.duration_s:6.2f}s  {first[0] if first else ''}")

    try:
        results = await session.run_fleet(args.env, command, args.nodes, on_result=live)
    finally:
        await session.close()
    ok = sum(1 for r in results if r.error is None and r.exit_code == 0)
    unreachable = sum(1 for r in results if r.error is not None and r.exit_code is None)
    failed = len(results) - ok - unreachable
    summary = {"ok": ok, "failed": failed, "unreachable": unreachable}
    if args.json:
        print_json({"results": [r.to_json() for r in results], "summary": summary})
    else:
        write_line(f"{ok} ok, {failed} failed, {unreachable} unreachable")
    return EXIT_OK if ok == len(results) else EXIT_FAILED
