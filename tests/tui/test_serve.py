"""`envdeck serve`: loopback by default, a loud warning otherwise, the command
textual-serve runs is quoted, and a browser session really runs the TUI, reached as
the docs say: through an SSH tunnel (a real `ssh -L` to a real sshd) on another local
port, with the printed link."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import subprocess
import sys
from urllib.parse import urlsplit

import aiohttp

from tests.edge.lab import EdgeLab
from tests.edge.sshd import wait_port
from tests.serve_process import ServeProcess, free_port
from tui.cli.serve import bind_warning, is_loopback, tui_command


def test_loopback_detection_and_warning():
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert is_loopback(host) and bind_warning(host) is None
    for host in ("0.0.0.0", "10.1.2.3", "::", "jumphost.example"):
        warning = bind_warning(host)
        assert warning is not None and "acts as you" in warning and host in warning


def test_command_is_quoted(tmp_path):
    weird = tmp_path / "my config; rm -rf x.yaml"
    args = argparse.Namespace(config=str(weird), state_dir=str(tmp_path / "st ate"), read_only=True)
    argv = shlex.split(tui_command(args))
    assert argv[0] == sys.executable
    assert argv[argv.index("--config") + 1] == str(weird.resolve())
    assert argv[argv.index("--state-dir") + 1] == str((tmp_path / "st ate").resolve())
    assert argv[-2:] == ["--read-only", "tui"]


def tunnel(lab: EdgeLab, local_port: int, remote_port: int) -> subprocess.Popen:
    """`ssh -N -L local:127.0.0.1:remote` through a real sshd, strict host keys."""
    server = lab.start_sshd("jump")
    lab.trust(server)
    proc = subprocess.Popen(
        ["ssh", "-N", "-F", "/dev/null", "-i", str(lab.client_key), "-p", str(server.port),
         "-o", f"UserKnownHostsFile={lab.known_hosts}", "-o", "StrictHostKeyChecking=yes",
         "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes",
         "-L", f"{local_port}:127.0.0.1:{remote_port}", f"{lab.user}@127.0.0.1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_port("127.0.0.1", local_port, proc)
    return proc


async def browse(link: str) -> tuple[int, str, bytes]:
    """What a browser does with the link: follow it (cookie), load the page, open the
    page's WebSocket with the page's origin; returns (status, page, session output)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(link) as response:
            status, page = response.status, await response.text()
            origin = f"{response.url.scheme}://{response.url.host}:{response.url.port}"
        ws_url = page.split('data-session-websocket-url="', 1)[1].split('"', 1)[0]
        seen = b""
        async with http.ws_connect(ws_url + "?width=100&height=30", origin=origin) as ws:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 90
            while b"0 environments" not in seen and loop.time() < deadline:
                try:
                    message = await ws.receive(timeout=deadline - loop.time())
                except TimeoutError:
                    break
                if message.type == aiohttp.WSMsgType.BINARY:
                    seen += message.data
                elif message.type == aiohttp.WSMsgType.TEXT:
                    seen += message.data.encode()
                elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                      aiohttp.WSMsgType.ERROR):
                    break
    return status, page, seen


async def test_a_browser_session_through_an_ssh_tunnel_runs_the_tui(tmp_path, edge_lab):  # noqa: F811
    config = tmp_path / "envdeck.yaml"
    config.write_text("environments: {}\n")
    serve = ServeProcess(config, tmp_path / "state")
    local = free_port()
    ssh = tunnel(edge_lab, local, serve.port)
    try:
        # the printed link, with the tunnel's local port instead of the served one
        parts = urlsplit(serve.link)
        link = parts._replace(netloc=f"127.0.0.1:{local}").geturl()
        status, page, seen = await browse(link)
        assert status == 200 and "envdeck" in page
        assert f"ws://127.0.0.1:{local}/ws" in page, "the page's WebSocket goes through the tunnel too"
        assert b"0 environments" in seen, (seen[-500:], serve.stdout[-2000:])  # the overview, by the TUI process
    finally:
        ssh.terminate()
        ssh.wait(10)
        serve.stop()
    assert b"WARNING" not in serve.stderr
