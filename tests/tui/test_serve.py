"""`envdeck serve`: loopback by default, a loud warning otherwise, the command
textual-serve runs is quoted, and a browser session really runs the TUI."""

from __future__ import annotations

import argparse
import asyncio
import shlex
import socket
import subprocess
import sys

import aiohttp

from tests.conftest import envdeck_env, repo_root
from tui.serve import bind_warning, is_loopback, tui_command


def test_loopback_detection_and_warning():
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert is_loopback(host) and bind_warning(host) is None
    for host in ("0.0.0.0", "10.1.2.3", "::", "jumphost.example"):
        warning = bind_warning(host)
        assert warning is not None and "no authentication" in warning and host in warning


def test_command_is_quoted(tmp_path):
    weird = tmp_path / "my config; rm -rf x.yaml"
    args = argparse.Namespace(config=str(weird), state_dir=str(tmp_path / "st ate"), read_only=True)
    argv = shlex.split(tui_command(args))
    assert argv[0] == sys.executable
    assert argv[argv.index("--config") + 1] == str(weird.resolve())
    assert argv[argv.index("--state-dir") + 1] == str((tmp_path / "st ate").resolve())
    assert argv[-2:] == ["--read-only", "tui"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_a_browser_session_runs_the_tui(tmp_path):
    config = tmp_path / "envdeck.yaml"
    config.write_text("environments: {}\n")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "--config", str(config), "--state-dir", str(tmp_path / "state"),
         "serve", "--port", str(port)],
        cwd=str(repo_root()), env=envdeck_env(PYTHONPATH=str(repo_root())),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        page = None
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(base + "/") as response:
                        page = (response.status, await response.text())
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            assert page is not None and page[0] == 200 and "envdeck" in page[1]
            seen = b""
            async with http.ws_connect(base + "/ws?width=100&height=30") as ws:
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
            assert b"0 environments" in seen, seen[-500:]  # the overview, rendered by the TUI process
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert b"WARNING" not in (proc.stderr.read() if proc.stderr else b"")
