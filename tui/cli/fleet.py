"""`envdeck run ENV [--nodes GLOB] [--json] -- COMMAND...`: one command on many nodes.

Start-up (issue 19): once the config file is read and its YAML composed, and only when the
user's role allows the run, nobody is to be asked to confirm it and the state directory passes
the session's own checks (a run refused for it must not have logged in anywhere), the nodes'
SSH connections start at once, on the edge backend's loop thread (tui/cli/fleet_early.py,
backends/edge/early.py), while the config models are built, the whole config validated and
the session, the store and the audit rows set up. Nothing is sent on them before the session
has authorized the run and begun its audit rows (Session.run_fleet, which joins the connects
in progress). Each node gets one attempt: a node that refused the early connection is the
run's unreachable node, with that attempt's error, not tried a second time."""

from __future__ import annotations

import argparse
import gc
import os
import shlex
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE  # not tui.cli.commands: `run` needs none of its verbs

if TYPE_CHECKING:
    from backends.base import Backend
    from backends.edge.early import EarlyLinks
    from tui.core.config import EnvdeckConfig, EnvironmentConfig
    from tui.core.session import Session


def _late_options() -> argparse.ArgumentParser:
    """The options `run` accepts between ENV and `--` (argparse's REMAINDER would otherwise
    take them as part of the command: a `--read-only` or `--nodes` silently ignored)."""
    late = argparse.ArgumentParser(prog="envdeck run ENV", add_help=False)
    late.add_argument("--nodes", metavar="GLOB", action="append")
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
                if key == "nodes" and value:  # --nodes before and after ENV: every glob counts
                    args.nodes = [*(getattr(args, "nodes", None) or []), *value]
                elif value not in (None, False):
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


@dataclass
class EarlyConnect:
    """The nodes' connections started from the YAML (tui/cli/fleet_early.py). The session's
    edge backend adopts them through `factory` when the validated config gives it the same
    nodes at the same addresses with the same settings; otherwise it connects anew and
    `discard` closes these unused."""

    env: str
    early: EarlyLinks

    def factory(self, env: str, env_cfg: EnvironmentConfig, cfg: EnvdeckConfig) -> dict[str, Backend]:
        from backends.edge import EdgeBackend
        from backends.registry import create_backends

        backends = create_backends(env, env_cfg, cfg)
        edge = backends.get("edge")
        if env == self.env and not self.early.adopted and isinstance(edge, EdgeBackend):
            edge.adopt(self.early)
        return backends

    async def discard(self) -> None:
        """After the run: a connect still going is cancelled; links the session did not
        adopt (it closes its own) are closed here."""
        await self.early.close()


async def _start_up(args: argparse.Namespace) -> tuple[EarlyConnect | None, Session]:
    """Config, early connections, session. The file is read and its YAML composed first; the
    connections start from that plain data when the run is sure to go ahead (fleet_early.py),
    and the config models, the whole config's validation (a bad config: its PATH:LINE:COL
    lines, the early connections closed, nothing sent), the session and the store are loaded
    while the nodes' sshd fork and exchange keys. Called with the cyclic collector off: what
    it loads (the config models, asyncssh, the session: ~500 modules) lives as long as the
    process, and the ~150 collections its allocations would trigger walk it all for nothing
    (~50 ms of CPU per `run`)."""
    from tui.cli.fleet_early import connect_early
    from tui.core.config_read import compose_config, read_config_text
    from tui.core.paths import config_path

    path = config_path(args.config)
    text, source = read_config_text(path)
    data, marks = compose_config(text, source)
    links = await connect_early(args, data)
    early = EarlyConnect(args.env, links) if links is not None else None
    try:
        from tui.cli.opening import open_session, warn_about
        from tui.core.config import validate_config

        cfg = validate_config(data, marks, source)
        warn_about(path)
        session = await open_session(args, cfg, args.env, backends_factory=early.factory if early else None)
    except BaseException:
        if early is not None:
            await early.discard()
        raise
    return early, session


async def cmd_run(args: argparse.Namespace) -> int:
    argv = _command_words(args)
    if argv is None:
        return EXIT_USAGE
    if not argv:
        print("envdeck: run needs a command after --, e.g. envdeck run staging -- uptime", file=sys.stderr)
        return EXIT_USAGE
    # One word is taken as a shell command line as typed; several words are quoted one by one.
    command = argv[0] if len(argv) == 1 else shlex.join(argv)
    collecting = gc.isenabled()
    gc.disable()  # while start-up loads: see _start_up
    try:
        early, session = await _start_up(args)
    except BaseException:
        if collecting:
            gc.enable()
        raise
    if collecting:
        # What start-up made (~500 modules, the config, the session) is all in the youngest
        # generation now: the first collection after enable() would walk it all, ~15-25 ms
        # on the main thread just before the audit rows and the commands. Frozen, it is never
        # scanned; it goes back to the collector (as old objects) when the run is over.
        gc.freeze()
        gc.enable()
    from tui.cli.output import ask, print_json, write_line
    from tui.core.sanitize import clean

    out = Printer()
    shown: set[str] = set()      # the nodes whose line is printed
    running: list[str] = []      # the nodes the command goes to (once confirmed)

    from tui.cli.table_fit import fold_words, terminal_width

    width = terminal_width()  # None when piped: the lines as always

    def node_line(node: str, status: str, took: str, first: str) -> None:
        """`NODE STATUS TIME  OUTPUT`. On a terminal the node column is as wide as the longest
        node name (at most 20), and an output line that would not fit after it goes whole on
        the line below, so that envdeck's columns never make the terminal break a remote line
        (a load average cut as `0` / `.31`); a longer one is left to the terminal to wrap."""
        if width is None:
            out(write_line, f"{node:<20} {status:<12} {took}  {first}")
            return
        column = min(20, max((len(n) for n in running), default=len(node)))
        head = f"{node:<{column}} {status:<12} {took}"
        if len(clean(head)) + 2 + len(clean(first)) <= width:
            out(write_line, f"{head}  {first}".rstrip())
            return
        # the node's own line may be long too (an unreachable node's error): folded at spaces
        for line in fold_words(clean(head), width, indent="  "):
            out(write_line, line)
        if first:
            out(write_line, f"  {first}")

    def live(result) -> None:
        shown.add(result.node)
        if not args.json:
            first = (result.stdout or result.stderr or "").strip().splitlines()[:1]
            status = result.error or f"exit {result.exit_code}"
            node_line(result.node, status, f"{result.duration_s:6.2f}s", first[0] if first else "")

    refused: list[bool] = []

    def confirm(nodes: list[str]) -> bool:
        """On a terminal, as `act` does: ask before running anywhere, unless --yes. Without
        a terminal (scripts, pipes, cron) the command runs: nobody could answer."""
        if getattr(args, "yes", False) or not sys.stdin.isatty():
            running.extend(nodes)
            return True
        answer = ask(f"Run {command} on {len(nodes)} node(s) of {args.env}? [y/N] ")
        if answer.strip().lower() in ("y", "yes"):
            running.extend(nodes)
            return True
        refused.append(True)
        return False

    try:
        results = await session.run_fleet(args.env, command, args.nodes, on_result=live, confirm=confirm)
    except BaseException as exc:
        if not isinstance(exc, Exception) and not args.json:   # Ctrl-C (cancelled): each node with no result yet gets its line, as its audit row
            for node in running:
                if node not in shown:
                    node_line(node, "interrupted", f"{'-':>7}", session.fleet_stop_reason(args.env, node))
        raise
    finally:
        if collecting:
            gc.unfreeze()
        await session.close()
        if early is not None:
            await early.discard()
    if refused:
        print("envdeck: not confirmed; nothing was run", file=sys.stderr)
        return EXIT_FAILED
    from backends.edge.fleet import fleet_summary

    summary = fleet_summary(results)
    if args.json:
        out(print_json, {"results": [r.to_json() for r in results], "summary": summary})
    else:
        out(write_line, f"{summary['ok']} ok, {summary['failed']} failed, {summary['unreachable']} unreachable")
    return EXIT_OK if summary["ok"] == len(results) else EXIT_FAILED
