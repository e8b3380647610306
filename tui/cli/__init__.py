"""The `envdeck` command line.

Exit codes: 0 ok, 1 an operation or backend failed, 2 usage or config error,
3 denied by policy, 130 interrupted (Ctrl-C). Errors are one clear line on stderr, never a
traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from tui import __version__
from tui.core.errors import (
    BackendError,
    ConfigError,
    EnvdeckError,
    InvalidRequest,
    NotFound,
    PolicyDenied,
    StateError,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DENIED = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # Ctrl-C: the work stopped (tui/cli/interrupt.py), one line on stderr


def _common(top: bool) -> argparse.ArgumentParser:
    """Options every subcommand accepts, before or after its name. On subcommands
    the defaults are suppressed so that `envdeck --config X status` keeps X."""
    default = None if top else argparse.SUPPRESS
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=default,
                        help="config file (default: $ENVDECK_CONFIG, else $XDG_CONFIG_HOME/envdeck/envdeck.yaml)")
    common.add_argument("--state-dir", metavar="DIR", default=default,
                        help="state directory (default: $ENVDECK_STATE_DIR, else $XDG_STATE_HOME/envdeck)")
    common.add_argument("--read-only", action="store_true", default=False if top else argparse.SUPPRESS,
                        help="deny every mutating action")
    return common


AUDIT_LIMIT_MAX = 100_000  # rows of `envdeck audit`: on SQLite a negative LIMIT is no limit at all


def _audit_limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= AUDIT_LIMIT_MAX:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of rows from 1 to {AUDIT_LIMIT_MAX:,}")
    return value


def _audit_name(flag: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        from tui.core.audit_filter import name_value

        try:
            return name_value(flag, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    parse.__name__ = flag.lstrip("-")  # argparse names the type in "invalid ... value" when the error is not its own
    return parse


def _audit_since(text: str) -> str:
    from tui.core.audit_filter import since_value

    try:
        return since_value(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _lazy(target: str) -> Callable:
    """A handler imported only when its subcommand runs: `envdeck --help` and
    `--version` stay fast, and each command pays only for what it uses."""
    module_name, _, name = target.partition(":")

    def load() -> Callable:
        from importlib import import_module

        return getattr(import_module(module_name), name)

    def handler(args: argparse.Namespace):
        return load()(args)

    handler.__qualname__ = name
    handler.load = load  # type: ignore[attr-defined]  # main imports first, then calls (tui/cli/sigint.py)
    return handler


def build_parser() -> argparse.ArgumentParser:
    from tui.cli import tui_cmd

    common = _common(top=False)
    parser = argparse.ArgumentParser(
        prog="envdeck", parents=[_common(top=True)],
        description="Environment operations in the terminal: AWS, Kubernetes and SSH edge nodes, "
                    "with drift, repair, audit and access control. Without a command, opens the TUI.")
    parser.add_argument("--version", action="version", version=f"envdeck {__version__}")
    parser.set_defaults(handler=tui_cmd.run_tui, env=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, handler: Callable, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    add("check", _lazy("tui.cli.commands:cmd_check"), "validate the config and print one line per environment")

    p = add("status", _lazy("tui.cli.commands:cmd_status"), "observe every backend once and print health, drift and faults")
    p.add_argument("--env", metavar="NAME", help="only this environment")
    p.add_argument("--summary", action="store_true",
                   help="a line per environment and per backend (state, resources, faults, drift) in 80 columns")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("reconcile", _lazy("tui.cli.commands:cmd_reconcile"), "observe, diff against the desired state, repair per policy")
    p.add_argument("--env", metavar="NAME", help="only this environment")
    p.add_argument("--once", action="store_true", help="one pass, then exit (default: run until interrupted)")
    p.add_argument("--repair", action="store_true",
                   help="repair drifts in 'propose' environments too (still under the access policy)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("agent", _lazy("tui.cli.agent:cmd_agent"),
            "the reconciler as a headless daemon: JSON logs on stdout, /healthz and /metrics (docs/deploy/)")
    p.add_argument("--env", metavar="GLOB", action="append",
                   help="only the environments matching GLOB (repeatable; e.g. 'prod-*'); default: all you can see")
    p.add_argument("--listen", metavar="HOST:PORT", default="127.0.0.1:9464",
                   help="address of /healthz and /metrics (default 127.0.0.1:9464; port 0: a free one)")
    p.add_argument("--listen-any", action="store_true",
                   help="allow a --listen address that is not loopback (e.g. 0.0.0.0 in a pod)")
    p.add_argument("--log-format", choices=("json", "text"), default="json",
                   help="stdout log: one JSON object per line (default) or text")

    p = add("act", _lazy("tui.cli.commands:cmd_act"), "run an action on a resource (restart, scale, stop, ...)")
    p.add_argument("env", metavar="ENV")
    p.add_argument("resource", metavar="RESOURCE_ID", help="e.g. kubernetes/Deployment/web")
    p.add_argument("action", metavar="ACTION")
    p.add_argument("--param", action="append", default=[], metavar="K=V", help="action parameter (repeatable)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--set-desired", action="store_true",
                   help="in an auto environment, keep the action's value as the desired state (an audited "
                        "overlay; drop it with `envdeck desired ENV --clear RESOURCE_ID`)")
    p.add_argument("--hold-repair", metavar="DURATION",
                   help="in an auto environment, hold the resource's automatic repair for DURATION (e.g. 30m)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("desired", _lazy("tui.cli.desired:cmd_desired"),
            "list an environment's desired-state overlays and repair holds, or drop an overlay")
    p.add_argument("env", metavar="ENV")
    p.add_argument("--clear", metavar="RESOURCE_ID", help="drop this resource's overlays (the config applies again)")
    p.add_argument("--field", metavar="FIELD", help="with --clear: only this field")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("pause", _lazy("tui.cli.pause_cmd:cmd_pause"),
            "pause an environment's automatic repairs for every envdeck on the store (observing goes on)")
    p.add_argument("env", metavar="ENV")
    p.add_argument("--reason", metavar="TEXT", help="why (shown by status and kept in the audit trail)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("resume", _lazy("tui.cli.pause_cmd:cmd_pause"), "resume an environment's automatic repairs")
    p.add_argument("env", metavar="ENV")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("audit", _lazy("tui.cli.commands:cmd_audit"), "show the audit trail")
    p.add_argument("--env", metavar="NAME", help="only this environment")
    p.add_argument("--limit", type=_audit_limit, default=50, metavar="N",
                   help=f"newest N entries (default 50, at most {AUDIT_LIMIT_MAX:,})")
    p.add_argument("--reverse", action="store_true",
                   help="newest first (default: oldest first, the newest at the bottom; --json: newest first)")
    # as Teleport's audit search: combinable, applied in the store's query (tui/core/audit_filter.py)
    p.add_argument("--user", type=_audit_name("--user"), metavar="NAME", help="only this user's rows")
    p.add_argument("--action", type=_audit_name("--action"), metavar="NAME",
                   help="only rows of this action (e.g. delete, run, restart, env.create)")
    p.add_argument("--target", type=_audit_name("--target"), metavar="TEXT",
                   help="only rows whose target contains TEXT (any case), e.g. Pod/web or gw-07")
    p.add_argument("--since", type=_audit_since, metavar="WHEN",
                   help="only rows written since WHEN: a duration before now (2h, 30m, 1d) or an ISO time "
                   "(2026-12-07T18:00, UTC unless it has an offset)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = add("logs", _lazy("tui.cli.commands:cmd_logs"), "print a resource's logs")
    p.add_argument("env", metavar="ENV")
    p.add_argument("resource", metavar="RESOURCE_ID")
    p.add_argument("--follow", "-f", action="store_true", help="keep streaming new lines")
    p.add_argument("--tail", type=int, default=100, metavar="N", help="last N lines (default 100)")
    p.add_argument("--container", "-c", metavar="NAME", help="container (Kubernetes) or log file (edge)")
    p.add_argument("--previous", "-p", action="store_true", help="previous container instance (Kubernetes)")

    p = add("xray", _lazy("tui.cli.xray_cmd:cmd_xray"),
            "what a resource depends on and what depends on it, with health rolled up (observes once)")
    p.add_argument("env", metavar="ENV")
    p.add_argument("resource", metavar="RESOURCE_ID",
                   help="e.g. kubernetes/Ingress/web; a Name, native id or KIND/NAME works too "
                   "(staging-web, web-1, Ingress/web; several so named are listed)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    from tui.cli.diff_args import add_diff_parser

    add_diff_parser(add, _lazy("tui.cli.diff_cmd:cmd_diff"))

    from tui.cli.promote_args import add_promote_parsers

    add_promote_parsers(add, _lazy("tui.cli.promote_cmd:cmd_versions"), _lazy("tui.cli.promote_cmd:cmd_promote"))

    p = add("run", _lazy("tui.cli.fleet:cmd_run"), "run a shell command on the environment's edge nodes")
    p.add_argument("env", metavar="ENV")
    p.add_argument("--nodes", metavar="GLOB", action="append",
                   help="only nodes whose name matches (e.g. 'gw-*'); repeat it for several globs (a node matching any)")
    p.add_argument("--yes", action="store_true",
                   help="do not ask for confirmation (asked only when stdin is a terminal)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND...")

    p = add("doctor", _lazy("tui.cli.commands:cmd_doctor"), "check config, credentials, reachability, known_hosts, state")
    p.add_argument("--env", metavar="NAME", help="only this environment")

    from tui.cli.env_args import add_env_parser

    add_env_parser(add, common, _lazy("tui.cli.env_cmd:cmd_env"))

    tui_cmd.add_ui_commands(add)
    return parser


def _say(text: str) -> None:
    """An error line on stderr. Messages can quote outside text (a server's error, a name,
    a file name): sanitised like everything else, on a terminal or piped (stderr is for people)."""
    from tui.core.sanitize import clean

    print(clean(text), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    from tui.cli import sigint

    owned = sigint.install()  # the first Ctrl-C ends the command 130, every later one is ignored
    try:
        return _main(argv)
    finally:
        if owned:
            sigint.uninstall()


def _main(argv: list[str] | None) -> int:
    from tui.cli import sigint

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        handler = getattr(args.handler, "load", lambda: args.handler)()  # imports: never interrupted midway
        if sigint.interrupted():  # a Ctrl-C while the verb was imported: it never started
            _say("envdeck: interrupted (Ctrl-C) before the command started: nothing was done")
            return EXIT_INTERRUPTED
        with sigint.raising():  # a synchronous verb (or a Ctrl-C during the imports): KeyboardInterrupt
            result = handler(args)
        if hasattr(result, "__await__"):  # an async handler: asyncio is imported by its module, not here
            import asyncio  # (`--version` and `--help` never need it: a third of their imports)

            from tui.cli.interrupt import until_interrupted

            try:
                result = asyncio.run(until_interrupted(result))  # the first Ctrl-C stops it: 130
            finally:
                sigint.reinstate()  # the loop's close may have put Python's handler back
        return int(result or 0)
    except KeyboardInterrupt:  # a synchronous verb, or a prompt (tui/cli/output.py ask)
        _say("envdeck: interrupted (Ctrl-C)")
        return EXIT_INTERRUPTED
    except ConfigError as exc:
        for problem in exc.problems:
            _say(problem)
        return EXIT_USAGE
    except PolicyDenied as exc:
        _say(f"envdeck: denied: {exc}")
        return EXIT_DENIED
    except (InvalidRequest, NotFound) as exc:
        _say(f"envdeck: {exc}")
        return EXIT_USAGE if isinstance(exc, InvalidRequest) and not exc.backend else EXIT_FAILED
    except (BackendError, StateError, EnvdeckError) as exc:
        _say(f"envdeck: {exc}")
        return EXIT_FAILED
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:  # e.g. `serve` cannot bind its address: one line, not a traceback
        _say(f"envdeck: {exc}")
        return EXIT_FAILED


def run() -> None:
    """The `envdeck` command (console script and `python -m tui.cli`)."""
    from tui.cli import sigint

    sigint.install()  # for the whole process: a Ctrl-C after `main` has returned is ignored too
    code = main()
    sigint.ignore()  # the process ends now: a Ctrl-C cannot change its exit status any more
    if code == EXIT_INTERRUPTED:
        _end_interrupted(code)
    from tui.core.heap import skip_final_collection

    skip_final_collection()  # the process ends now: no last full GC over a big inventory
    sys.exit(code)


INTERRUPTED_EXIT_GRACE_S = 3.0  # how long an interrupted command waits for threads it left running


def _end_interrupted(code: int) -> None:
    """A command stopped by Ctrl-C has said so and cleaned up what it could: a thread it left
    running (a store that was never closed, a thread pool's blocking call) must not keep the
    process alive. Python's exit joins every non-daemon thread, for as long as they take:
    after a short grace the process ends here, its output flushed."""
    import os
    import threading
    import time

    deadline = time.monotonic() + INTERRUPTED_EXIT_GRACE_S
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join(max(deadline - time.monotonic(), 0.0))
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.current_thread()):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
