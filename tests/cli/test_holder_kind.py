""""root@vm:649 is carrying it out already" did not say that process is the TUI (on-call
finding, session 8): a holder on this host is described by the envdeck verb its command line
names (tui/core/holder_kind.py). Real processes: one started as `envdeck …` (argv[0] set by
`exec -a`), looked up in /proc by the holder string."""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import sys
import time

import pytest

from tui.cli.env_cmd import Progress
from tui.core.holder_kind import described, holder_kind, kind_of_command


def _holder(pid: int) -> str:
    return f"{pwd.getpwuid(os.geteuid()).pw_name}@{socket.gethostname()}:{pid}"


def test_kind_of_command_reads_the_verb():
    assert kind_of_command(["/usr/bin/python3", "-m", "tui.cli", "tui", "--env", "staging"]) == "a TUI"
    assert kind_of_command(["/home/u/.local/bin/envdeck"]) == "a TUI"
    assert kind_of_command(["envdeck", "--config", "x.yaml", "demo"]) == "a TUI (envdeck demo)"
    assert kind_of_command(["envdeck", "agent", "--env", "prod-*"]) == "the agent"
    assert kind_of_command(["envdeck", "env", "destroy", "pr-3", "--wait"]) == "a CLI command (envdeck env destroy)"
    assert kind_of_command(["envdeck", "reconcile", "--once"]) == "a CLI command (envdeck reconcile)"
    assert kind_of_command(["/usr/bin/python3", "-m", "pytest", "tests"]) is None


@pytest.fixture
def agent_like():
    """A live process whose command line is `envdeck -c … agent` (python sleeping)."""
    proc = subprocess.Popen(["bash", "-c", f'exec -a envdeck {sys.executable} -c "import time; time.sleep(60)" agent'])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_local_holder_is_described_and_the_join_line_says_it(agent_like, capsys):
    holder = _holder(agent_like.pid)
    deadline = time.monotonic() + 30
    while holder_kind(holder) is None and time.monotonic() < deadline:   # until bash has exec'd
        time.sleep(0.02)
    assert holder_kind(holder) == "the agent"
    assert described(holder) == f"{holder} (the agent)"
    Progress("j1", quiet=False).joined("j1", holder)
    assert f"j1: {holder} (the agent) is carrying it out already; joined it" in capsys.readouterr().err
    # this process (pytest), another host's, a gone one: the holder alone
    assert described(_holder(os.getpid())) == _holder(os.getpid())
    assert described(f"root@elsewhere.invalid:{agent_like.pid}") == f"root@elsewhere.invalid:{agent_like.pid}"
    assert holder_kind(_holder(2 ** 22 + 7)) is None
