"""A kubeconfig this user may not read is said as such ("cannot read kubeconfig PATH: permission
denied"), not as the loader's "Invalid kube-config file. No configuration found." (which it says
when the file is in a directory the user may not enter: it skips a path it cannot stat). Real
`envdeck` processes run without the capabilities that let root read anything (setpriv), on a
file with mode 000 and on one inside a directory with mode 000."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import envdeck_env, repo_root

KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n"
SETPRIV = shutil.which("setpriv")
pytestmark = pytest.mark.skipif(SETPRIV is None, reason="needs setpriv (util-linux)")


def _unprivileged(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`envdeck ARGS` as this user, but unable to read past file permissions (as any non-root user)."""
    assert SETPRIV is not None
    return subprocess.run([SETPRIV, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search",
                           sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, timeout=120,
                          cwd=repo_root(), env=envdeck_env(PYTHONPATH=str(repo_root()), **env),
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def unreadable(tmp_path):
    sealed = tmp_path / "sealed"
    sealed.mkdir()
    (sealed / "config").write_text(KUBECONFIG)
    locked = tmp_path / "locked"
    locked.write_text(KUBECONFIG)
    sealed.chmod(0)
    locked.chmod(0)
    yield [sealed / "config", locked]
    sealed.chmod(0o700)


def _config(tmp_path: Path, kubeconfig: Path) -> str:
    cfg = tmp_path / f"envdeck-{kubeconfig.parent.name}-{kubeconfig.name}.yaml"
    cfg.write_text(f"environments:\n  k:\n    kubernetes:\n      kubeconfig: {kubeconfig}\n      namespace: web\n")
    cfg.chmod(0o600)
    return str(cfg)


def test_status_says_the_kubeconfig_cannot_be_read(tmp_path, unreadable):
    for kubeconfig in unreadable:
        proc = _unprivileged("status", "--config", _config(tmp_path, kubeconfig), "--state-dir", str(tmp_path / "state"))
        assert proc.returncode == 1, (proc.stdout, proc.stderr)
        assert f"cannot read kubeconfig {kubeconfig}: permission denied" in proc.stdout, proc.stdout
        fix = "a directory on its path cannot be entered" if kubeconfig.name == "config" else \
            f'sudo chown "$USER" {kubeconfig}'
        assert fix in proc.stdout, proc.stdout  # how to fix it
        assert "No configuration found" not in proc.stdout and "Traceback" not in proc.stderr, (proc.stdout,
                                                                                                 proc.stderr)


def test_doctor_says_the_kubeconfig_cannot_be_read(tmp_path, unreadable):
    sealed = unreadable[0]
    proc = _unprivileged("doctor", "--config", str(tmp_path / "none.yaml"), "--state-dir", str(tmp_path / "state"),
                         KUBECONFIG=str(sealed), HOME=str(tmp_path))
    lines = [line for line in proc.stdout.splitlines() if "kubeconfig" in line]
    assert lines == [f"WARN  kubernetes: cannot read kubeconfig {sealed}: permission denied"], (proc.stdout,
                                                                                                proc.stderr)
    assert "Errno" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
