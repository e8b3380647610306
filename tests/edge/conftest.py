"""Fixtures of the edge tests: a real OpenSSH sshd on 127.0.0.1 with a test login,
and "services" that are small shell scripts keeping their state in files (there
is no systemd here: the command templates are what make that work)."""

from __future__ import annotations

import gc
import json
import logging
import os
import pwd
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from backends.registry import create_backends
from tests.edge.netns import create_hosts, netns_unavailable_reason, remove_hosts, start_sshd_in
from tests.edge.sshd import Sshd, ensure_test_user, keygen, sshd_available
from tests.edge.waiting import HOUR
from tui.core.config import Defaults, EdgeConfig, EdgeNode, parse_config
from tui.core.policy import Policy
from tui.core.reconciler import Reconciler
from tui.core.store import Store

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


def _chown(path: Path, user: str) -> None:
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

    def activate(self, service: str) -> None:
        path = self.state / f"{service}.active"
        path.touch()
        _chown(path, self.user)

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
    _chown(state, ssh_login)
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


@pytest.fixture
def defaults() -> Defaults:
    return Defaults(max_backoff=4)


@pytest.fixture
def spaced(edge_lab):
    """Three nodes, each an sshd in a network namespace of its own: (hosts, nodes)."""
    reason = netns_unavailable_reason()
    if reason:
        pytest.skip(f"a black-holed node needs network namespaces of our own: {reason}")
    hosts = create_hosts(3)
    try:
        servers = [start_sshd_in(h, edge_lab) for h in hosts]
        for server in servers:
            edge_lab.trust(server)
        edge_lab.activate("web")
        yield hosts, [edge_lab.node(f"n{i}", s, services=["web"]) for i, s in enumerate(servers)]
    finally:
        for h in hosts:
            h.unblock()
        for server in edge_lab.servers:
            server.stop()
        remove_hosts(hosts)


@pytest.fixture
def asyncio_errors(caplog):
    """What asyncio logged at ERROR ("Task was destroyed but it is pending",
    "Task exception was never retrieved"), read after a garbage collection."""
    caplog.set_level(logging.WARNING, logger="asyncio")

    def read() -> list[str]:
        gc.collect()
        return [r.getMessage() for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.ERROR]

    return read


@pytest.fixture
async def reconciling(tmp_path, edge_lab):
    """start(nodes, **edge_settings) -> (reconciler, EdgeBackend from the registry, request_pass
    calls). Defaults: HOUR (no scheduled pass during a test, max_backoff 4 s)."""
    made: list[tuple[Reconciler, Store]] = []

    async def start(nodes, **edge_settings):
        edge = edge_lab.config(nodes, **edge_settings).model_dump(mode="json", exclude_none=True)
        cfg = parse_config(json.dumps({"defaults": HOUR, "environments": {"dev": {"edge": edge}}}))
        store = await Store.open(tmp_path / "state")
        rec = Reconciler(cfg, store, Policy(cfg, edge_lab.user), backends_factory=create_backends)
        made.append((rec, store))
        backend = rec.backends["dev"]["edge"]
        calls: list[float] = []
        wake = backend.request_pass
        assert wake is not None  # set by the reconciler

        def counted() -> None:  # the reconciler's own hook, counted
            calls.append(time.monotonic())
            wake()

        backend.request_pass = counted
        await rec.start()
        return rec, backend, calls

    yield start
    for rec, store in made:
        await rec.stop()
        await store.close()
