"""13.14: `envdeck demo` prints its config's path and the exact command that runs the CLI
against the running demo (dummy AWS credentials included), and removes its temporary
directory (config, kubeconfigs, SSH keys, state) when it ends, also on SIGTERM and SIGHUP.
The real demo (moto, the Kubernetes emulator, simulated SSH nodes) runs on a real pty."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import envdeck_env, repo_root

pytestmark = pytest.mark.slow
COMMAND_LINE = re.compile(rb"envdeck demo: from another terminal while the demo runs: ([^\r\n]+)")
ALT_SCREEN_ON, ALT_SCREEN_OFF = b"\x1b[?1049h", b"\x1b[?1049l"


class DemoOnPty:
    """`envdeck demo` with its own TMPDIR, on a pseudo-terminal, without AWS credentials
    of its own (the demo provides them)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        env = envdeck_env(PYTHONPATH=str(repo_root()), TERM="xterm-256color", COLUMNS="160", LINES="48",
                          TMPDIR=str(tmp))
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ENVDECK_CONFIG", "ENVDECK_STATE_DIR"):
            env.pop(key, None)
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen([sys.executable, "-m", "tui.cli", "demo"], stdin=slave, stdout=slave,
                                     stderr=slave, cwd=repo_root(), env=env, close_fds=True, start_new_session=True)
        os.close(slave)
        self.out = bytearray()

    def read_until(self, done, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while not done(bytes(self.out)):
            if time.monotonic() > deadline:
                raise AssertionError(f"demo: condition not met; output so far: {bytes(self.out[-3000:])!r}")
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:
                    chunk = b""
                if not chunk and self.proc.poll() is not None:
                    raise AssertionError(f"demo ended early ({self.proc.returncode}): {bytes(self.out[-3000:])!r}")
                self.out += chunk
            elif self.proc.poll() is not None:
                raise AssertionError(f"demo ended early ({self.proc.returncode}): {bytes(self.out[-3000:])!r}")

    def end(self, signum: int, timeout: float = 60) -> int:
        self.proc.send_signal(signum)
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    self.out += os.read(self.master, 65536)
                except OSError:
                    pass
        return self.proc.poll()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        os.close(self.master)

    def leftovers(self) -> list[str]:
        return sorted(p.name for p in self.tmp.glob("envdeck-demo-*"))


def backend_errors(command: str, env: dict[str, str], cwd: Path) -> str:
    """For a failure's message: every backend's error, as `status --json` reports it now."""
    done = subprocess.run(["bash", "-c", command + " --json"], capture_output=True, text=True, env=env,
                          timeout=180, cwd=str(cwd), stdin=subprocess.DEVNULL)
    try:
        envs = json.loads(done.stdout)["environments"]
    except (ValueError, KeyError) as exc:
        return f"\nstatus --json gave no report ({exc}): {done.stdout[-2000:]} {done.stderr[-2000:]}"
    return "\nbackend errors (status --json): " + "; ".join(
        f"{env['name']}/{name}: {backend['error']}" for env in envs for name, backend in env["backends"].items()
        if not backend["reachable"])


def test_the_printed_command_runs_the_cli_against_the_demo_and_sigterm_cleans_up(tmp_path):
    demo = DemoOnPty(tmp_path / "tmp")
    try:
        demo.read_until(lambda out: COMMAND_LINE.search(out) is not None and ALT_SCREEN_ON in out)
        command = COMMAND_LINE.search(bytes(demo.out)).group(1).decode()
        assert "AWS_ACCESS_KEY_ID=testing" in command and command.endswith(" envdeck status")
        (workdir,) = demo.leftovers()
        config = tmp_path / "tmp" / workdir / "envdeck.yaml"
        assert f"ENVDECK_CONFIG={config}" in command
        assert config.exists() and (tmp_path / "tmp" / workdir / "servers" / "kubeconfig-staging").exists()

        # exactly what was printed, in a shell with no AWS credentials of its own
        shell_env = envdeck_env(PYTHONPATH=str(repo_root()))
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ENVDECK_CONFIG", "ENVDECK_STATE_DIR"):
            shell_env.pop(key, None)
        # run once, right as the TUI starts its first passes: the demo's servers run in a process
        # of their own and answer meanwhile (in the TUI's process they answered late under load)
        status = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=shell_env,
                                timeout=180, cwd=str(tmp_path), stdin=subprocess.DEVNULL)
        reached = status.returncode == 0 and "UNREACHABLE" not in status.stdout
        assert reached, status.stdout + status.stderr + backend_errors(command, shell_env, tmp_path)
        for env in ("staging", "prod"):
            assert re.search(rf"^{env} .*\[aws ok .*kubernetes ok .*edge ok ", status.stdout, re.M), status.stdout

        code = demo.end(signal.SIGTERM)
        assert code == 128 + signal.SIGTERM, bytes(demo.out[-2000:])
        assert bytes(demo.out).rfind(ALT_SCREEN_OFF) > bytes(demo.out).rfind(ALT_SCREEN_ON), "terminal restored"
        assert demo.leftovers() == [], "the demo's directory (kubeconfigs, keys) is removed on SIGTERM"
    finally:
        demo.close()


def test_sighup_while_starting_cleans_up(tmp_path):
    demo = DemoOnPty(tmp_path / "tmp")
    try:
        demo.read_until(lambda out: b"envdeck demo: starting" in out)
        assert demo.leftovers(), "the directory exists while the demo starts"
        code = demo.end(signal.SIGHUP)
        assert code == 128 + signal.SIGHUP, bytes(demo.out[-2000:])
        assert "Traceback" not in bytes(demo.out).decode(errors="replace")
        assert demo.leftovers() == []
    finally:
        demo.close()
