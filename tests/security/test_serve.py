"""`envdeck serve` (textual-serve, which has no authentication) binds 127.0.0.1 by
default and warns loudly when told to bind anything else. The non-loopback case uses
an address that is not on this machine (TEST-NET 192.0.2.1), so nothing is ever
exposed: the warning comes first, then a clear one-line error."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import envdeck_env, repo_root
from tests.security.conftest import envdeck

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
    assert "no authentication" in lines[0] and "SSH tunnel" in lines[0]
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert lines[-1].startswith("envdeck: ") and "192.0.2.1" in lines[-1]
