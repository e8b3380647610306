"""13.13: asyncssh's import made cryptography print ten `CryptographyDeprecationWarning: DSA …`
lines on every envdeck process that talks SSH. envdeck ignores exactly that warning, raised
from asyncssh's modules; everything else still shows."""

from __future__ import annotations

import subprocess
import sys

from tests.edge.test_cli_edge import write_config
from tests.helpers import envdeck, envdeck_env, repo_root


def test_a_command_that_talks_ssh_prints_no_dsa_warning(edge_lab, tmp_path):
    # envdeck in a process of its own: the warnings were printed when asyncssh is first imported
    server = edge_lab.start_sshd()
    edge_lab.trust(server)
    cfg = write_config(edge_lab, tmp_path, [server])
    proc = envdeck("run", "lab", "--config", cfg, "--state-dir", str(tmp_path / "state"), "--", "echo", "hello-edge")
    assert proc.returncode == 0, proc.stderr
    assert "hello-edge" in proc.stdout  # asyncssh was loaded and used
    assert "CryptographyDeprecationWarning" not in proc.stderr, proc.stderr
    assert "DSA" not in proc.stderr, proc.stderr


PROBE = """
import warnings
import backends.edge  # installs the filter
import asyncssh  # noqa: F401 - already imported by the edge backend: nothing printed
from cryptography.utils import CryptographyDeprecationWarning
# the same warning from another module, and another warning from asyncssh, still show
warnings.warn_explicit("DSA is deprecated (elsewhere)", CryptographyDeprecationWarning, "other.py", 1,
                       module="other")
warnings.warn_explicit("something else", CryptographyDeprecationWarning, "asyncssh/x.py", 2,
                       module="asyncssh.x")
"""


def test_the_filter_is_targeted():
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=repo_root(),
                          env=envdeck_env(PYTHONPATH=str(repo_root())), timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "Warning" in line]
    assert len(lines) == 2, proc.stderr
    assert "other.py:1: CryptographyDeprecationWarning: DSA is deprecated (elsewhere)" in lines[0]
    assert "asyncssh/x.py:2: CryptographyDeprecationWarning: something else" in lines[1]
