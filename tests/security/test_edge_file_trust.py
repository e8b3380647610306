"""The files an edge section names (`known_hosts`, a node's `identity_file`, `ssh_config`) under
the same rule as the config file: `envdeck check` (a warning placed at PATH:LINE:COL; an error, exit 2, for what the edge backend refuses at run time: a key others can read, a known_hosts others can write) and
`envdeck doctor` (a WARN line, exit 1) report one that another user could change or replace —
owned by them, writable by others, a symlink on its path that is theirs, a directory above it
that is theirs or writable by others without the sticky bit — and a private key others can read.
`check` names only the files of the environments the user can see; a hidden environment's
missing key neither shows nor fails the check. What lies under a YAML alias is placed at its
anchor, never at 1:1.

The "other user" is a uid that is not ours (`nobody`): files given to it by root in a temp
directory, which is what another local user's files look like to envdeck."""

from __future__ import annotations

import json
import os
import pwd
import socket
from pathlib import Path

import pytest

from tests.helpers import envdeck_inproc
from tests.security.access_setup import OTHER
from tui.core.config_files import untrusted

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another uid needs root")


def _nobody() -> pwd.struct_passwd:
    return pwd.getpwnam("nobody")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node(name: str, identity: Path | str) -> dict:
    return {"name": name, "host": "127.0.0.1", "port": _closed_port(), "user": "nobody",
            "identity_file": str(identity), "services": ["web"]}


def _write(tmp_path: Path, environments: dict) -> Path:
    path = tmp_path / "envdeck.yaml"
    path.write_text(json.dumps({"environments": environments}, indent=2))  # JSON is YAML
    path.chmod(0o600)
    return path


def _line_of(path: Path, fragment: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if fragment in line)


def _key(folder: Path, name: str = "id_ed25519", mode: int = 0o600) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / name
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n-----END OPENSSH PRIVATE KEY-----\n")
    key.chmod(mode)
    return key


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("envdeck: warning: ")]


# --- 1. only the environments the user can see ---------------------------------------------------------

def test_check_names_no_file_of_an_environment_the_user_cannot_see(tmp_path):
    missing_key = tmp_path / "acme" / "acme-merger-key"
    missing_known = tmp_path / "acme" / "known_hosts"
    cfg = _write(tmp_path, {
        "dev": {"description": "Dev"},
        "topsecret-merger": {"access": {"admin": [OTHER]},
                             "edge": {"known_hosts": str(missing_known),
                                      "nodes": [_node("acme-db-01", missing_key)]}},
    })
    check = envdeck_inproc("check", "--config", str(cfg), "--state-dir", str(tmp_path / "state"))
    assert check.returncode == 0, (check.stdout, check.stderr)
    out = check.stdout + check.stderr
    for secret in ("topsecret", "acme-merger-key", "acme-db-01", str(missing_known)):
        assert secret not in out, out
    assert "1 more environment(s) defined where you have no role" in check.stdout


def test_check_still_fails_on_a_visible_environments_missing_key(tmp_path):
    """The filter hides only what the user cannot see: the same problem in a visible environment fails."""
    missing_key = tmp_path / "acme" / "acme-merger-key"
    cfg = _write(tmp_path, {
        "dev": {"description": "Dev"},
        "topsecret-merger": {"access": {"admin": [OTHER]}, "edge": {"nodes": [_node("acme-db-01", missing_key)]}},
        "shared": {"edge": {"nodes": [_node("shared-01", missing_key)]}},
    })
    check = envdeck_inproc("check", "--config", str(cfg), "--state-dir", str(tmp_path / "state"))
    assert check.returncode == 2, (check.stdout, check.stderr)
    assert "environments.shared.edge.nodes.0.identity_file: no such file" in check.stderr, check.stderr
    assert "topsecret" not in check.stderr and "acme-db-01" not in check.stderr, check.stderr


# --- 2. files another user could change ----------------------------------------------------------------

@needs_root
def test_known_hosts_and_identity_file_another_user_controls_are_reported(tmp_path):
    nobody = _nobody()
    root_key = _key(tmp_path / "root-keys")
    shared = tmp_path / "shared"  # like /tmp: world-writable and sticky
    shared.mkdir()
    shared.chmod(0o1777)
    known = shared / "known_hosts"
    known.write_text("")
    known.chmod(0o666)
    os.chown(known, nobody.pw_uid, nobody.pw_gid)
    theirs = tmp_path / "mallory"  # a directory the other user owns, holding a symlink of theirs
    theirs.mkdir()
    link = theirs / "key"
    link.symlink_to(root_key)
    os.lchown(link, nobody.pw_uid, nobody.pw_gid)
    os.chown(theirs, nobody.pw_uid, nobody.pw_gid)
    cfg = _write(tmp_path, {"prod": {"edge": {"known_hosts": str(known), "connect_timeout": "2s",
                                              "nodes": [_node("p1", link)]}}})

    check = envdeck_inproc("check", "--config", str(cfg), "--state-dir", str(tmp_path / "state"))
    # a known_hosts another user can write is refused at run time: an error (exit 2), no warning
    assert check.returncode == 2, (check.stdout, check.stderr)
    warnings = _warnings(check.stderr)
    errors = [line for line in check.stderr.splitlines() if line.startswith(f"{cfg}:")]
    kh_at = f"{cfg}:{_line_of(cfg, 'known_hosts')}:"
    key_at = f"{cfg}:{_line_of(cfg, 'identity_file')}:"
    assert any(e.startswith(kh_at) and "environments.prod.edge.known_hosts: known_hosts" in e and "refused" in e
               and f"{known}: is owned by another user (uid {nobody.pw_uid})" in e for e in errors), errors
    assert any(e.startswith(kh_at) and f"{known}: is world-writable" in e for e in errors), errors
    assert not any(f"{known}:" in w for w in warnings), warnings
    assert any(key_at in w and "environments.prod.edge.nodes.0.identity_file" in w
               and f"{link}: a symlink on its path is owned by another user" in w for w in warnings), warnings
    assert any(key_at in w and f"{theirs}: a directory on its path is owned by another user" in w
               for w in warnings), warnings
    assert not any(f"{shared}:" in w for w in warnings), "a sticky world-writable directory is not reported"
    assert not any(f"{root_key}:" in w for w in warnings), "root's key itself is safe"

    doctor = envdeck_inproc("doctor", "--config", str(cfg), "--state-dir", str(tmp_path / "state"))
    assert "Traceback" not in doctor.stderr
    assert doctor.returncode == 1
    lines = doctor.stdout.splitlines()
    assert any(ln.startswith("WARN") and "prod/edge: known_hosts" in ln
               and f"{known}: is owned by another user" in ln for ln in lines), doctor.stdout
    assert any(ln.startswith("WARN") and "prod/edge: node p1 identity_file" in ln
               and f"{link}: a symlink on its path is owned by another user" in ln for ln in lines), doctor.stdout


@needs_root
def test_a_configured_ssh_config_in_a_directory_of_another_user_is_reported(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    ssh_config = theirs / "ssh_config"
    ssh_config.write_text("Host *\n")
    ssh_config.chmod(0o644)
    os.chown(theirs, _nobody().pw_uid, _nobody().pw_gid)
    assert untrusted(ssh_config) == [
        f"{theirs}: a directory on its path is owned by another user (uid {_nobody().pw_uid}), "
        "who can replace the file: keep the file in a directory of your own"]
    cfg = _write(tmp_path, {"prod": {"edge": {"ssh_config": str(ssh_config),
                                              "nodes": [_node("p1", _key(tmp_path / "keys"))]}}})
    check = envdeck_inproc("check", "--config", str(cfg), "--state-dir", str(tmp_path / "state"))
    # refused (its ProxyCommand would run as you), as OpenSSH refuses a ~/.ssh/config of bad owner
    assert check.returncode == 2, check.stderr
    assert any("environments.prod.edge.ssh_config: ssh_config" in line and f"{theirs}: a directory" in line
               and "refused" in line and line not in _warnings(check.stderr)
               for line in check.stderr.splitlines()), check.stderr


def test_a_private_key_others_can_read_is_reported(tmp_path):
    """An error, not a warning: the edge backend refuses such a key at run time, as ssh does
    (tests/edge/test_untrusted_key_files.py)."""
    key = _key(tmp_path / "keys", mode=0o644)
    cfg = _write(tmp_path, {"prod": {"edge": {"nodes": [_node("p1", key)]}}})
    check = envdeck_inproc("check", "--config", str(cfg), "--state-dir", str(tmp_path / "state"))
    assert check.returncode == 2, check.stderr
    assert any(line.startswith(f"{cfg}:{_line_of(cfg, 'identity_file')}:")
               and "environments.prod.edge.nodes.0.identity_file" in line and "UNPROTECTED PRIVATE KEY FILE" in line
               and "mode 0644" in line and "refused" in line for line in check.stderr.splitlines()), check.stderr
    assert _warnings(check.stderr) == [], check.stderr


def test_a_group_writable_directory_without_sticky_bit_is_reported_with_it_not(tmp_path):
    team = tmp_path / "team"
    key = _key(team)
    os.chown(team, 0, 65534)  # a group of others: the owner's private group would be his alone
    team.chmod(0o770)
    assert untrusted(key, private=True) == [
        f"{team}: a directory on its path is group-writable without the sticky bit; others can replace the file: "
        f"chmod go-w {team} (or, for a shared directory, chmod +t {team})"]
    team.chmod(0o1770)
    assert untrusted(key, private=True) == []


def test_safe_files_are_not_reported(tmp_path):
    keys = tmp_path / "keys"
    key = _key(keys)
    keys.chmod(0o700)
    known = keys / "known_hosts"
    known.write_text("")
    known.chmod(0o644)
    link = keys / "link-to-key"
    link.symlink_to(key)  # a symlink of our own, to our own key
    cfg = _write(tmp_path, {"prod": {"edge": {"known_hosts": str(known), "nodes": [_node("p1", link)]}}})
    check = envdeck_inproc("check", "--config", str(cfg), "--state-dir", str(tmp_path / "state"))
    assert check.returncode == 0 and check.stderr == "", check.stderr
    assert untrusted(known) == [] and untrusted(link, private=True) == []


# --- 3. what lies under a YAML alias is placed -----------------------------------------------------------

ALIASED = """\
environments:
  a:
    edge: &edge
      nodes:
        - name: n1
          host: 127.0.0.1
          identity_file: {key}
  b:
    edge: *edge
  c: &base
    repair: sometimes
  d: *base
"""


def test_errors_under_an_alias_are_placed_at_the_anchor(tmp_path):
    cfg = tmp_path / "envdeck.yaml"
    cfg.write_text(ALIASED.format(key=tmp_path / "no-such-key"))
    cfg.chmod(0o600)
    check = envdeck_inproc("check", "--config", str(cfg), "--state-dir", str(tmp_path / "state"))
    assert check.returncode == 2, check.stderr
    repair_at = f"{cfg}:{_line_of(cfg, 'repair:')}:"
    assert any(line.startswith(f"{repair_at}") and "environments.d.repair" in line
               for line in check.stderr.splitlines()), check.stderr
    assert f"{cfg}:1:1:" not in check.stderr, check.stderr

    cfg.write_text(ALIASED.format(key=tmp_path / "no-such-key").replace("    repair: sometimes\n",
                                                                         "    description: C\n"))
    check = envdeck_inproc("check", "--config", str(cfg), "--state-dir", str(tmp_path / "state"))
    assert check.returncode == 2, check.stderr
    key_at = f"{cfg}:{_line_of(cfg, 'identity_file')}:"
    for env in "ab":
        assert any(key_at in line and f"environments.{env}.edge.nodes.0.identity_file: no such file" in line
                   for line in check.stderr.splitlines()), check.stderr
    assert f"{cfg}:1:1:" not in check.stderr, check.stderr


def test_a_symlink_loop_is_a_missing_key_not_a_traceback(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "loop")
    assert untrusted(loop, private=True) == []
    cfg = _write(tmp_path, {"prod": {"edge": {"known_hosts": str(loop), "nodes": [_node("p1", loop)]}}})
    check = envdeck_inproc("check", "--config", str(cfg), "--state-dir", str(tmp_path / "state"))
    assert check.returncode == 2 and "Traceback" not in check.stderr, check.stderr
    assert f"environments.prod.edge.nodes.0.identity_file: no such file '{loop}'" in check.stderr, check.stderr


MERGED = """\
environments:
  c: &base
    repair: {c_repair}
    description: C
  d:
    <<: *base
    repair: {d_repair}
  e:
    <<: [{{description: E, repair: {e_repair}}}, *base]
  f:
    <<: *base
"""


def _check_text(tmp_path, text: str):
    cfg = tmp_path / "envdeck.yaml"
    cfg.write_text(text)
    cfg.chmod(0o600)
    return cfg, envdeck_inproc("check", "--config", str(cfg), "--state-dir", str(tmp_path / "state"))


def test_merge_keys_are_placed_at_their_base_and_may_be_overridden(tmp_path):
    """`<<: *base` then a key of its own is YAML (the key written wins), not a duplicate key; a bad
    value that comes from the base is placed at the base, one written over it at its own place."""
    cfg, check = _check_text(tmp_path, MERGED.format(c_repair="auto", d_repair="observe", e_repair="propose"))
    assert check.returncode == 0, check.stderr
    cfg, check = _check_text(tmp_path, MERGED.format(c_repair="auto", d_repair="sometimes", e_repair="never"))
    assert check.returncode == 2, check.stderr
    lines = cfg.read_text().splitlines()
    assert f"{cfg}:7:5: environments.d.repair:" in check.stderr, check.stderr
    assert f"{cfg}:9:" in check.stderr and "environments.e.repair:" in check.stderr, check.stderr
    assert "duplicate key" not in check.stderr and f"{cfg}:1:1:" not in check.stderr, check.stderr
    assert lines[6].strip() == "repair: sometimes"
    cfg, check = _check_text(tmp_path, MERGED.format(c_repair="bogus", d_repair="observe", e_repair="auto"))
    assert check.returncode == 2, check.stderr
    assert f"{cfg}:3:5: environments.c.repair:" in check.stderr, check.stderr
    assert f"{cfg}:3:5: environments.f.repair:" in check.stderr, "what f takes from the base is placed there"
    assert "environments.d.repair" not in check.stderr, "d writes its own repair over the base's"
    assert "environments.e.repair" not in check.stderr, "e's first base names repair"
