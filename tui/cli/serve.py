"""`envdeck serve [--host 127.0.0.1] [--port 8000]`: the same TUI in a browser,
through textual-serve. Each browser tab runs its own `envdeck tui` process.

Whoever drives a session acts with *your* identity, credentials and roles, and a
loopback port is open to every account on the machine. So every request must carry
the per-run key that `serve` prints once, in a link, on your terminal (see
`tui.cli.serve_auth`); without it: 403 and no session. It binds loopback unless told
otherwise, and warns loudly when it is not (use an SSH tunnel:
`ssh -L 8000:127.0.0.1:8000 jumphost`, then open the printed link)."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Any

from tui.cli.serve_auth import TOKEN_PARAM, new_token, token_gate
from tui.core.paths import config_path, state_dir


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
    return (f"envdeck: WARNING: serving on {host}, not loopback, over plain HTTP: anyone who can see the traffic "
            "(or the printed link) acts as you, with your roles. Prefer the default 127.0.0.1 and an SSH tunnel.")


def tui_command(args: argparse.Namespace) -> str:
    """The shell command textual-serve runs per browser session (every part quoted)."""
    argv = [sys.executable, "-m", "tui.cli", "--config", str(config_path(getattr(args, "config", None)).resolve()),
            "--state-dir", str(state_dir(getattr(args, "state_dir", None)).resolve())]
    if getattr(args, "read_only", False):
        argv.append("--read-only")
    argv.append("tui")
    return shlex.join(argv)


def served_link(host: str, port: int, token: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?{TOKEN_PARAM}={token}"


def make_server(command: str, host: str, port: int, token: str) -> Any:
    """A textual-serve Server behind the key of `tui.cli.serve_auth`."""
    import aiohttp_jinja2
    from aiohttp import web
    from textual_serve.server import Server, to_int

    class KeyedServer(Server):
        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.append(token_gate(token, port))
            return app

        async def on_startup(self, app: web.Application) -> None:
            pass  # textual-serve's banner: replaced by `announce`, once the port listens

        def announce(self, *args: object) -> None:
            # the only place the key is written: the terminal of the user who started serve
            print(f"envdeck: serving the TUI on http://{host}:{port}; open this link (it is the key, keep it "
                  f"to yourself; through an SSH tunnel too):\n  {served_link(host, port, token)}\n"
                  "Press Ctrl+C to stop.", flush=True)

        @aiohttp_jinja2.template("app_index.html")
        async def handle_index(self, request: web.Request) -> dict[str, Any]:
            # URLs relative to the address the browser used, so a tunnel on another local
            # port (ssh -L 9000:127.0.0.1:8000) works and the cookie goes along
            base = f"{request.scheme}://{request.host}"
            ws = ("wss" if request.scheme == "https" else "ws") + f"://{request.host}"
            return {"font_size": to_int(request.query.get("fontsize", "16"), 16),
                    "app_websocket_url": ws + str(request.app.router["websocket"].url_for()),
                    "config": {"static": {"url": base + "/static/"}},
                    "application": {"name": self.title}}

        def serve(self, debug: bool = False) -> None:
            # textual-serve's serve(), without the access log: it would write the link's key
            self.debug = debug
            self.initialize_logging()
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            loop.add_signal_handler(signal.SIGINT, self.request_exit)
            loop.add_signal_handler(signal.SIGTERM, self.request_exit)
            web.run_app(self._make_app(), host=self.host, port=self.port, handle_signals=False, loop=loop,
                        print=self.announce, access_log=None)

    return KeyedServer(command, host=host, port=port, title="envdeck")


def main_serve(args: argparse.Namespace) -> int:
    from tui.cli.commands import load
    from tui.core.logsetup import setup_logging

    load(args)  # fail here, with file:line:col, rather than in every browser tab
    setup_logging(state_dir(getattr(args, "state_dir", None)))  # refused requests are logged (never the key)
    host = args.host
    warning = bind_warning(host)
    if warning:
        print(warning, file=sys.stderr)
    root = str(Path(__file__).resolve().parents[2])  # the directory that holds tui/ and backends/
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    make_server(tui_command(args), host, int(args.port), new_token()).serve()
    return 0
