"""A real OpenSSH sshd for the edge tests (see /work/shared/TESTING.md).

Each server has its own config, host key and port under a world-readable
temporary directory (the test user must read authorized_keys). Runs on
127.0.0.1, or on an address inside a network namespace the test created.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tui.core.identity import current_user

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
TEST_USER = "envdeck-test"
TEST_HOME = Path("/var/lib/envdeck-test")


def sshd_available() -> bool:
    return os.path.exists(SSHD) and shutil.which("ssh-keygen") is not None


def ensure_test_user() -> str:
    """A login with a plain /bin/sh and no rc files (root's .bashrc here runs `pyenv init`).
    As root: the system user envdeck-test (created once, kept: other runs may use it).
    Otherwise: the current user (a non-root sshd can only log in its own user)."""
    if os.geteuid() != 0:
        return current_user()
    # Parallel test workers may get here at the same moment: one creates, the others wait for it.
    with open("/run/envdeck-test-user.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            pwd.getpwnam(TEST_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--shell", "/bin/sh", "--home-dir", str(TEST_HOME),
                            "--create-home", TEST_USER], check=True, capture_output=True)
        # '*' = no password but not locked: sshd with UsePAM no refuses locked ('!') accounts
        subprocess.run(["usermod", "-p", "*", TEST_USER], check=True, capture_output=True)
    return TEST_USER


def keygen(path: Path, comment: str = "envdeck-test") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, capture_output=True)
    path.chmod(0o600)
    (path.parent / (path.name + ".pub")).chmod(0o644)
    return path


def _descendants(pid: int) -> list[int]:
    """Every process under `pid`, from /proc (children before their own children)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop(0)
        out.append(child)
        todo.extend(children.get(child, []))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(host: str, port: int, proc: subprocess.Popen | None, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"sshd exited with {proc.returncode}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sshd on {host}:{port} did not start within {deadline_s}s")


@dataclass
class Sshd:
    workdir: Path
    authorized_keys: Path
    address: str = "127.0.0.1"
    port: int = 0
    netns: str | None = None
    host_key: Path | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> Sshd:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.workdir.chmod(0o755)
        if self.host_key is None:
            self.host_key = keygen(self.workdir / "host_ed25519", "host")
        if not self.port:
            self.port = free_port() if self.netns is None else 22
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        cfg = self.workdir / "sshd_config"
        cfg.write_text("\n".join([
            f"Port {self.port}", f"ListenAddress {self.address}", f"HostKey {self.host_key}",
            f"PidFile {self.workdir / 'sshd.pid'}", f"AuthorizedKeysFile {self.authorized_keys}",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
            "StrictModes no", "PermitRootLogin prohibit-password", "PrintMotd no",
            "MaxStartups 200", "LogLevel ERROR", "",
        ]))
        argv = [SSHD, "-D", "-e", "-f", str(cfg)]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        log = open(self.workdir / "sshd.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, stdout=log, stderr=log)
        self._log = log
        wait_port(self.address, self.port, self.proc)
        return self

    def stop(self) -> None:
        # sshd's per-connection processes call setsid(): a session whose client is black-holed
        # outlives the listener (its TCP peer never answers), so they are ended here too.
        sessions = _descendants(self.proc.pid) if self.proc is not None else []
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for pid in sessions:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if getattr(self, "_log", None):
            self._log.close()

    @property
    def public_host_key(self) -> str:
        assert self.host_key is not None
        return " ".join((self.host_key.parent / (self.host_key.name + ".pub")).read_text().split()[:2])

    def known_hosts_line(self) -> str:
        host = self.address if self.port == 22 else f"[{self.address}]:{self.port}"
        return f"{host} {self.public_host_key}\n"
