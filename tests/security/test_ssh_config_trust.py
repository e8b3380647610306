"""An edge section's `ssh_config` another user can change decides which commands run as you (its
ProxyCommand, LocalCommand, KnownHostsCommand): like OpenSSH with a ~/.ssh/config of bad owner or
permissions, envdeck refuses it, and every file it Includes (glob expanded, relative ones from
~/.ssh, a directory where another user could add a match): `check` exit 2 placed, `run` exit 2,
each node's link before it connects, the TUI's `s` shell (`ssh -F`, which checks no -F file). A
known_hosts that did not exist when a long-running process first looked is checked when it
appears (a missing file is never a kept "trusted").

Real sshd behind a counting relay (tests/edge fixtures): a refusal contacts no node; a trusted
ssh_config's ProxyCommand does run (the control that makes the refusals mean something). The other
user is a uid not ours (`nobody`): files given to it by root."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.helpers import envdeck_inproc as envdeck
from tests.tcp_relay import CountingRelay

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another uid needs root")
NOBODY = pwd.getpwnam("nobody")


def _theirs(path: Path) -> Path:
    os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    return path


def _line_of(path: Path, fragment: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if fragment in line)


def test_an_ssh_config_or_an_include_another_user_controls_is_refused(edge_lab, tmp_path):
    server = edge_lab.start_sshd()
    relay = CountingRelay(server.port)
    key = edge_lab.copy_client_key(tmp_path / "keys")
    key.chmod(0o600)
    shared = Path(tempfile.mkdtemp(prefix="envdeck-kh-", dir="/tmp"))  # as /tmp: anyone may add a name
    shared.chmod(0o1777)
    hers = tmp_path / "m"
    hers.mkdir(mode=0o755)
    _theirs(hers)
    ssh_config = tmp_path / "ssh_config"
    known = shared / "envdeck-edge-kh"  # does not exist yet
    cfg = tmp_path / "envdeck.yaml"
    edge_lab.write_one_node_config(cfg, relay.port, key, known, ssh_config)
    state = str(tmp_path / "state")
    at = f"{cfg}:{_line_of(cfg, 'ssh_config')}:"
    marker = tmp_path / "pwned"
    proxy = f'Host 127.0.0.1\n  ProxyCommand sh -c "id > {marker}"\n'

    def run():  # in this process: kept answers must follow the files
        return envdeck("run", "e", "--yes", "--config", str(cfg), "--state-dir", state, "--", "echo", "ran-here")

    try:
        # 1. a known_hosts missing at the first look, then written by another user: refused then
        ssh_config.write_text("# nothing\n")
        ssh_config.chmod(0o644)
        check = envdeck("check", "--config", str(cfg), "--state-dir", state)  # anyone may create it in a 1777 dir
        assert check.returncode == 2 and f"{shared}: it would appear in a world-writable directory" in check.stderr, \
            check.stderr
        assert run().returncode != 0  # no known_hosts: the host key is unknown
        contacted = relay.accepted
        known.write_text(f"[127.0.0.1]:{relay.port} {server.public_host_key}\n")
        known.chmod(0o644)
        _theirs(known)
        proc = run()
        assert proc.returncode == 2 and "ran-here" not in proc.stdout, (proc.stdout, proc.stderr)
        assert f"{known}: is owned by another user (uid {NOBODY.pw_uid})" in proc.stderr, proc.stderr
        assert relay.accepted == contacted, "a refused known_hosts: no node is contacted"
        os.chown(known, 0, 0)  # now root's own: trusted, the command runs
        proc = run()
        assert proc.returncode == 0 and "ran-here" in proc.stdout, (proc.stdout, proc.stderr)
        contacted = relay.accepted

        # 2. the control: a trusted ssh_config's ProxyCommand runs as you
        ssh_config.write_text(proxy)
        assert run().returncode != 0
        assert marker.exists(), "a trusted ssh_config's ProxyCommand runs: the refusals below are real"
        marker.unlink()

        # 3. an ssh_config another user owns: refused by check, run, and the shell command
        _theirs(ssh_config)
        check = envdeck("check", "--config", str(cfg), "--state-dir", state)
        assert check.returncode == 2, (check.stdout, check.stderr)
        assert any(line.startswith(at) and "environments.e.edge.ssh_config: ssh_config" in line
                   and f"{ssh_config}: is owned by another user (uid {NOBODY.pw_uid})" in line
                   for line in check.stderr.splitlines()), check.stderr
        proc = run()
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, (proc.stdout, proc.stderr)
        assert f"{ssh_config}: is owned by another user" in proc.stderr, proc.stderr
        assert not marker.exists(), "her ProxyCommand never runs"
        doctor = envdeck("doctor", "--config", str(cfg), "--state-dir", state)
        assert any(line.startswith("FAIL") and "ssh_config" in line and f"{ssh_config}: is owned by another user"
                   in line for line in doctor.stdout.splitlines()), doctor.stdout
        assert not marker.exists()

        # 4. yours, 0644, but including files from a directory she owns (none there yet, then hers)
        os.chown(ssh_config, 0, 0)
        (hers / "inc").mkdir()
        _theirs(hers / "inc")
        ssh_config.write_text(f"Host other\n  Include {hers}/inc/*.conf\n")
        check = envdeck("check", "--config", str(cfg), "--state-dir", state)
        assert check.returncode == 2, (check.stdout, check.stderr)
        assert f"{ssh_config}:2: Include {hers}/inc/*.conf: {hers}/inc: a file it matches would appear in a " \
               f"directory owned by another user (uid {NOBODY.pw_uid})" in check.stderr, check.stderr
        (hers / "inc" / "a.conf").write_text(proxy)
        proc = run()
        assert proc.returncode == 2, (proc.stdout, proc.stderr)
        assert not marker.exists(), "her included ProxyCommand never runs"

        # 5. a relative Include (from ~/.ssh, as ssh does) of a file of hers: the link's own refusal
        # (the agent, the TUI) and the TUI's `s` shell (ssh -F checks no -F file itself)
        from types import SimpleNamespace

        from backends.edge.actions import EdgeActions
        from backends.edge.link import LinkSettings, NodeLink
        from tui.core.config import EdgeConfig, EdgeNode
        from tui.core.errors import BackendDenied

        node = EdgeNode(name="n1", host="127.0.0.1", port=relay.port, user=edge_lab.user, identity_file=str(key))

        class Shell(EdgeActions):
            def __init__(self) -> None:
                self.config = EdgeConfig(ssh_config=str(ssh_config), nodes=[node])

            def parse_id(self, rid):
                return "node", node, None

        home_ssh = Path(os.path.expanduser("~/.ssh"))
        home_ssh.mkdir(mode=0o700, exist_ok=True)
        included = home_ssh / f"envdeck-test-{os.getpid()}.conf"
        included.write_text(proxy)
        _theirs(included)
        try:
            ssh_config.write_text(f"Include {included.name}\n")
            link = NodeLink(node, LinkSettings((known,), str(ssh_config), 10, 30, 15, 30))
            refused = link._refused_files()
            assert f"{ssh_config}:1: Include {included.name}: {included}: is owned by another user" in refused, refused
            with pytest.raises(BackendDenied) as shell:
                Shell().shell_command(SimpleNamespace(id="n1"))
            assert f"{included}: is owned by another user" in str(shell.value)
        finally:
            included.unlink()
        ssh_config.write_text("# nothing\n")  # fixed: counts at once
        proc = run()
        assert proc.returncode == 0 and "ran-here" in proc.stdout, (proc.stdout, proc.stderr)
        assert relay.accepted == contacted + 1
    finally:
        shutil.rmtree(shared, ignore_errors=True)
