"""`envdeck serve [--host 127.0.0.1] [--port 8000]`: the same TUI in a browser,
through textual-serve. Each browser tab runs its own `envdeck tui` process.

textual-serve has no authentication: whoever reaches the port drives envdeck with
*your* identity and roles. So it binds loopback unless told otherwise, and warns
loudly when it is not (use an SSH tunnel: `ssh -L 8000:127.0.0.1:8000 jumphost`)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import shlex
import sys
from pathlib import Path

from tui.paths import config_path, state_dir


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind_warning(host: str) -> str | None:
    if is_loopback(host):
        return None
    return (f"envdeck: WARNING: serving on {host}, not loopback. textual-serve has no authentication: anyone who "
            "can reach this port acts as you, with your roles. Prefer the default 127.0.0.1 and an SSH tunnel.")


def tui_command(args: argparse.Namespace) -> str:
    """The shell command textual-serve runs per browser session (every part quoted)."""
    argv = [sys.executable, "-m", "tui.cli", "--config", str(config_path(getattr(args, "config", None)).resolve()),
            "--state-dir", str(state_dir(getattr(args, "state_dir", None)).resolve())]
    if getattr(args, "read_only", False):
        argv.append("--read-only")
    argv.append("tui")
    return shlex.join(argv)


def main_serve(args: argparse.Namespace) -> int:
    from textual_serve.server import Server

    from tui.cli.commands import load

    load(args)  # fail here, with file:line:col, rather than in every browser tab
    host = args.host
    warning = bind_warning(host)
    if warning:
        print(warning, file=sys.stderr)
    root = str(Path(__file__).resolve().parent.parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    server = Server(tui_command(args), host=host, port=int(args.port), title="envdeck")
    server.serve()
    return 0
