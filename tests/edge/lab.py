"""The edge lab, a pytest plugin (registered in tests/conftest.py, used by the edge, TUI,
security and reliability tests): a real OpenSSH sshd on 127.0.0.1 with a test login, and
"services" that are small shell scripts keeping their state in files (there is no systemd
here: the command templates are what make that work)."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.edge.sshd import Sshd, ensure_test_user, keygen, sshd_available
from tui.core.config import EdgeConfig, EdgeNode

SERVICE_SCRIPT = """#!/bin/sh
# A tiny service manager for the tests; state in files under STATE.
STATE='{state}'
action=$1; name=$2
printf '%s|%s\\n' "$action" "$name" >> "$STATE/calls"
f="$STATE/$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' '_')"
case "$action" in
  status) if [ -e "$f.active" ]; then echo active; exit 0; fi
          echo "inactive (dead)"; exit 3 ;;
  start|restart) : > "$f.active"; echo "$name started" >> "$f.log" ;;
  stop) rm -f "$f.active" ;;
  logs) exec tail -n "$3" -F "$f.log" ;;
  *) echo "unknown action $action" >&2; exit 2 ;;
esac
"""


def chown(path: Path, user: str) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass
class EdgeLab:
    workdir: Path
    user: str
    client_key: Path
    authorized_keys: Path
    known_hosts: Path
    ssh_config: Path
    state: Path
    script: Path
    servers: list[Sshd] = field(default_factory=list)

    def start_sshd(self, name: str = "n1", **kw) -> Sshd:
        server = Sshd(self.workdir / f"sshd-{name}", self.authorized_keys, **kw).start()
        self.servers.append(server)
        return server

    def trust(self, server: Sshd) -> None:
        with self.known_hosts.open("a") as fh:
            fh.write(server.known_hosts_line())

    def commands(self) -> dict[str, str]:
        s = str(self.script)
        return {"status": f"{s} status {{service}}", "start": f"{s} start {{service}}",
                "stop": f"{s} stop {{service}}", "restart": f"{s} restart {{service}}",
                "logs": f"{s} logs {{service}} {{lines}}", "file_logs": "tail -n {lines} -F {file}",
                "reboot": f"{s} reboot node"}

    def node(self, name: str, server: Sshd, **kw) -> EdgeNode:
        return EdgeNode(name=name, host=server.address, port=server.port, user=self.user,
                        identity_file=str(self.client_key), **kw)

    def config(self, nodes: list[EdgeNode], **kw) -> EdgeConfig:
        kw.setdefault("connect_timeout", 10)
        kw.setdefault("command_timeout", 30)
        # this machine's own disk/memory use must not decide the tests' health assertions
        kw.setdefault("thresholds", {"disk_percent": 100, "memory_percent": 100})
        return EdgeConfig(known_hosts=str(self.known_hosts), ssh_config=str(self.ssh_config), nodes=nodes,
                          commands=self.commands(), **kw)

    def copy_client_key(self, folder: Path) -> Path:
        """The client key copied to `folder`/id_ed25519 (`folder` made, 0700); its mode is the test's."""
        folder.mkdir(mode=0o700)
        key = folder / "id_ed25519"
        shutil.copyfile(self.client_key, key)
        return key

    def write_one_node_config(self, path: Path, port: int, key: Path, known_hosts: Path, ssh_config: Path) -> None:
        """An envdeck.yaml (0600) of one edge environment "e": node n1 at 127.0.0.1:`port` as the test
        login with `key`, service "web", these known_hosts and ssh_config files, a 10 s connect timeout."""
        path.write_text(yaml.safe_dump({"environments": {"e": {"edge": {
            "known_hosts": str(known_hosts), "ssh_config": str(ssh_config), "connect_timeout": "10s",
            "commands": self.commands(),
            "nodes": [{"name": "n1", "host": "127.0.0.1", "port": port, "user": self.user,
                       "identity_file": str(key), "services": ["web"]}]}}}}, sort_keys=False))
        path.chmod(0o600)

    def activate(self, service: str) -> None:
        path = self.state / f"{service}.active"
        path.touch()
        chown(path, self.user)

    def is_active(self, service: str) -> bool:
        return (self.state / f"{service}.active").exists()

    def calls(self) -> list[str]:
        path = self.state / "calls"
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture(scope="session")
def ssh_login() -> str:
    if not sshd_available():
        pytest.skip(f"OpenSSH sshd is not installed (apt-get install openssh-server); looked for {Path('/usr/sbin/sshd')}")
    return ensure_test_user()


@pytest.fixture
def edge_lab(ssh_login: str):
    wd = Path(tempfile.mkdtemp(prefix="envdeck-edge-"))
    wd.chmod(0o755)  # the test login reads authorized_keys and runs the script from here
    client_key = keygen(wd / "client_ed25519", "envdeck-client")
    authorized = wd / "authorized_keys"
    authorized.write_text((wd / "client_ed25519.pub").read_text())
    authorized.chmod(0o644)
    state = wd / "state"
    state.mkdir()
    chown(state, ssh_login)
    script = wd / "svc.sh"
    script.write_text(SERVICE_SCRIPT.format(state=state))
    script.chmod(0o755)
    ssh_config = wd / "ssh_config"
    ssh_config.write_text("# empty: the nodes carry every option\n")
    lab = EdgeLab(wd, ssh_login, client_key, authorized, wd / "known_hosts", ssh_config, state, script)
    yield lab
    for server in lab.servers:
        server.stop()
    shutil.rmtree(wd, ignore_errors=True)
