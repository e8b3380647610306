"""A kubeconfig's trust, where another local user can act between two looks of a long-running
envdeck: a kubeconfig that does not exist yet is checked when it appears (a missing file is never a
kept "trusted"), and `check` says it is missing and refuses a directory where another user could
be the one to create it; a kubeconfig reached through a symlink is judged as the loader runs it
(its plugin's relative path from the link's directory) and a link in a directory of hers is
refused; an exec plugin named without a `/` is checked where $PATH finds it, with each directory
searched before it.

Real Kubernetes API emulator (one per module); the other user is a uid not ours (`nobody`):
files given to it by root."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from backends.sim.k8s_emulator import EmulatorThread
from tests.helpers import envdeck_inproc
from tests.k8s_emulator_server import running_emulator
from tests.security.shared_dirs import write
from tests.security.test_kube_file_trust import TOKEN, _at, _config, _kubeconfig, _plugin

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another uid needs root")
NOBODY = pwd.getpwnam("nobody")


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    with running_emulator(TOKEN, "staging") as thread:
        yield thread


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory as /tmp is: root's, 1777 (anyone may create a name in it)."""
    folder = Path(tempfile.mkdtemp(prefix="envdeck-late-", dir="/tmp"))
    folder.chmod(0o1777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _theirs(path: Path) -> Path:
    os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    return path


def test_a_kubeconfig_that_appears_later_is_checked_then(emulator, tmp_path, shared_tmp):
    """The report: `kubernetes: {kubeconfig: /tmp/kind-staging.yaml}` missing while the TUI runs;
    another user writes it with her exec plugin; at the next retry it is refused, her plugin never
    runs. `check` said beforehand: missing (a warning) in a directory where anyone can create it
    (an error); a missing one in a directory of yours is only the warning."""
    from backends.kubernetes import KubernetesBackend
    from tui.core.config import Defaults, KubernetesConfig
    from tui.core.errors import BackendUnreachable

    kubeconfig = shared_tmp / "kind-staging.yaml"
    private = tmp_path / "kube" / "config"
    private.parent.mkdir(mode=0o700)
    cfg = _config(tmp_path, kubeconfig)
    check = envdeck_inproc("check", "--config", str(cfg))
    assert check.returncode == 2, (check.stdout, check.stderr)
    at = _at(cfg, str(kubeconfig))
    lines = [line for line in check.stderr.splitlines() if at in line]
    assert any(f"kubeconfig {kubeconfig} does not exist yet; it will be checked when it appears" in line
               for line in lines), check.stderr
    assert any(f"{shared_tmp}: it would appear in a world-writable directory" in line and "refused" in line
               for line in lines), check.stderr
    safe = _config(tmp_path, private)
    check = envdeck_inproc("check", "--config", str(safe))
    assert check.returncode == 0, (check.stdout, check.stderr)
    assert f"kubeconfig {private} does not exist yet" in check.stderr, check.stderr

    marker = tmp_path / "her-plugin-ran"

    async def across_its_appearance() -> None:
        backend = KubernetesBackend("kx", KubernetesConfig(kubeconfig=str(kubeconfig), namespace="staging"),
                                    Defaults())
        try:
            with pytest.raises(BackendUnreachable):  # not there: the footer's `k8s ✗ retry`
                await backend.observe()
            write(kubeconfig, _kubeconfig(emulator, _plugin(tmp_path / "hers", marker)), 0o644)
            _theirs(kubeconfig)
            seen = len(emulator.emu.request_log)
            with pytest.raises(BackendUnreachable) as refused:  # the retry
                await backend.observe()
            assert f"{kubeconfig}: is owned by another user (uid {NOBODY.pw_uid})" in str(refused.value)
            assert not marker.exists(), "her plugin never runs"
            assert len(emulator.emu.request_log) == seen, "refused before any request"
            os.chown(kubeconfig, 0, 0)
            kubeconfig.chmod(0o600)
            await backend.observe()  # yours now: used, its plugin runs (the control)
            assert marker.exists()
        finally:
            await backend.close()

    asyncio.run(across_its_appearance())


def test_a_symlinked_kubeconfig_is_judged_where_the_loader_runs_its_plugin(emulator, tmp_path):
    """The tester's setup: kv/kc.yaml a root symlink to kt/kc.yaml (root, 0600) whose plugin is
    `./bin/get-token`; the loader runs it from kv/ (the path as given), where bin/ is hers. In a
    directory of hers the link itself is refused (she can replace it); in one of root's, her
    bin/get-token is."""
    from tui.core.config_files import refused_phrases

    top = tmp_path / "mallory"
    for folder in (top / "kt" / "bin", top / "kv" / "bin"):
        folder.mkdir(parents=True)
    hers_marker, roots_marker = tmp_path / "hers-ran", tmp_path / "roots-ran"
    target = write(top / "kt" / "kc.yaml", _kubeconfig(emulator, Path("./bin/get-token")))
    write(top / "kt" / "bin" / "get-token", f"#!/bin/sh\ntouch {roots_marker}\n", 0o755)
    _theirs(write(top / "kv" / "bin" / "get-token", f"#!/bin/sh\ntouch {hers_marker}\n", 0o755))
    _theirs(top / "kv" / "bin")
    link = top / "kv" / "kc.yaml"
    link.symlink_to(target)
    _theirs(top / "kv")
    cfg = _config(tmp_path, link)
    check = envdeck_inproc("check", "--config", str(cfg))
    assert check.returncode == 2 and f"{top / 'kv'}: a directory on its path is owned by another user" \
        in check.stderr, check.stderr
    status = envdeck_inproc("status", "--config", str(cfg), "--state-dir", str(tmp_path / "state"), "--summary")
    assert status.returncode == 2, (status.stdout, status.stderr)
    assert not hers_marker.exists() and not roots_marker.exists()
    os.chown(top / "kv", 0, 0)  # the link's directory root's: her bin/ beside it is what would run
    phrases = refused_phrases(str(link), "kubeconfig")
    assert any(f"names the exec credential plugin {top / 'kv' / 'bin' / 'get-token'}: is owned by another user"
               in phrase for phrase in phrases), phrases
    status = envdeck_inproc("status", "--config", str(cfg), "--state-dir", str(tmp_path / "state"), "--summary")
    assert status.returncode == 2 and not hers_marker.exists(), (status.stdout, status.stderr)


def test_a_bare_plugin_name_is_checked_where_path_finds_it(emulator, tmp_path):
    """`command: get-token` (no slash): the file $PATH finds is checked, and each directory searched
    before it where another user could put one of that name; with those gone it runs (control)."""
    mine = tmp_path / "bin"
    marker = tmp_path / "plugin-ran"
    plugin = _plugin(mine, marker)
    hers = tmp_path / "hers-bin"
    hers.mkdir(mode=0o755)
    _theirs(hers)
    kubeconfig = write(tmp_path / "kube" / "config", _kubeconfig(emulator, Path(plugin.name)))
    cfg = _config(tmp_path, kubeconfig)
    state = str(tmp_path / "state")
    base = os.environ.get("PATH", "")
    status = envdeck_inproc("status", "--config", str(cfg), "--state-dir", state, "--summary",
                            PATH=f"{hers}:{mine}:{base}")
    assert status.returncode == 2, (status.stdout, status.stderr)
    assert f"names the exec credential plugin {plugin.name}, which $PATH finds at {plugin}, but it searches {hers} " \
           f"first: {hers}: a program named {plugin.name} would appear in a directory owned by another user" \
           in status.stderr, status.stderr
    assert f"(command: {plugin})" in status.stderr and status.stderr.count("$PATH") == 2, status.stderr
    assert not marker.exists()
    plugin.chmod(0o777)  # the one found: anyone could change it
    status = envdeck_inproc("status", "--config", str(cfg), "--state-dir", state, "--summary", PATH=f"{mine}:{base}")
    assert status.returncode == 2 and f"{plugin}: is world-writable" in status.stderr, status.stderr
    assert not marker.exists()
    plugin.chmod(0o755)
    status = envdeck_inproc("status", "--config", str(cfg), "--state-dir", state, "--summary", PATH=f"{mine}:{base}")
    assert status.returncode == 0, (status.stdout, status.stderr)
    assert marker.exists(), "found in a PATH of yours, checked: it runs"
