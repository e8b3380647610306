"""What can be done to edge resources: service start/stop/restart, node reboot,
trusting an unknown host key (admin), and the interactive `ssh` command line.

The policy check and the audit row belong to the core (tui/core/session.py); these
methods just perform. Mixed into EdgeBackend.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from backends.edge.commands import render
from backends.edge.hostkeys import append_known_host, host_pattern
from backends.edge.link import CommandOutput
from backends.edge.loop_thread import LoopThread, on_own_loop
from backends.edge.shell_session import interactive_shell
from tui.core.config_files import run_time_refusal
from tui.core.errors import BackendDenied, BackendError, BackendUnreachable, InvalidRequest
from tui.core.model import ActionResult, ActionSpec, Resource, Role

if TYPE_CHECKING:
    from backends.edge.link import LinkSettings, NodeLink
    from tui.core.config import EdgeConfig, EdgeNode

SERVICE_ACTIONS = (
    ActionSpec("start", "Start service", Role.OPERATOR),
    ActionSpec("stop", "Stop service", Role.OPERATOR),
    ActionSpec("restart", "Restart service", Role.OPERATOR),
)
REBOOT = ActionSpec("reboot", "Reboot node", Role.ADMIN, destructive=True)
TRUST_HOST_KEY = ActionSpec("trust-host-key", "Trust the node's (unknown) host key", Role.ADMIN,
                            params=("fingerprint",), optional=("fingerprint",))
REBOOT_WAIT_S = 15.0


class EdgeActions:
    config: EdgeConfig
    links: dict[str, NodeLink]
    settings: LinkSettings
    remote: LoopThread  # the backend's loop (see backend.py): perform() runs there

    def parse_id(self, rid: str) -> tuple[str, EdgeNode, str | None]:  # provided by EdgeBackend
        raise NotImplementedError

    def action_specs(self, resource: Resource) -> list[ActionSpec]:
        if resource.kind == "service":
            return list(SERVICE_ACTIONS)
        if resource.kind == "node":
            specs = [REBOOT]
            if (resource.attributes.get("host_key") or {}).get("status") == "unknown":
                specs.append(TRUST_HOST_KEY)
            return specs
        return []

    @on_own_loop
    async def perform(self, resource: Resource, action: str, params: dict[str, str]) -> ActionResult:
        kind, node, service = self.parse_id(resource.id)
        if kind == "service" and service is not None and action in ("start", "stop", "restart"):
            return await self._service_command(node, service, action)
        if kind == "node" and action == "reboot":
            return await self._reboot(node)
        if kind == "node" and action == "trust-host-key":
            return await self._trust_host_key(node, params.get("fingerprint") or None)
        raise InvalidRequest(f"{resource.id} does not support {action!r}", backend="edge")

    async def _service_command(self, node: EdgeNode, service: str, action: str) -> ActionResult:
        command = render(getattr(self.config.commands_for(node), action), service=service)
        out = await self.links[node.name].run(command)
        return _result(f"{action} {node.name}:{service}", out)

    async def _reboot(self, node: EdgeNode) -> ActionResult:
        link = self.links[node.name]
        command = self.config.commands_for(node).reboot
        await link.connection()  # an unreachable node raises here, before anything is sent
        try:
            out = await link.run(command, timeout=min(REBOOT_WAIT_S, self.settings.command_timeout))
        except BackendUnreachable as exc:
            # the command was sent and the connection went away (or hung): the node is going down
            return ActionResult(True, f"reboot of {node.name} requested; the connection ended ({exc})")
        return _result(f"reboot {node.name}", out)

    async def _trust_host_key(self, node: EdgeNode, fingerprint: str | None) -> ActionResult:
        link = self.links[node.name]
        try:
            await link.connection()
        except BackendDenied:
            pass
        else:
            return ActionResult(True, f"the host key of {node.name} is already trusted; nothing changed")
        refusal = link.refusal
        if refusal is None:
            raise BackendDenied(link.error or f"node {node.name}: refused, but not for its host key",
                                backend="edge")
        if refusal.changed:
            raise BackendDenied("refusing to trust a CHANGED host key (only unknown hosts can be "
                                f"trusted this way): {refusal.message()}", backend="edge")
        presented = refusal.presented
        if fingerprint and fingerprint != presented.fingerprint:
            raise InvalidRequest(f"node {node.name} presents {presented.fingerprint}, not {fingerprint}; "
                                 "nothing was trusted", backend="edge")
        line = await append_known_host(self.settings.known_hosts, presented)
        link.refusal = None
        link.reset_backoff()
        message = (f"trusted {presented.algorithm} {presented.fingerprint} for "
                   f"{host_pattern(presented.host, presented.port)} in {self.settings.known_hosts}")
        try:
            await link.connection()
        except BackendError as exc:
            message += f"; connecting still fails: {exc}"
        return ActionResult(True, message, data={"fingerprint": presented.fingerprint, "line": line,
                                                 "known_hosts": str(self.settings.known_hosts)})

    def shell_command(self, resource: Resource) -> list[str] | None:
        """`ssh` with the options envdeck itself connects with (strict host keys)."""
        _, node, _ = self.parse_id(resource.id)
        argv = ["ssh"]
        if self.config.ssh_config:
            refusal = run_time_refusal(_expand(self.config.ssh_config), "ssh_config")
            if refusal:  # ssh -F does not check it (only ~/.ssh/config): its ProxyCommand would run as you
                raise BackendDenied(f"ssh_config {refusal}: refused, whoever can change it decides which commands "
                                    f"run as you (`envdeck check` shows the line)", backend="edge")
            argv += ["-F", _expand(self.config.ssh_config)]
        argv += ["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={self.settings.known_hosts}",
                 "-o", f"ConnectTimeout={max(1, round(float(self.config.connect_timeout)))}"]
        if node.port:
            argv += ["-p", str(node.port)]
        if node.identity_file:
            argv += ["-i", _expand(node.identity_file)]
        if node.user:
            argv += ["-l", node.user]
        return argv + ["--", node.host]

    async def interactive_shell(self, resource: Resource, *, stdin_fd: int = 0, stdout_fd: int = 1) -> int:
        """A login shell on the node over envdeck's own (verified) connection, wired to a
        terminal: the fallback when `shell_command()` cannot run (no system ssh). The
        terminal (raw mode, SIGWINCH) stays with the caller; the channel lives on the
        connection's loop."""
        _, node, _ = self.parse_id(resource.id)
        conn = await self.links[node.name].connection()
        return await interactive_shell(conn, stdin_fd=stdin_fd, stdout_fd=stdout_fd, remote=self.remote)


def _result(what: str, out: CommandOutput) -> ActionResult:
    data = {"exit_code": out.exit_code, "stdout": out.stdout, "stderr": out.stderr,
            "duration_s": round(out.duration_s, 3)}
    if out.exit_code == 0:
        return ActionResult(True, f"{what}: ok", data)
    detail = (out.stderr.strip() or out.stdout.strip()).splitlines()
    return ActionResult(False, f"{what}: exited {out.exit_code}" + (f": {detail[0]}" if detail else ""), data)


def _expand(path: str) -> str:
    return str(Path(path).expanduser())
