"""`envdeck run ENV [--nodes GLOB] [--json] -- COMMAND...`: one command on many nodes."""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from backends.edge.fleet import fleet_summary
from tui.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE  # not tui.cli.commands: `run` needs none of its verbs
from tui.cli.opening import load, open_session
from tui.cli.output import ask, print_json, write_line


def _late_options() -> argparse.ArgumentParser:
    """The options `run` accepts between ENV and `--` (argparse's REMAINDER would otherwise
    take them as part of the command: a `--read-only` or `--nodes` silently ignored)."""
    late = argparse.ArgumentParser(prog="envdeck run ENV", add_help=False)
    late.add_argument("--nodes", metavar="GLOB")
    late.add_argument("--json", action="store_true")
    late.add_argument("--yes", action="store_true")
    late.add_argument("--read-only", action="store_true")
    late.add_argument("--config", metavar="PATH")
    late.add_argument("--state-dir", metavar="DIR")
    return late


def _command_words(args: argparse.Namespace) -> list[str] | None:
    """The command after `--`; options written before `--` are applied to `args`.
    None when an option-like word would otherwise be run as the command."""
    argv = list(args.argv)
    if "--" in argv:
        cut = argv.index("--")
        head, argv = argv[:cut], argv[cut + 1:]
        if head:
            late, unknown = _late_options().parse_known_args(head)
            if unknown:
                print(f"envdeck: run: unexpected {' '.join(unknown)!r} before --", file=sys.stderr)
                return None
            for key, value in vars(late).items():
                if value not in (None, False):
                    setattr(args, key, value)
    elif argv and argv[0].startswith("-"):
        print(f"envdeck: run: {argv[0]!r} looks like an option: put the command after --, "
              "e.g. envdeck run staging --json -- uptime", file=sys.stderr)
        return None
    return argv


class Printer:
    """stdout for `run`: a line per node as soon as it finishes (flushed: `run … | head -1`
    shows the first node at once). When the reader goes away (EPIPE), printing stops
    quietly, like other Unix tools, but the nodes' commands are still waited for, so that
    each node's audit row records its own result, not our broken pipe."""

    def __init__(self) -> None:
        self.gone = False

    def __call__(self, write, *args) -> None:
        if self.gone:
            return
        try:
            write(*args)
            sys.stdout.flush()
        except BrokenPipeError:
            self.gone = True
            # what is still buffered, and Python's last flush at exit, go nowhere
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)


async def cmd_run(args: argparse.Namespace) -> int:
    argv = _command_words(args)
    if argv is None:
        return EXIT_USAGE
    if not argv:
        print("envdeck: run needs a command after --, e.g. envdeck run staging -- uptime", file=sys.stderr)
        return EXIT_USAGE
    # One word is taken as a shell command line as typed; several words are quoted one by one.
    command = argv[0] if len(argv) == 1 else shlex.join(argv)
    cfg = load(args)
    session = await open_session(args, cfg, args.env)
    out = Printer()

    def live(result) -> None:
        if not args.json:
            first = (result.stdout or result.stderr or "").strip().splitlines()[:1]
            status = result.error or f"exit {result.exit_code}"
            out(write_line, f"{result.node:<20} {status:<12} {result.duration_s:6.2f}s  {first[0] if first else ''}")

    refused: list[bool] = []

    def confirm(nodes: list[str]) -> bool:
        """On a terminal, as `act` does: ask before running anywhere, unless --yes. Without
        a terminal (scripts, pipes, cron) the command runs: nobody could answer."""
        if getattr(args, "yes", False) or not sys.stdin.isatty():
            return True
        answer = ask(f"Run {command} on {len(nodes)} node(s) of {args.env}? [y/N] ")
        if answer.strip().lower() in ("y", "yes"):
            return True
        refused.append(True)
        return False

    try:
        results = await session.run_fleet(args.env, command, args.nodes, on_result=live, confirm=confirm)
    finally:
        await session.close()
    if refused:
        print("envdeck: not confirmed; nothing was run", file=sys.stderr)
        return EXIT_FAILED
    summary = fleet_summary(results)
    if args.json:
        out(print_json, {"results": [r.to_json() for r in results], "summary": summary})
    else:
        out(write_line, f"{summary['ok']} ok, {summary['failed']} failed, {summary['unreachable']} unreachable")
    return EXIT_OK if summary["ok"] == len(results) else EXIT_FAILED
