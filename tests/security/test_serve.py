"""`envdeck serve` binds 127.0.0.1 by default and warns loudly when told to bind
anything else (the non-loopback case uses an address that is not on this machine,
TEST-NET 192.0.2.1, so nothing is ever exposed: the warning comes first, then a clear
one-line error).

A loopback port is open to every account on the machine: another user (`nobody`,
with the system's own Python and a hand-written WebSocket handshake) must get 403 and
no session process; the owner, with the printed link, gets the page and a session; a
page of another origin cannot open a session even with the owner's cookie; the key is
never written to envdeck's log."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time

import aiohttp
import pytest

from tests.conftest import envdeck_env, repo_root
from tests.security.conftest import envdeck
from tests.serve_process import ServeProcess, children

pytest.importorskip("textual_serve")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listeners(port: int) -> set[str]:
    """Local addresses listening on `port` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, state = fields[1], fields[3]
            host, hexport = address.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:
                found.add(host)
    return found


def config(tmp_path):
    path = tmp_path / "envdeck.yaml"
    path.write_text("environments:\n  dev: {}\n")
    path.chmod(0o600)
    return path


def test_serve_binds_loopback_by_default(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "serve", "--config", str(config(tmp_path)),
                             "--state-dir", str(tmp_path / "state"), "--port", str(port)],
                            cwd=repo_root(), env=envdeck_env(PYTHONPATH=str(repo_root())),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while not listeners(port):
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "serve never listened"
            time.sleep(0.1)
        assert listeners(port) == {"0100007F"}, "only 127.0.0.1 (no 0.0.0.0, no ::)"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate(timeout=30)
    assert "WARNING" not in err


def test_serve_warns_before_binding_elsewhere(tmp_path):
    proc = envdeck("serve", "--config", str(config(tmp_path)), "--state-dir", str(tmp_path / "state"),
                   "--host", "192.0.2.1", "--port", str(free_port()))
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("envdeck: WARNING: serving on 192.0.2.1, not loopback")
    assert "acts as you" in lines[0] and "SSH tunnel" in lines[0]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert lines[-1].startswith("envdeck: ") and "192.0.2.1" in lines[-1]


# -- another local user ----------------------------------------------------------

# What any account on the machine can do: plain HTTP and a WebSocket upgrade by hand
# (the system's Python, standard library only), with no key or a guessed one.
STRANGER = r"""
import base64, json, os, socket, sys
port = int(sys.argv[1])

def ask(request):
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(request.encode())
        data = b""
        while len(data) < 70000:
            if b"\r\n\r\n" in data and not data.startswith(b"HTTP/1.1 101"):
                s.settimeout(2)  # a refusal: take its short body, do not wait for a keep-alive close
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
    return {"status": data.split(b"\r\n", 1)[0].decode(errors="replace"), "bytes": len(data)}

key = base64.b64encode(os.urandom(16)).decode()
upgrade = ("GET /ws?width=80&height=24 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (port, key))
plain = "GET %s HTTP/1.1\r\nHost: 127.0.0.1:" + str(port) + "\r\nConnection: close\r\n%s\r\n"
print(json.dumps({
    "page": ask(plain % ("/", "")),
    "static": ask(plain % ("/static/js/textual.js", "")),
    "guessed_key": ask(plain % ("/?token=" + "A" * 43, "")),
    "guessed_cookie": ask(plain % ("/", "Cookie: envdeck_serve_%d=%s\r\n" % (port, "A" * 43))),
    "websocket": ask(upgrade),
}))
"""


def as_nobody(port: int) -> dict:
    run = subprocess.run(["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c", STRANGER, str(port)],
                         capture_output=True, text=True, timeout=120, cwd="/")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


async def owner_session(serve: ServeProcess) -> tuple[int, str, list[int], dict[str, int]]:
    """The owner opens the printed link (cookie, redirect), then the page's WebSocket:
    (page status, page text, session processes while it runs, status of a second WebSocket
    opened with the same cookie from pages of other origins)."""
    port = serve.port
    # unsafe=True: keep cookies of an IP address (127.0.0.1), as browsers do
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(serve.link) as response:
            status, text = response.status, await response.text()
            assert response.history and response.history[0].status == 303
            assert "token" not in str(response.url)  # the key leaves the address bar
        async with http.ws_connect(f"http://127.0.0.1:{port}/ws?width=80&height=24",
                                   origin=f"http://127.0.0.1:{port}") as ws:
            await ws.receive(timeout=60)  # the session's first output: its process runs
            sessions = children(serve.proc.pid)
            # another site, another local user's page on another port (the same "site" for
            # cookies), a sandboxed frame
            foreign = {}
            for origin in ("http://evil.example", f"http://127.0.0.1:{port + 1}", "null"):
                try:
                    async with http.ws_connect(f"http://127.0.0.1:{port}/ws", origin=origin):
                        foreign[origin] = 101
                except aiohttp.WSServerHandshakeError as exc:
                    foreign[origin] = exc.status
            assert children(serve.proc.pid) == sessions, "no session for another origin"
    return status, text, sessions, foreign


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None, reason="needs root to act as nobody")
def test_another_local_user_gets_nothing(tmp_path):
    pwd.getpwnam("nobody")
    serve = ServeProcess(config(tmp_path), tmp_path / "state")
    try:
        seen = as_nobody(serve.port)
        for name, answer in seen.items():
            assert answer["status"].startswith("HTTP/1.1 403"), (name, answer)
            assert answer["bytes"] < 1000, (name, answer)  # a refusal, not the TUI
        assert children(serve.proc.pid) == [], "no session process for a stranger"

        page, text, sessions, foreign = asyncio.run(owner_session(serve))
        assert page == 200 and "envdeck" in text and serve.token not in text
        assert len(sessions) == 1, "the owner gets a session"
        assert set(foreign.values()) == {403}, f"a page of another origin cannot open a session: {foreign}"
    finally:
        serve.stop()
    log = (tmp_path / "state" / "envdeck.log").read_text()
    assert "refused" in log and serve.token not in log
    assert serve.token not in serve.stderr.decode()
    assert serve.stdout.decode().count(serve.token) == 1, "printed once"
