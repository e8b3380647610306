"""The first Ctrl-C stops any verb, not only the waits that handle it themselves
(tui/cli/interrupt.py): a real `envdeck status` process waiting on a silent edge node (it would
wait its 10 s connect_timeout) gets one SIGINT once the node's connection is open, and ends 130
with one line on stderr, no traceback and no report."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import yaml

from tests.helpers import envdeck_env, repo_root
from tests.silent_listener import SilentListener


def test_first_sigint_stops_status_on_a_silent_node(tmp_path):
    listener = SilentListener()
    try:
        known = tmp_path / "known_hosts"
        known.write_text("")
        cfg = tmp_path / "envdeck.yaml"
        cfg.write_text(yaml.safe_dump({"environments": {"dead": {"edge": {
            "known_hosts": str(known), "connect_timeout": "10s",
            "nodes": [{"name": "dead-1", "host": "127.0.0.1", "port": listener.port, "user": "nobody"}]}}}}))
        cfg.chmod(0o600)
        proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "status", "--config", str(cfg),
                                 "--state-dir", str(tmp_path / "state")], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=repo_root(),
                                env=envdeck_env(PYTHONPATH=str(repo_root())), stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while listener.accepted < 1:          # the pass is waiting on the node now
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        listener.close()
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err, err
    assert err.splitlines() == ["envdeck: interrupted (Ctrl-C)"], err
    assert out == "", "stopped before any report"
