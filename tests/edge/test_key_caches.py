"""known_hosts and identity files are parsed once and read again when they change
(backends/edge/hostkeys.known_hosts_arg, backends/edge/link.identity_keys)."""

from __future__ import annotations

import os
import subprocess

import asyncssh
import pytest

from backends.edge.hostkeys import known_hosts_arg
from backends.edge.link import identity_keys


def keygen(path, passphrase: str = "") -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "t", "-f", str(path)],
                   check=True, capture_output=True)
    return " ".join((path.parent / f"{path.name}.pub").read_text().split()[:2])


@pytest.fixture
def keys(tmp_path):
    if subprocess.run(["which", "ssh-keygen"], capture_output=True).returncode:
        pytest.skip("ssh-keygen is not installed")
    return [keygen(tmp_path / "k1"), keygen(tmp_path / "k2")]


def trusted(known, host: str, port: int) -> list[str]:
    return [k.export_public_key("openssh").decode().strip() for k in
            asyncssh.match_known_hosts(known, host, "127.0.0.1", port)[0]]


def test_known_hosts_parsed_once_and_again_after_a_change(tmp_path, keys):
    path = tmp_path / "known_hosts"
    path.write_text(f"[n1]:2201 {keys[0]}\n")
    first = known_hosts_arg((path,))
    assert known_hosts_arg((path,)) is first  # unchanged file: the parsed object is reused
    assert trusted(first, "n1", 2201) == [keys[0]] and trusted(first, "n2", 2202) == []
    with path.open("a") as fh:  # what trust-host-key does
        fh.write(f"[n2]:2202 {keys[1]}\n")
    second = known_hosts_arg((path,))
    assert second is not first and trusted(second, "n2", 2202) == [keys[1]]
    path.write_text(f"[n1]:2201 {keys[1]}\n")  # replaced (e.g. ssh-keygen -R and a new key)
    os.utime(path, ns=(1, 1))
    assert trusted(known_hosts_arg((path,)), "n1", 2201) == [keys[1]]
    assert known_hosts_arg((tmp_path / "missing",)) == b""  # no file: every host unknown, checking stays on


def test_identity_loaded_once_and_again_after_a_change(tmp_path, keys):
    path = str(tmp_path / "k1")
    first = identity_keys(path)
    assert identity_keys(path) is first
    assert first[0].public_data == asyncssh.import_public_key(keys[0]).public_data
    for name in ("k1", "k1.pub"):
        (tmp_path / name).unlink()
    new_public = keygen(tmp_path / "k1")
    again = identity_keys(path)
    assert again is not first and again[0].public_data == asyncssh.import_public_key(new_public).public_data
    # what cannot be loaded here goes to asyncssh by name, which reports it as before
    assert identity_keys(str(tmp_path / "missing")) == [str(tmp_path / "missing")]
    keygen(tmp_path / "locked", passphrase="secret-pass")
    assert identity_keys(str(tmp_path / "locked")) == [str(tmp_path / "locked")]
