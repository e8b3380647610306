"""Simulated edge nodes for `envdeck demo`: an in-process asyncssh server.

    sim = EdgeSimulator(nodes=["gw-01", "gw-02", "gw-03"], seed=0)
    await sim.start()
    config["environments"]["demo"]["edge"] = sim.edge_config_dict()
    ...
    await sim.close()

Each node listens on its own port of 127.0.0.1 with its own host key (derived
from the seed, so known_hosts and fingerprints are reproducible); the
simulator writes a known_hosts file, a client key and an empty ssh_config into
its work directory, so the demo connects with the same strict checking as a
real fleet. Commands never run on this machine: SimulatedNode answers them.
With `scenario="demo"` some nodes start with something to show: a stopped
service (drift to repair), a nearly full disk, a pending reboot, clock skew,
password authentication in sshd.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import asyncssh
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backends.sim.edge.simulated_node import LogFollow, SimulatedNode, lines_forever

USER = "envdeck"
COMMANDS = {
    "status": "svc-ctl status {service}",
    "start": "svc-ctl start {service}",
    "stop": "svc-ctl stop {service}",
    "restart": "svc-ctl restart {service}",
    "logs": "svc-log {service} {lines}",
    "file_logs": "file-log {lines} {file}",
    "reboot": "node-reboot",
}


def seeded_key(seed: int, label: str) -> asyncssh.SSHKey:
    """An Ed25519 key derived from (seed, label): reproducible fingerprints for the demo."""
    raw = hashlib.sha256(f"envdeck-sim:{seed}:{label}".encode()).digest()
    pem = Ed25519PrivateKey.from_private_bytes(raw).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
    return asyncssh.import_private_key(pem)


class EdgeSimulator:
    def __init__(self, nodes: Sequence[str] = ("gw-01", "gw-02", "gw-03"), *, seed: int = 0,
                 services: Sequence[str] = ("nginx", "mosquitto"), scenario: str = "demo",
                 log_interval_s: float = 0.5, workdir: str | Path | None = None,
                 clock: Callable[[], float] = time.time):
        if scenario not in ("demo", "clean"):
            raise ValueError("scenario is 'demo' or 'clean'")
        self.seed = seed
        self.log_interval_s = log_interval_s
        self.nodes: dict[str, SimulatedNode] = {
            name: SimulatedNode(name, seed, {s: True for s in services}, clock) for name in nodes}
        if scenario == "demo":
            _apply_demo_scenario(list(self.nodes.values()), list(services))
        self.host_keys = {name: seeded_key(seed, f"host:{name}") for name in nodes}
        self.client_key = seeded_key(seed, "client")
        self.ports: dict[str, int] = {}
        self.active_streams = 0
        self._own_dir = workdir is None
        self._workdir = Path(workdir) if workdir is not None else None
        self._servers: list[asyncssh.SSHAcceptor] = []

    @property
    def workdir(self) -> Path:
        """Where the known_hosts, client key and ssh_config live (a temporary directory by default)."""
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix="envdeck-sim-"))
        return self._workdir

    @property
    def known_hosts_path(self) -> Path:
        return self.workdir / "known_hosts"

    @property
    def client_key_path(self) -> Path:
        return self.workdir / "client_ed25519"

    @property
    def ssh_config_path(self) -> Path:
        return self.workdir / "ssh_config"

    async def start(self) -> EdgeSimulator:
        authorized = asyncssh.import_authorized_keys(
            self.client_key.export_public_key("openssh").decode())
        for name in self.nodes:
            server = await asyncssh.create_server(
                asyncssh.SSHServer, "127.0.0.1", 0, server_host_keys=[self.host_keys[name]],
                authorized_client_keys=authorized, process_factory=self._handler(name),
                allow_scp=False, agent_forwarding=False, x11_forwarding=False,
                encoding="utf-8", errors="replace")
            self._servers.append(server)
            self.ports[name] = server.sockets[0].getsockname()[1]
        self._write_files()
        return self

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        await asyncio.gather(*(s.wait_closed() for s in self._servers), return_exceptions=True)
        self._servers.clear()
        if self._own_dir and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    async def __aenter__(self) -> EdgeSimulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def node(self, name: str) -> SimulatedNode:
        return self.nodes[name]

    def edge_config_dict(self) -> dict[str, Any]:
        """The `edge:` block of a config that uses these nodes."""
        if not self.ports:
            raise RuntimeError("call start() first")
        return {
            "known_hosts": str(self.known_hosts_path),
            "ssh_config": str(self.ssh_config_path),
            "connect_timeout": "5s",
            "command_timeout": "10s",
            "commands": dict(COMMANDS),
            "nodes": [
                {"name": name, "host": "127.0.0.1", "port": self.ports[name], "user": USER,
                 "identity_file": str(self.client_key_path), "services": list(node.services),
                 "log_files": list(node.log_files)}
                for name, node in self.nodes.items()
            ],
        }

    # -- internals -----------------------------------------------------------
    def _write_files(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [f"[127.0.0.1]:{self.ports[name]} "
                 + " ".join(key.export_public_key("openssh").decode().split()[:2])
                 for name, key in self.host_keys.items()]
        self.known_hosts_path.write_text("\n".join(lines) + "\n")
        self.known_hosts_path.chmod(0o644)  # under a umask of 002 it would be group-writable: refused at run time
        self.client_key.write_private_key(str(self.client_key_path))
        self.client_key_path.chmod(0o600)
        self.ssh_config_path.write_text("# simulated nodes: every option is in the envdeck config\n")

    def _handler(self, name: str) -> Callable[[asyncssh.SSHServerProcess], Any]:
        async def handle(process: asyncssh.SSHServerProcess) -> None:
            node = self.nodes[name]
            if not process.command:
                await self._interactive(process, node)
                return
            reply = node.execute(process.command)
            if isinstance(reply, LogFollow):
                await self._stream(process, reply)
                return
            if reply.stdout:
                process.stdout.write(reply.stdout)
            if reply.stderr:
                process.stderr.write(reply.stderr)
            process.exit(reply.exit_code)

        return handle

    async def _interactive(self, process: asyncssh.SSHServerProcess, node: SimulatedNode) -> None:
        """A login on the node (`s` in the demo): a prompt that answers the simulated
        commands, one line at a time (asyncssh's line editor echoes and edits when the
        client asked for a terminal). Nothing runs on this machine; `exit` or ctrl+d ends it."""
        process.stdout.write(f"simulated node {node.name}: only simple commands are simulated "
                             "(uptime, df, free, cat /proc/loadavg, svc-ctl status NAME, ...); exit to leave\n")
        try:
            while not process.is_closing():
                process.stdout.write(f"{USER}@{node.name}:~$ ")
                try:
                    line = await process.stdin.readline()
                except (asyncssh.BreakReceived, asyncssh.TerminalSizeChanged):
                    process.stdout.write("\n")
                    continue
                if not line:  # ctrl+d
                    break
                command = line.strip()
                if command in ("exit", "logout"):
                    break
                reply = node.execute(command)
                if isinstance(reply, LogFollow):  # no following inside the shell: the backlog only
                    process.stdout.write("".join(line + "\n" for line in reply.backlog))
                    continue
                process.stdout.write(reply.stdout)
                process.stderr.write(reply.stderr)
        except (OSError, asyncssh.Error):
            return  # the client went away
        if not process.is_closing():
            process.exit(0)

    async def _stream(self, process: asyncssh.SSHServerProcess, follow: LogFollow) -> None:
        self.active_streams += 1
        closed = asyncio.ensure_future(process.wait_closed())
        try:
            for i, line in enumerate(lines_forever(follow)):
                if closed.done() or process.is_closing():
                    break
                process.stdout.write(line + "\n")
                await process.stdout.drain()
                if i >= len(follow.backlog) - 1:
                    await asyncio.wait({closed}, timeout=self.log_interval_s)
        except (OSError, asyncssh.Error):
            pass  # the client closed the channel: the "remote process" ends here
        finally:
            self.active_streams -= 1
            closed.cancel()
            if not process.is_closing():
                process.exit(0)


def _apply_demo_scenario(nodes: list[SimulatedNode], services: list[str]) -> None:
    """Something for each screen of the demo to show (applied to the nodes that exist)."""
    if len(nodes) > 1 and services:
        nodes[1].services[services[-1]] = False  # drift: a listed service is stopped
        nodes[1].password_auth = "yes"
    if len(nodes) > 2:
        nodes[2].disks["/var"] = 93.0  # Degraded, disk-full finding
        nodes[2].reboot_required = True
        nodes[2].clock_offset_s = 12.0
