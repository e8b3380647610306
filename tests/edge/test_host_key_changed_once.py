"""`HOST KEY CHANGED` names each key known_hosts holds for the host once: a real sshd presents a
new key while known_hosts has an old one (on a line of its own and again on a line that lists
two host patterns, both of which match) and a second old one; the message lists the two old
fingerprints, each once, and the presented one."""

from __future__ import annotations

import pytest

from backends.edge import EdgeBackend
from tests.edge.sshd import keygen
from tests.edge.test_sshd_hostkeys import fingerprint, host_fingerprint
from tui.core.errors import BackendDenied


async def test_changed_key_message_lists_each_known_key_once(edge_lab, defaults):
    server = edge_lab.start_sshd()
    olds = []
    for name in ("old_a", "old_b"):
        keygen(edge_lab.workdir / name, name)
        olds.append((edge_lab.workdir / f"{name}.pub").read_text().split()[:2])
    where = f"[127.0.0.1]:{server.port}"
    edge_lab.known_hosts.write_text(f"{where} {' '.join(olds[0])}\n"
                                    f"{where} {' '.join(olds[0])}\n"
                                    f"{where},127.0.0.1 {' '.join(olds[0])}\n"
                                    f"{where} {' '.join(olds[1])}\n")
    backend = EdgeBackend("test", edge_lab.config([edge_lab.node("n1", server)]), defaults)
    try:
        with pytest.raises(BackendDenied) as refused:
            await backend.observe()
    finally:
        await backend.close()
    text = str(refused.value)
    assert "HOST KEY CHANGED" in text, text
    old_a, old_b = (fingerprint(edge_lab.workdir / f"{name}.pub") for name in ("old_a", "old_b"))
    assert text.count(old_a) == 1 and text.count(old_b) == 1, text
    assert f"has {old_a}, {old_b}." in text, text
    assert text.count(host_fingerprint(server)) == 1, text
