"""`envdeck serve [--host 127.0.0.1] [--port 8000]`: the same TUI in a browser,
through textual-serve. Each browser tab runs its own `envdeck tui` process.

Whoever drives a session acts with *your* identity, credentials and roles, and a
loopback port is open to every account on the machine. So the page needs the per-run
key that `serve` gives you once, in a link (printed on your terminal; when stdout is not
a terminal, written to a 0600 file in the state directory, whose path is printed
instead), and the session's WebSocket a one-time ticket of that page (see
`tui.cli.serve_auth`); without them: 403 and no session. It binds loopback unless told
otherwise, and warns loudly when it is not (use an SSH tunnel:
`ssh -L 8000:127.0.0.1:8000 jumphost`, then open the printed link)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Any

from tui.cli.loopback import is_loopback
from tui.cli.serve_auth import SESSION_ROUTE, TOKEN_PARAM, RefusalLog, Tickets, new_token, token_gate
from tui.core.paths import config_path, state_dir


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


def write_link_file(state: Path, port: int, link: str) -> Path:
    """The link, in a new file only its owner can read (never a planted file or symlink)."""
    path = state / f"serve-{port}-{os.getpid()}.link"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(fd, 0o600)
        out.write(link + "\n")
    return path


def link_message(host: str, port: int, link: str, link_file: Path | None) -> str:
    where = f"http://{host}:{port}"
    if link_file is None:
        return (f"envdeck: serving the TUI on {where}; open this link (it is the key, keep it to yourself; "
                f"through an SSH tunnel too):\n  {link}\nPress Ctrl+C to stop.")
    return (f"envdeck: serving the TUI on {where}; stdout is not a terminal, so the link to open (it is the key) "
            f"is in {link_file} (readable only by you; removed when serve stops).\nPress Ctrl+C to stop.")


def make_server(command: str, host: str, port: int, token: str, link_file: Path | None = None) -> Any:
    """A textual-serve Server behind the key and tickets of `tui.cli.serve_auth`."""
    import aiohttp_jinja2
    from aiohttp import web
    from textual_serve.server import Server, to_int

    tickets = Tickets()
    refusals = RefusalLog()

    class KeyedServer(Server):
        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            # the session's WebSocket, behind a one-time ticket of the page (the bare /ws: 403)
            app.router.add_get("/ws/{ticket}", self.handle_websocket, name=SESSION_ROUTE)
            app.middlewares.append(token_gate(token, tickets, refusals))
            return app

        async def on_shutdown(self, app: web.Application) -> None:
            refusals.flush()

        async def on_startup(self, app: web.Application) -> None:
            pass  # textual-serve's banner: replaced by `announce`, once the port listens

        def announce(self, *args: object) -> None:
            # the only places the key is written: the owner's terminal, or the owner's 0600 link file
            print(link_message(host, port, served_link(host, port, token), link_file), flush=True)

        @aiohttp_jinja2.template("app_index.html")
        async def handle_index(self, request: web.Request) -> dict[str, Any]:
            # URLs relative to the address the browser used, so a tunnel on another local
            # port (ssh -L 9000:127.0.0.1:8000) works; the WebSocket carries this page's ticket
            base = f"{request.scheme}://{request.host}"
            ws = ("wss" if request.scheme == "https" else "ws") + f"://{request.host}"
            session = request.app.router[SESSION_ROUTE].url_for(ticket=tickets.mint())
            return {"font_size": to_int(request.query.get("fontsize", "16"), 16),
                    "app_websocket_url": ws + str(session),
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
    from tui.cli.opening import load
    from tui.core.logsetup import setup_logging

    load(args)  # fail here, with file:line:col, rather than in every browser tab
    state = state_dir(getattr(args, "state_dir", None))
    setup_logging(state)  # refused requests are logged (never the key); the state directory is checked
    host, port = args.host, int(args.port)
    warning = bind_warning(host)
    if warning:
        print(warning, file=sys.stderr)
    root = str(Path(__file__).resolve().parents[2])  # the directory that holds tui/ and backends/
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    token = new_token()
    link_file = None
    if not sys.stdout.isatty():  # a file or pipe others may read: the link goes to a 0600 file instead
        try:
            link_file = write_link_file(state, port, served_link(host, port, token))
        except OSError as exc:
            print(f"envdeck: cannot write the serve link file in {state}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    try:
        make_server(tui_command(args), host, port, token, link_file).serve()
    finally:
        if link_file is not None:
            link_file.unlink(missing_ok=True)
    return 0
