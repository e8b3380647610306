"""`envdeck serve` binds 127.0.0.1 by default and warns loudly when told to bind
anything else (the non-loopback case uses an address that is not on this machine,
TEST-NET 192.0.2.1, so nothing is ever exposed: the warning comes first, then a clear
one-line error).

A loopback port is open to every account on the machine: another user (`nobody`,
with the system's own Python and a hand-written WebSocket handshake) must get 403 and
no session process; the owner, with the link, gets the page and a session through the
page's one-time ticket; a page of another origin cannot open a session even with a
ticket; the owner's browser hands nothing secret to another local port (no cookie: it
would go to every port of 127.0.0.1), so replaying what that port saw gets nothing;
refusals are logged in aggregate; the key is never written to envdeck's log, nor to a
stdout that is not a terminal (a 0600 file instead)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import aiohttp
import pytest

from tests.helpers import envdeck, envdeck_env, repo_root
from tests.serve_process import ServeProcess, children
from tui.cli.serve import write_link_file
from tui.cli.serve_auth import RefusalLog, Tickets

textual_serve = pytest.importorskip("textual_serve")


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
import base64, hashlib, json, os, socket, sys
port = int(sys.argv[1])

def ask(request):
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(request.encode())
        data = b""
        while len(data) < 2_000_000:
            if b"\r\n\r\n" in data and not data.startswith(b"HTTP/1.1 101"):
                s.settimeout(2)  # a refusal: take its short body, do not wait for a keep-alive close
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
    return {"status": data.split(b"\r\n", 1)[0].decode(errors="replace"), "bytes": len(data),
            "body_sha256": hashlib.sha256(data.split(b"\r\n\r\n", 1)[-1]).hexdigest()}

key = base64.b64encode(os.urandom(16)).decode()
upgrade = ("GET /ws?width=80&height=24 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (port, key))
plain = "GET %s HTTP/1.1\r\nHost: 127.0.0.1:" + str(port) + "\r\nConnection: close\r\n%s\r\n"
print(json.dumps({
    "page": ask(plain % ("/", "")),
    "static": ask(plain % ("/static/js/textual.js", "")),
    "guessed_key": ask(plain % ("/?token=" + "A" * 43, "")),
    "guessed_cookie": ask(plain % ("/", "Cookie: envdeck_serve_%d=%s\r\n" % (port, "A" * 43))),
    "download": ask(plain % ("/download/" + "a" * 32, "")),
    "websocket": ask(upgrade),
    "guessed_ticket": ask(upgrade.replace("/ws?", "/ws/" + "A" * 32 + "?")),
}))
"""


def as_nobody(port: int) -> dict:
    run = subprocess.run(["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c", STRANGER, str(port)],
                         capture_output=True, text=True, timeout=120, cwd="/")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def page_websocket(page: str) -> str:
    return page.split('data-session-websocket-url="', 1)[1].split('"', 1)[0]


async def ws_status(http: aiohttp.ClientSession, url: str, origin: str) -> int:
    try:
        async with http.ws_connect(url, origin=origin):
            return 101
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status


async def owner_session(serve: ServeProcess) -> tuple[int, str, list[int], dict[str, int]]:
    """The owner opens the link, then the page's WebSocket (its one-time ticket):
    (page status, page text, session processes while it runs, status of further WebSockets:
    the same ticket again, and fresh tickets from pages of other origins)."""
    port = serve.port
    own = f"http://127.0.0.1:{port}"
    # unsafe=True: keep cookies of an IP address (127.0.0.1), as browsers do
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(serve.link) as response:
            status, text = response.status, await response.text()
            assert response.headers["Referrer-Policy"] == "no-referrer"  # the address holds the key
            assert response.headers["Cache-Control"] == "no-store"
        assert len(http.cookie_jar) == 0, "no cookie: it would go to every port of 127.0.0.1"
        ws_url = page_websocket(text)
        assert ws_url.startswith(f"ws://127.0.0.1:{port}/ws/")
        async with http.ws_connect(ws_url + "?width=80&height=24", origin=own) as ws:
            await ws.receive(timeout=60)  # the session's first output: its process runs
            sessions = children(serve.proc.pid)
            foreign = {"same ticket again": await ws_status(http, ws_url, own)}
            # another site, another local user's page on another port (the same "site" for
            # cookies), a sandboxed frame: each with a fresh ticket of the owner's page
            for origin in ("http://evil.example", f"http://127.0.0.1:{port + 1}", "null"):
                async with http.get(serve.link) as response:
                    fresh = page_websocket(await response.text())
                foreign[origin] = await ws_status(http, fresh, origin)
            assert children(serve.proc.pid) == sessions, "no session for a used ticket or another origin"
    return status, text, sessions, foreign


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None, reason="needs root to act as nobody")
def test_another_local_user_gets_nothing(tmp_path):
    pwd.getpwnam("nobody")
    with ServeProcess(config(tmp_path), tmp_path / "state") as serve:
        seen = as_nobody(serve.port)
        # textual-serve's public static files are served without a key: the package's own
        # file, byte for byte (nothing of the config or environments)
        static = seen.pop("static")
        public = Path(textual_serve.__file__).parent / "static" / "js" / "textual.js"
        assert static["status"].startswith("HTTP/1.1 200"), static
        assert static["body_sha256"] == hashlib.sha256(public.read_bytes()).hexdigest()
        for name, answer in seen.items():
            assert answer["status"].startswith("HTTP/1.1 403"), (name, answer)
            assert answer["bytes"] < 1000, (name, answer)  # a refusal, not the TUI
        assert children(serve.proc.pid) == [], "no session process for a stranger"

        page, text, sessions, foreign = asyncio.run(owner_session(serve))
        assert page == 200 and "envdeck" in text and serve.token not in text
        assert len(sessions) == 1, "the owner gets a session"
        assert set(foreign.values()) == {403}, f"a used ticket or another origin opens no session: {foreign}"
    log = (tmp_path / "state" / "envdeck.log").read_text()
    assert "refused" in log and serve.token not in log
    assert serve.token not in serve.stderr.decode() and serve.token not in serve.stdout.decode()


# -- the owner's browser visits another local port ---------------------------------

class Listener:
    """Another local user's server on another port: it records the raw requests it gets."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.seen: list[bytes] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                self.seen.append(data)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

    def close(self):
        self.sock.close()


async def owner_browses_elsewhere(serve: ServeProcess, elsewhere: int) -> str:
    """The owner's client opens the link (as a browser: cookies kept, even for an IP),
    then visits another local port; returns the page's WebSocket address."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(serve.link) as response:
            assert response.status == 200
            ws_url = page_websocket(await response.text())
        async with http.get(f"http://127.0.0.1:{elsewhere}/") as response:
            assert response.status == 200
    return ws_url


# What the other user does with what their listener saw: replays the request's headers
# (Host rewritten to the served port) on the page and on WebSocket upgrades, no Origin.
REPLAY = r"""
import base64, json, os, socket, sys
port, headers = int(sys.argv[1]), json.loads(sys.argv[2])
extra = "".join(h + "\r\n" for h in headers)

def ask(request):
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(request.encode())
        data = b""
        while len(data) < 70000:
            if b"\r\n\r\n" in data and not data.startswith(b"HTTP/1.1 101"):
                s.settimeout(2)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            data += chunk
    return {"status": data.split(b"\r\n", 1)[0].decode(errors="replace"), "bytes": len(data)}

def upgrade(path):
    key = base64.b64encode(os.urandom(16)).decode()
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s\r\n" % (path, port, key, extra))

print(json.dumps({
    "page": ask("GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s\r\n" % (port, extra)),
    "websocket": ask(upgrade("/ws?width=80&height=24")),
    "websocket_ticket_path": ask(upgrade("/ws/x?width=80&height=24")),
}))
"""


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None, reason="needs root to act as nobody")
def test_another_local_port_learns_nothing_to_replay(tmp_path):
    with ServeProcess(config(tmp_path), tmp_path / "state") as serve:
        listener = Listener()
        try:
            ws_url = asyncio.run(owner_browses_elsewhere(serve, listener.port))
            ticket = ws_url.rsplit("/", 1)[1]
            assert len(listener.seen) == 1
            seen = listener.seen[0].decode(errors="replace")
            assert serve.token not in seen and ticket not in seen, seen
            assert "cookie:" not in seen.lower(), f"the owner's browser sends no cookie elsewhere: {seen}"
            headers = [line for line in seen.split("\r\n")[1:] if line and not line.lower().startswith("host:")]
            run = subprocess.run(["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c", REPLAY,
                                  str(serve.port), json.dumps(headers)],
                                 capture_output=True, text=True, timeout=120, cwd="/")
            assert run.returncode == 0, run.stderr
            for name, answer in json.loads(run.stdout).items():
                assert answer["status"].startswith("HTTP/1.1 403"), (name, answer)
            assert children(serve.proc.pid) == [], "no session process from a replay"
        finally:
            listener.close()


# -- refusals in envdeck.log ----------------------------------------------------------

REFUSED = 3000


async def refused_requests(port: int) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=20)) as http:
        async def one(i: int) -> None:
            async with http.get(f"http://127.0.0.1:{port}/nothing-{i}") as response:
                assert response.status == 403
        for start in range(0, REFUSED, 200):
            await asyncio.gather(*(one(i) for i in range(start, start + 200)))


def test_a_flood_of_refusals_is_logged_in_a_few_lines(tmp_path):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    log_path = state / "envdeck.log"
    log_path.write_text("2026-01-01 earlier line kept\n")
    log_path.chmod(0o600)
    with ServeProcess(config(tmp_path), state) as serve:
        started = time.monotonic()
        asyncio.run(refused_requests(serve.port))
        elapsed = time.monotonic() - started
    text = log_path.read_text()
    assert text.startswith("2026-01-01 earlier line kept\n"), "the earlier lines are not rotated away"
    lines = [line for line in text.splitlines() if "serve: refused" in line]
    # the first one, then at most one line per interval, and the rest when serve stops
    assert 1 <= len(lines) <= 2 + elapsed / 60 + 1, lines
    counted = sum(int(line.split("serve: refused ", 1)[1].split(" ", 1)[0]) if " requests in the last " in line
                  else 1 for line in lines)
    assert counted == REFUSED, lines


# -- where the link goes --------------------------------------------------------------

def test_the_link_goes_to_a_terminal_or_to_a_private_file(tmp_path):
    # stdout a pipe (`envdeck serve > serve.out`): no key in it, a 0600 file in the state dir instead
    with ServeProcess(config(tmp_path), tmp_path / "state") as piped:
        assert piped.token not in piped.stdout.decode()
        assert piped.link_file is not None and piped.link_file.parent == tmp_path / "state"
        st = piped.link_file.lstat()
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.geteuid()
        assert str(piped.link_file) in piped.stdout.decode()
    assert not piped.link_file.exists(), "removed when serve stops"
    assert piped.token not in piped.stdout.decode()

    # stdout a terminal: the link is printed there, once, and no file is written
    with ServeProcess(config(tmp_path), tmp_path / "state2", tty=True) as shown:
        assert shown.stdout.decode().count(shown.token) == 1
        assert list((tmp_path / "state2").glob("*.link")) == []


def test_the_link_file_is_never_a_planted_one(tmp_path):
    target = tmp_path / "victim"
    target.write_text("untouched\n")
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    planted = state / f"serve-8000-{os.getpid()}.link"
    planted.symlink_to(target)
    with pytest.raises(FileExistsError):
        write_link_file(state, 8000, "http://127.0.0.1:8000/?token=x")
    assert target.read_text() == "untouched\n"
    planted.unlink()
    path = write_link_file(state, 8000, "http://127.0.0.1:8000/?token=x")
    assert path.read_text() == "http://127.0.0.1:8000/?token=x\n" and stat.S_IMODE(path.stat().st_mode) == 0o600


# -- tickets and the refusal log, on a hand-moved clock ----------------------------------

class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_ticket_is_good_once_and_only_briefly():
    clock = Clock()
    tickets = Tickets(60, clock=clock, limit=3)
    first, second = tickets.mint(), tickets.mint()
    assert first != second and len(first) >= 32
    assert tickets.redeem(first) and not tickets.redeem(first), "single use"
    assert not tickets.redeem("") and not tickets.redeem(None) and not tickets.redeem(first[:-1] + "x")
    clock.now += 60
    assert not tickets.redeem(second), "expired"
    minted = [tickets.mint() for _ in range(4)]
    assert not tickets.redeem(minted[0]), "only the newest `limit` are kept"
    assert all(tickets.redeem(t) for t in minted[1:])


def test_refusals_are_logged_first_then_once_per_interval_with_a_count():
    clock = Clock()
    refusals = RefusalLog(60, clock=clock)
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = records.append
    logger = logging.getLogger("envdeck.serve")
    logger.addHandler(handler)
    try:
        for i in range(1000):
            refusals.refused(f"GET '/x{i}' from 127.0.0.1", "no key")
            clock.now += 0.01
        assert [r.getMessage() for r in records] == ["serve: refused GET '/x0' from 127.0.0.1: no key"]
        clock.now += 60
        refusals.refused("GET '/last' from 127.0.0.1", "no key")
        assert len(records) == 2
        assert records[1].getMessage().startswith("serve: refused 1000 requests in the last 70s")
        assert records[1].getMessage().endswith("the latest GET '/last' from 127.0.0.1: no key")
        refusals.refused("GET '/after' from 127.0.0.1", "no key")
        refusals.flush()
        assert records[2].getMessage() == "serve: refused GET '/after' from 127.0.0.1: no key"
        refusals.flush()
        assert len(records) == 3
    finally:
        logger.removeHandler(handler)
