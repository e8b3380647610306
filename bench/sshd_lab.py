"""N OpenSSH sshd on loopback ports for the fleet benchmark.

Copied from the edge tests' fixture logic (tests/edge/sshd.py, tests/edge/conftest.py;
bench/ does not import tests): a login with a plain /bin/sh and no rc files, one
client key, one known_hosts with every server's key (verified, never skipped).
"""

from __future__ import annotations

import getpass
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
BENCH_USER = "envdeck-test"  # the same system user as the edge tests (light login shell)
BENCH_HOME = Path("/var/lib/envdeck-test")

SERVICE_SCRIPT = """#!/bin/sh
# A tiny service manager (no systemd here): state in files under STATE.
STATE='{state}'
action=$1; name=$2
case "$action" in
  status) if [ -e "$STATE/$name.active" ]; then echo active; exit 0; fi
          echo "inactive (dead)"; exit 3 ;;
  start|restart) : > "$STATE/$name.active"; echo "$name $action" ;;
  stop) rm -f "$STATE/$name.active" ;;
  *) echo "unknown action $action" >&2; exit 2 ;;
esac
"""


def sshd_available() -> bool:
    return os.path.exists(SSHD) and shutil.which("ssh-keygen") is not None and shutil.which("ssh") is not None


def ensure_login() -> str:
    if os.geteuid() != 0:
        return getpass.getuser()
    try:
        pwd.getpwnam(BENCH_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--shell", "/bin/sh", "--home-dir", str(BENCH_HOME),
                        "--create-home", BENCH_USER], check=True, capture_output=True)
    subprocess.run(["usermod", "-p", "*", BENCH_USER], check=True, capture_output=True)
    return BENCH_USER


def keygen(path: Path, comment: str) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, capture_output=True)
    path.chmod(0o600)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sshd on 127.0.0.1:{port} did not start within {deadline_s}s")


@dataclass
class SshLab:
    n: int
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="envdeck-bench-ssh-")))
    ports: list[int] = field(default_factory=list)
    procs: list[subprocess.Popen] = field(default_factory=list)
    user: str = ""

    @property
    def client_key(self) -> Path:
        return self.workdir / "client_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.workdir / "known_hosts"

    @property
    def script(self) -> Path:
        return self.workdir / "svc.sh"

    def start(self) -> SshLab:
        self.user = ensure_login()
        wd = self.workdir
        wd.chmod(0o755)
        keygen(self.client_key, "envdeck-bench")
        authorized = wd / "authorized_keys"
        authorized.write_text((wd / "client_ed25519.pub").read_text())
        authorized.chmod(0o644)
        host_key = keygen(wd / "host_ed25519", "host")
        public = " ".join((wd / "host_ed25519.pub").read_text().split()[:2])
        state = wd / "state"
        state.mkdir()
        if os.geteuid() == 0:
            entry = pwd.getpwnam(self.user)
            os.chown(state, entry.pw_uid, entry.pw_gid)
            Path("/run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)
        self.script.write_text(SERVICE_SCRIPT.format(state=state))
        self.script.chmod(0o755)
        (wd / "ssh_config").write_text("# empty: the nodes carry every option\n")
        lines = []
        for i in range(self.n):
            port = free_port()
            cfg = wd / f"sshd_{i}.conf"
            cfg.write_text("\n".join([
                f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}",
                f"PidFile {wd / f'sshd_{i}.pid'}", f"AuthorizedKeysFile {authorized}",
                "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
                "StrictModes no", "PermitRootLogin prohibit-password", "PrintMotd no",
                "MaxStartups 200", "MaxSessions 100", "LogLevel ERROR", ""]))
            log = open(wd / f"sshd_{i}.log", "ab")  # noqa: SIM115 - lives as long as the server
            self.procs.append(subprocess.Popen([SSHD, "-D", "-e", "-f", str(cfg)], stdout=log, stderr=log))
            log.close()
            self.ports.append(port)
            lines.append(f"[127.0.0.1]:{port} {public}\n")
        self.known_hosts.write_text("".join(lines))
        for port, proc in zip(self.ports, self.procs, strict=True):
            wait_port(port, proc)
        return self

    def ssh_argv(self, port: int, *, kex: str | None = None) -> list[str]:
        argv = ["ssh", "-p", str(port), "-i", str(self.client_key), "-F", "/dev/null",
                "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR"]
        if kex:
            argv += ["-o", f"KexAlgorithms={kex}"]
        return [*argv, f"{self.user}@127.0.0.1"]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        shutil.rmtree(self.workdir, ignore_errors=True)
