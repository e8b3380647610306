"""Strict host key checking against a real sshd: unknown and changed keys are
refused with the host and the fingerprint; no trust on first use; the admin
action trust-host-key adds an unknown key only, and only the key presented."""

from __future__ import annotations

import subprocess

import pytest

from backends.edge import EdgeBackend
from tests.edge.sshd import keygen
from tui.core.errors import BackendDenied, InvalidRequest
from tui.core.model import Health, Role


def fingerprint(pub_path) -> str:
    out = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(pub_path)], capture_output=True,
                         text=True, check=True).stdout
    return out.split()[1]


def host_fingerprint(server) -> str:
    return fingerprint(server.host_key.parent / (server.host_key.name + ".pub"))


async def test_unknown_key_is_refused_then_trusted_by_the_admin_action(edge_lab, defaults):
    trusted, stranger = edge_lab.start_sshd("a"), edge_lab.start_sshd("b")
    edge_lab.trust(trusted)
    before = edge_lab.known_hosts.read_text()
    cfg = edge_lab.config([edge_lab.node("a", trusted), edge_lab.node("b", stranger)])
    backend = EdgeBackend("test", cfg, defaults)
    try:
        res = {r.id: r for r in (await backend.observe()).resources}
        a, b = res["edge/node/a"], res["edge/node/b"]
        assert a.health == Health.HEALTHY
        assert (b.health, b.status) == (Health.UNKNOWN, "host key refused")
        fp = host_fingerprint(stranger)
        assert f"[127.0.0.1]:{stranger.port}" in b.health_reason and fp in b.health_reason
        assert "unknown host" in b.health_reason
        assert b.attributes["host_key"] == {"status": "unknown", "fingerprint": fp}
        assert edge_lab.known_hosts.read_text() == before  # no trust on first use

        spec = next(s for s in backend.actions(b) if s.name == "trust-host-key")
        assert spec.role == Role.ADMIN
        with pytest.raises(InvalidRequest):
            await backend.perform(b, "trust-host-key", {"fingerprint": "SHA256:not-the-one"})
        assert edge_lab.known_hosts.read_text() == before
        result = await backend.perform(b, "trust-host-key", {"fingerprint": fp})
        assert result.ok and result.data["fingerprint"] == fp
        assert f"[127.0.0.1]:{stranger.port} {stranger.public_host_key}" in edge_lab.known_hosts.read_text()
        res = {r.id: r for r in (await backend.observe()).resources}
        assert res["edge/node/b"].health == Health.HEALTHY
    finally:
        await backend.close()


async def test_changed_key_is_refused_and_cannot_be_trusted_by_the_action(edge_lab, defaults):
    server = edge_lab.start_sshd()
    impostor = keygen(edge_lab.workdir / "old_host_key", "old")
    old_pub = (edge_lab.workdir / "old_host_key.pub").read_text().split()[:2]
    edge_lab.known_hosts.write_text(f"[127.0.0.1]:{server.port} {' '.join(old_pub)}\n")
    before = edge_lab.known_hosts.read_text()
    backend = EdgeBackend("test", edge_lab.config([edge_lab.node("n1", server)]), defaults)
    try:
        with pytest.raises(BackendDenied) as refused:
            await backend.observe()  # the only node refused: the whole backend is refused
        text = str(refused.value)
        assert "HOST KEY CHANGED" in text and f"[127.0.0.1]:{server.port}" in text
        assert host_fingerprint(server) in text
        assert fingerprint(impostor.parent / "old_host_key.pub") in text
        node = backend.resource_for("edge/node/n1")
        assert node.attributes["host_key"]["status"] == "changed"
        assert "trust-host-key" not in [s.name for s in backend.actions(node)]
        with pytest.raises(BackendDenied, match="CHANGED"):
            await backend.perform(node, "trust-host-key", {})
        assert edge_lab.known_hosts.read_text() == before
    finally:
        await backend.close()


async def test_the_system_ssh_command_line_refuses_an_unknown_key_too(edge_lab, defaults):
    server = edge_lab.start_sshd()
    backend = EdgeBackend("test", edge_lab.config([edge_lab.node("n1", server)]), defaults)
    argv = backend.shell_command(backend.resource_for("edge/node/n1"))
    run = subprocess.run([*argv, "true"], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert run.returncode != 0
    assert "host key" in run.stderr.lower()
    assert not edge_lab.known_hosts.exists() or edge_lab.known_hosts.read_text() == ""


async def test_default_known_hosts_is_the_users_openssh_file(edge_lab, defaults, isolated_home):
    server = edge_lab.start_sshd()
    cfg = edge_lab.config([edge_lab.node("n1", server)]).model_copy(update={"known_hosts": None})
    backend = EdgeBackend("test", cfg, defaults)
    try:
        with pytest.raises(BackendDenied, match="unknown host"):
            await backend.check()
        user_file = isolated_home / ".ssh" / "known_hosts"
        user_file.parent.mkdir(mode=0o700)
        user_file.write_text(server.known_hosts_line())
        assert await backend.check() == "1/1 nodes reachable"
        argv = backend.shell_command(backend.resource_for("edge/node/n1"))
        assert f"UserKnownHostsFile={user_file}" in argv
    finally:
        await backend.close()
