"""N OpenSSH sshd on loopback for the fleet benchmarks.

Copied from the edge tests' fixture logic (tests/edge/sshd.py, tests/edge/conftest.py;
bench/ does not import tests): a login with a plain /bin/sh and no rc files, one
client key, one known_hosts with every server's key (verified, never skipped).

Two layouts: one sshd per node on 127.0.0.1 ports (`SshLab(n)`, the 50-node bench),
or, for a thousand nodes, one address per node (127.0.X.Y, one shared port) with
one sshd listening on up to 16 of them (`SshLab(n, per_address=True)`; OpenSSH's
limit of listen sockets per process): every node is still a real sshd that forks a
session per connection, without a thousand idle listeners. `black_hole_node()`
puts one more node in a network namespace whose link can be black-holed.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tui.core.identity import current_user

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
        return current_user()
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


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def black_hole_unavailable() -> str | None:
    """Why a namespaced node cannot be made here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is missing"
    return None


@dataclass(frozen=True, slots=True)
class BlackHoleNode:
    node: LabNode
    ns: str
    host_addr: str

    def block(self) -> None:
        _ip("-n", self.ns, "route", "add", "blackhole", f"{self.host_addr}/32")

    def unblock(self) -> None:
        subprocess.run(["ip", "-n", self.ns, "route", "del", "blackhole", f"{self.host_addr}/32"],
                       capture_output=True)


def wait_port(host: str, port: int, proc: subprocess.Popen, deadline_s: float = 60.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sshd exited with {proc.returncode}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"sshd on {host}:{port} did not start within {deadline_s}s")


LISTEN_PER_SSHD = 16  # OpenSSH's MAX_LISTEN_SOCKS


def node_address(i: int) -> str:
    """127.0.X.Y for node i (X from 10, Y 1..250): clear of 127.0.0.1 and of each other."""
    return f"127.0.{10 + i // 250}.{1 + i % 250}"


@dataclass(frozen=True, slots=True)
class LabNode:
    host: str
    port: int


@dataclass
class SshLab:
    n: int
    per_address: bool = False
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="envdeck-bench-ssh-")))
    nodes: list[LabNode] = field(default_factory=list)
    procs: list[subprocess.Popen] = field(default_factory=list)
    user: str = ""
    _host_key: Path | None = None
    _public: str = ""
    _netns: list[str] = field(default_factory=list)

    @property
    def ports(self) -> list[int]:
        return [n.port for n in self.nodes]

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
        self._host_key, self._public = host_key, public
        if self.per_address:
            port = free_port()
            self.nodes = [LabNode(node_address(i), port) for i in range(self.n)]
            groups = [self.nodes[i:i + LISTEN_PER_SSHD] for i in range(0, self.n, LISTEN_PER_SSHD)]
        else:
            self.nodes = [LabNode("127.0.0.1", free_port()) for _ in range(self.n)]
            groups = [[node] for node in self.nodes]
        for i, group in enumerate(groups):
            self.procs.append(self._sshd(f"sshd_{i}", group))
        self.known_hosts.write_text("".join(self.known_hosts_line(n) for n in self.nodes))
        for i, group in enumerate(groups):
            for node in group:
                wait_port(node.host, node.port, self.procs[i])
        return self

    def known_hosts_line(self, node: LabNode) -> str:
        return f"[{node.host}]:{node.port} {self._public}\n"

    def _sshd(self, name: str, listen: list[LabNode], argv_prefix: tuple[str, ...] = ()) -> subprocess.Popen:
        wd = self.workdir
        cfg = wd / f"{name}.conf"
        cfg.write_text("\n".join([
            f"Port {listen[0].port}", *(f"ListenAddress {n.host}" for n in listen),
            f"HostKey {self._host_key}",
            f"PidFile {wd / f'{name}.pid'}", f"AuthorizedKeysFile {wd / 'authorized_keys'}",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
            "StrictModes no", "PermitRootLogin prohibit-password", "PrintMotd no",
            "MaxStartups 2000", "MaxSessions 100", "LogLevel ERROR", ""]))
        with open(wd / f"{name}.log", "ab") as log:
            return subprocess.Popen([*argv_prefix, SSHD, "-D", "-e", "-f", str(cfg)], stdout=log, stderr=log)

    # -- one node behind a link that can be black-holed (root, iproute2) ----------------
    def black_hole_node(self) -> BlackHoleNode:
        """One more sshd in a network namespace of its own, joined by a veth pair; its
        `block()` adds a blackhole route inside the namespace so that nothing comes back
        (a SYN is never answered, an open connection goes silent), `unblock()` removes it."""
        pid = os.getpid()
        ns, host_if, node_if = f"edb-{pid}", f"edb{pid % 100000}h", f"edb{pid % 100000}n"
        subnet = 10 + pid % 200
        host_addr, node_addr = f"10.252.{subnet}.1", f"10.252.{subnet}.2"
        _ip("netns", "add", ns)
        self._netns.append(ns)
        _ip("link", "add", host_if, "type", "veth", "peer", "name", node_if)
        _ip("link", "set", node_if, "netns", ns)
        _ip("addr", "add", f"{host_addr}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", ns, "addr", "add", f"{node_addr}/30", "dev", node_if)
        _ip("-n", ns, "link", "set", node_if, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        node = LabNode(node_addr, self.nodes[0].port if self.nodes else free_port())
        proc = self._sshd("sshd_blackhole", [node], ("ip", "netns", "exec", ns))
        self.procs.append(proc)
        with self.known_hosts.open("a") as f:
            f.write(self.known_hosts_line(node))
        wait_port(node.host, node.port, proc)
        return BlackHoleNode(node, ns, host_addr)

    def renice(self, niceness: int) -> None:
        """Lower the nodes' CPU priority (the listeners; every session they fork inherits it), so
        that they take only the CPU the client leaves, as nodes on machines of their own would."""
        for proc in self.procs:
            if proc.poll() is None:
                os.setpriority(os.PRIO_PROCESS, proc.pid, niceness)

    def ssh_argv(self, port: int | str, *, kex: str | None = None, host: str = "127.0.0.1") -> list[str]:
        argv = ["ssh", "-p", str(port), "-i", str(self.client_key), "-F", "/dev/null",
                "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR"]
        if kex:
            argv += ["-o", f"KexAlgorithms={kex}"]
        return [*argv, f"{self.user}@{host}"]

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
        for ns in self._netns:  # its veth pair goes with it
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(self.workdir, ignore_errors=True)
