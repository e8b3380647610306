"""A second local OS user for tests of what another user of a shared host can reach.

`envdeck-peer` is created with useradd when absent (needs root); `needs_other_user` skips a
test, with the reason, where that is impossible. `connect_as` runs a plain Python client as
that user (runuser, the system python3, cwd /) against a local port and says what it got."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import time

import pytest

USER = "envdeck-peer"
PYTHON = "/usr/bin/python3"

needs_other_user = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runuser") is None or shutil.which("useradd") is None
    or not os.path.exists(PYTHON),
    reason="needs root, runuser, useradd and /usr/bin/python3 to act as a second local user")

#: Connect to 127.0.0.1:argv[1], send an HTTP request, read to the end. Prints what came back
#: (repr of the bytes; after 20 s without a byte, what came so far), or `reset` when the
#: connection was reset.
CLIENT = """
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
data = b""
try:
    s.sendall(b"GET /healthz HTTP/1.1\\r\\nHost: web\\r\\n\\r\\n")
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except (ConnectionResetError, BrokenPipeError):
    print("reset")
    sys.exit(0)
except TimeoutError:
    pass  # the connection stayed open: what came back so far
print(repr(data))
"""


def other_user() -> pwd.struct_passwd:
    """The second user (created once, a system account without a login shell)."""
    for _ in range(20):
        try:
            return pwd.getpwnam(USER)
        except KeyError:
            pass
        run = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                             capture_output=True, text=True, timeout=20)
        if run.returncode not in (0, 9):  # 9: created meanwhile by another test process
            time.sleep(0.5)  # /etc/passwd locked by a concurrent useradd: try again
    return pwd.getpwnam(USER)


async def connect_as(port: int, user: str = USER) -> str:
    """What the client above, run as `user`, got from 127.0.0.1:`port`."""
    process = await asyncio.create_subprocess_exec(
        "runuser", "-u", user, "--", PYTHON, "-c", CLIENT, str(port), cwd="/",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode(errors="replace")
    return out.decode().strip()
