"""A double Ctrl-C, or a storm of them, ends an async verb 130 with one line on stderr, exactly
as one does (tui/cli/sigint.py): never death by the signal (wait status -2), never a traceback
or an "Exception ignored" line. Real `envdeck status` processes waiting on a silent edge node
(one listener for the module) get real SIGINTs once the node's connection is open; and a
process whose verb module is being imported gets its SIGINTs in the middle of that import."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers import envdeck_env, repo_root
from tests.silent_listener import SilentListener

LINE = "envdeck: interrupted (Ctrl-C)"


@pytest.fixture(scope="module")
def listener():
    silent = SilentListener()
    yield silent
    silent.close()


def _config(tmp_path: Path, port: int) -> str:
    known = tmp_path / "known_hosts"
    known.write_text("")
    cfg = tmp_path / "envdeck.yaml"
    cfg.write_text(yaml.safe_dump({"environments": {"dead": {"edge": {
        "known_hosts": str(known), "connect_timeout": "20s",
        "nodes": [{"name": "dead-1", "host": "127.0.0.1", "port": port, "user": "nobody"}]}}}}))
    cfg.chmod(0o600)
    return str(cfg)


def _waiting_status(tmp_path: Path, listener: SilentListener) -> subprocess.Popen:
    before = listener.accepted
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "status", "--config", _config(tmp_path, listener.port),
                             "--state-dir", str(tmp_path / "state")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=repo_root(),
                            env=envdeck_env(PYTHONPATH=str(repo_root())), stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while listener.accepted <= before:  # the pass is waiting on the node now
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    return proc


def _signals(proc: subprocess.Popen, count: int, gap: float) -> None:
    for _ in range(count):
        if proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        time.sleep(gap)


def _assert_one_line_130(proc: subprocess.Popen, line: str = LINE) -> None:
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, out, err)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err.splitlines() == [line], err
    assert out == "", "stopped before any report"


def test_double_ctrl_c_ends_130_with_one_line(tmp_path, listener):
    proc = _waiting_status(tmp_path, listener)
    _signals(proc, 2, 0.05)
    _assert_one_line_130(proc)


def test_storm_of_ctrl_c_ends_130_with_one_line(tmp_path, listener):
    proc = _waiting_status(tmp_path, listener)
    _signals(proc, 50, 0.002)
    _assert_one_line_130(proc)


# The verb's module is imported after `main` has its handler: a finder placed first on
# sys.meta_path sends the process SIGINTs while `tui.cli.commands` is being looked up.
_INTERRUPTED_IMPORT = """
import os, signal, sys

class Interrupting:
    def find_spec(self, name, path=None, target=None):
        if name == "tui.cli.commands":
            for _ in range(20):
                os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, Interrupting())
from tui.cli import run
sys.argv = ["envdeck", *sys.argv[1:]]
run()
"""


def test_ctrl_c_while_the_verb_module_is_imported(tmp_path):
    cfg = _config(tmp_path, 9)
    proc = subprocess.Popen([sys.executable, "-c", _INTERRUPTED_IMPORT, "status", "--config", cfg,
                             "--state-dir", str(tmp_path / "state")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=repo_root(), stdin=subprocess.DEVNULL,
                            env=envdeck_env(PYTHONPATH=str(repo_root())))
    _assert_one_line_130(proc, f"{LINE} before the command started: nothing was done")
    assert not (tmp_path / "state").exists() or not any(os.scandir(tmp_path / "state")), "nothing ran"


def test_storm_of_ctrl_c_during_run_on_a_real_node(edge_lab, tmp_path):
    """`envdeck run ENV --yes -- 'sleep 5'` on a real sshd node: a storm of SIGINTs once the
    command runs there ends it 130 with the one line."""
    from tests.edge.lab import chown
    from tests.edge.test_cli_edge import write_config

    server = edge_lab.start_sshd()
    edge_lab.trust(server)
    cfg = write_config(edge_lab, tmp_path, [server])
    marks = edge_lab.workdir / f"marks-{tmp_path.name}"
    marks.mkdir()
    chown(marks, edge_lab.user)
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "run", "--config", cfg, "--state-dir",
                             str(tmp_path / "state"), "lab", "--yes", "--", f"touch {marks}/started; sleep 5"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=repo_root(),
                            env=envdeck_env(PYTHONPATH=str(repo_root())), stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (marks / "started").exists():  # the command runs on the node now
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    _signals(proc, 2, 0.05)
    _signals(proc, 50, 0.002)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (proc.returncode, out, err)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err.splitlines() == [LINE], err


def test_reconcile_keeps_its_graceful_stop_under_a_storm(tmp_path):
    """`reconcile` (its own SIGINT handler): a storm of SIGINTs still ends it 0, never by the
    signal nor with a KeyboardInterrupt (the process's handler takes over once it has ended)."""
    cfg = _config(tmp_path, 9)  # nothing listens: passes fail fast, the loop goes on
    for count, gap in ((2, 0.05), (50, 0.002)):
        proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "reconcile", "--config", cfg, "--state-dir",
                                 str(tmp_path / "state")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=repo_root(), env=envdeck_env(PYTHONPATH=str(repo_root())),
                                stdin=subprocess.DEVNULL)
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("envdeck reconciling dead")
        _signals(proc, count, gap)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, (proc.returncode, out, err)
        assert "KeyboardInterrupt" not in err and LINE not in err, err
