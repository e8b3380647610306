"""The interactive commands: the TUI itself (`envdeck` with no command), `demo`, `serve`.

Textual is imported only here and below, so the scripting commands start fast
and the core stays Textual-free."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def add_ui_commands(add: Callable[..., argparse.ArgumentParser]) -> None:
    p = add("demo", run_demo, "start embedded AWS, Kubernetes and edge servers and open the TUI on them")
    p.add_argument("--scale", type=int, default=1, metavar="N", help="multiply pods, instances and nodes by N")
    p.add_argument("--headless", action="store_true", help=argparse.SUPPRESS)
    p = add("serve", run_serve, "serve the TUI in a browser (textual-serve); binds 127.0.0.1 by default")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p = add("tui", run_tui, "open the TUI (the default when no command is given)")
    p.add_argument("--env", metavar="NAME", help="open this environment directly")


def run_tui(args: argparse.Namespace) -> int:
    from tui.cli.app_main import main_tui

    return main_tui(args)


def run_demo(args: argparse.Namespace) -> int:
    from tui.cli.demo import main_demo

    return main_demo(args)


def run_serve(args: argparse.Namespace) -> int:
    from tui.cli.serve import main_serve

    return main_serve(args)
