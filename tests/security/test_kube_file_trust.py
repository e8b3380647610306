"""A kubeconfig or a template's manifest another local user can change decides what runs as you:
the kubeconfig's exec credential plugin is a program envdeck starts, a manifest is what
`env create` applies. Like OpenSSH with a ~/.ssh/config of bad owner or permissions, envdeck
refuses such a file at run time (tui/core/config_files.py): `check` fails (exit 2) with the
place in the config, `status` exits 2 naming the file and its place before the plugin ever runs,
`doctor` shows a FAIL line, `env create` refuses the template before any step. An
`aws.identity_file` others could change or read is a placed warning of `check`.

Real Kubernetes API emulator (one per module); the other user is `envdeck-peer`
(tests/other_user.py) writing into a group-shared directory with runuser, as in the report."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from backends.sim.k8s_emulator import Emulator, EmulatorThread
from tests.helpers import envdeck_inproc
from tests.other_user import PYTHON, needs_other_user, other_user

TOKEN = "kube-trust-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    thread = EmulatorThread(Emulator(token=TOKEN))
    thread.start()
    thread.emu.add_namespace("staging")
    try:
        yield thread
    finally:
        thread.stop()


def _plugin(folder: Path, marker: Path) -> Path:
    """An exec credential plugin that leaves `marker` behind and hands the emulator's token."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "plugin.sh"
    credential = {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                  "status": {"token": TOKEN}}
    script.write_text(f"#!/bin/sh\ntouch {marker}\necho '{json.dumps(credential)}'\n")
    script.chmod(0o755)
    return script


def _kubeconfig(emulator: EmulatorThread, command: Path) -> str:
    data = emulator.emu.kubeconfig("staging", "emulator")
    data["users"] = [{"name": "emulator-user", "user": {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": str(command),
        "interactiveMode": "Never"}}}]
    return yaml.safe_dump(data, sort_keys=False)


def _config(folder: Path, kubeconfig: Path, extra: dict | None = None) -> Path:
    path = folder / "envdeck.yaml"
    data = {"environments": {"kx": {"kubernetes": {"kubeconfig": str(kubeconfig), "namespace": "staging"}}}}
    data.update(extra or {})
    path.write_text(json.dumps(data, indent=2))  # JSON is YAML
    path.chmod(0o600)
    return path


def _line_of(path: Path, fragment: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if fragment in line)


def _namespaces(emulator: EmulatorThread) -> set[str]:
    request = urllib.request.Request(f"{emulator.url}/api/v1/namespaces", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return {item["metadata"]["name"] for item in json.load(answer)["items"]}


def test_a_kubeconfig_of_yours_runs_its_plugin(emulator, tmp_path):
    """The control: a 0600 kubeconfig of root's in a private directory is used, its plugin runs."""
    marker = tmp_path / "plugin-ran"
    kubeconfig = tmp_path / "kube" / "kube.yaml"
    kubeconfig.parent.mkdir(mode=0o700)
    kubeconfig.write_text(_kubeconfig(emulator, _plugin(tmp_path / "bin", marker)))
    kubeconfig.chmod(0o600)
    cfg = _config(tmp_path, kubeconfig)
    check = envdeck_inproc("check", "--config", str(cfg))
    assert check.returncode == 0 and "kubeconfig" not in check.stderr, check.stderr
    status = envdeck_inproc("status", "--config", str(cfg), "--state-dir", str(tmp_path / "state"), "--json")
    assert status.returncode == 0, (status.stdout, status.stderr)
    assert marker.exists(), "the plugin of a trusted kubeconfig runs"


@needs_other_user
def test_a_kubeconfig_another_member_can_write_is_refused_before_her_plugin_runs(emulator, tmp_path):
    """The report: dir root:GROUP 2770, file root:GROUP 0664; the other user (of GROUP) writes an
    exec plugin of hers into it. check exit 2 placed, status exit 2 naming file and place, doctor FAIL;
    her program never runs."""
    peer = other_user()
    top = Path(tempfile.mkdtemp(prefix="envdeck-kube-", dir="/tmp"))
    try:
        top.chmod(0o711)
        shared = top / "shared"
        shared.mkdir()
        os.chown(shared, 0, peer.pw_gid)
        shared.chmod(0o2770)
        kubeconfig = shared / "kube.yaml"
        kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
        os.chown(kubeconfig, 0, peer.pw_gid)
        kubeconfig.chmod(0o664)
        hers = top / "m"
        hers.mkdir()
        os.chown(hers, peer.pw_uid, peer.pw_gid)
        marker = top / "m" / "ran-as"
        evil = hers / "evil.sh"  # written by her, as her
        script = f"#!/bin/sh\nid -u > {marker}\necho '{{\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{TOKEN}\"}}}}'\n"
        write = ("import os, sys; p, k, s, c = sys.argv[1:]\n"
                 "open(p, 'w').write(s); os.chmod(p, 0o755); open(k, 'w').write(c)\n")
        done = subprocess.run(["runuser", "-u", peer.pw_name, "--", PYTHON, "-c", write, str(evil), str(kubeconfig),
                               script, _kubeconfig(emulator, evil)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o664 and kubeconfig.stat().st_uid == 0
        cfg = _config(tmp_path, kubeconfig)
        line = _line_of(cfg, '"kubeconfig"')

        check = envdeck_inproc("check", "--config", str(cfg))
        assert check.returncode == 2, (check.stdout, check.stderr)
        assert f"{cfg}:{line}:" in check.stderr and "environments.kx.kubernetes.kubeconfig: kubeconfig" in check.stderr
        assert f"{kubeconfig}: is group-writable" in check.stderr and "exec credential plugins" in check.stderr
        assert f"{shared}: a directory on its path is group-writable without the sticky bit" in check.stderr

        status = envdeck_inproc("status", "--config", str(cfg), "--state-dir", str(tmp_path / "state"))
        assert status.returncode == 2, (status.stdout, status.stderr)
        assert f"{cfg}:{line}:" in status.stderr and str(kubeconfig) in status.stderr and "refused" in status.stderr
        assert "Traceback" not in status.stderr

        doctor = envdeck_inproc("doctor", "--config", str(cfg), "--state-dir", str(tmp_path / "state"))
        assert doctor.returncode == 1, doctor.stdout
        assert any(ln.startswith("FAIL") and "kx/kubernetes:" in ln and str(kubeconfig) in ln
                   for ln in doctor.stdout.splitlines()), doctor.stdout
        assert not marker.exists(), f"her plugin ran as uid {marker.read_text().strip()}"
    finally:
        shutil.rmtree(top, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another uid needs root")
def test_a_template_environments_kubeconfig_is_refused_when_loaded(emulator, tmp_path):
    """Not in the config file (an environment a template made): the backend refuses its kubeconfig
    when it loads it, naming the file, before the plugin runs."""
    import asyncio

    from backends.kubernetes.connection import load_connection
    from tui.core.config import KubernetesConfig
    from tui.core.errors import BackendUnreachable

    marker = tmp_path / "plugin-ran"
    kubeconfig = tmp_path / "theirs.yaml"
    kubeconfig.write_text(_kubeconfig(emulator, _plugin(tmp_path / "bin", marker)))
    kubeconfig.chmod(0o644)
    os.chown(kubeconfig, 65534, 65534)  # nobody's
    with pytest.raises(BackendUnreachable) as refused:
        asyncio.run(asyncio.to_thread(load_connection, KubernetesConfig(kubeconfig=str(kubeconfig),
                                                                         namespace="staging")))
    text = str(refused.value)
    assert text.startswith("kubernetes.kubeconfig: kubeconfig ") and str(kubeconfig) in text, text
    assert "owned by another user (uid 65534)" in text and "refused" in text, text
    assert not marker.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another uid needs root")
def test_a_kubeconfig_of_yours_naming_a_plugin_another_user_can_replace_is_refused(emulator, tmp_path):
    """The kubeconfig is root's own (0600, private directory), but the exec plugin it names lies in
    a directory of another user's: she could replace the program, so it is refused just the same."""
    marker = tmp_path / "plugin-ran"
    theirs = tmp_path / "theirs"
    plugin = _plugin(theirs, marker)
    os.chown(theirs, 65534, 65534)
    os.chown(plugin, 65534, 65534)
    kubeconfig = tmp_path / "kube" / "kube.yaml"
    kubeconfig.parent.mkdir(mode=0o700)
    kubeconfig.write_text(_kubeconfig(emulator, plugin))
    kubeconfig.chmod(0o600)
    cfg = _config(tmp_path, kubeconfig)
    check = envdeck_inproc("check", "--config", str(cfg))
    assert check.returncode == 2, check.stderr
    assert f"{kubeconfig} names the exec credential plugin {plugin}: is owned by another user (uid 65534)" \
        in check.stderr, check.stderr
    status = envdeck_inproc("status", "--config", str(cfg), "--state-dir", str(tmp_path / "state"))
    assert status.returncode == 2 and f"exec credential plugin {plugin}" in status.stderr, status.stderr
    assert not marker.exists()


def test_a_template_manifest_others_can_write_is_never_applied(emulator, tmp_path):
    kubeconfig = emulator.emu.write_kubeconfig(tmp_path / "kube" / "kubeconfig", "staging")
    kubeconfig.parent.chmod(0o700)
    manifests = tmp_path / "manifests"
    manifests.mkdir(mode=0o700)
    manifest = manifests / "app.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {a: b}\n")
    manifest.chmod(0o666)
    cfg = _config(tmp_path, kubeconfig, {"templates": {"web": {"kubernetes": {
        "kubeconfig": str(kubeconfig), "namespace": "{env}", "manifests": [str(manifest)]}}}})
    line = _line_of(cfg, str(manifest))
    check = envdeck_inproc("check", "--config", str(cfg))
    assert check.returncode == 2, check.stderr
    assert f"{cfg}:{line}:" in check.stderr and "templates.web.kubernetes.manifests.0: manifest" in check.stderr
    assert f"{manifest}: is world-writable" in check.stderr, check.stderr
    state = ["--config", str(cfg), "--state-dir", str(tmp_path / "state")]
    made = envdeck_inproc("env", "create", "pv1", "--template", "web", "--wait", *state)
    assert made.returncode == 2, (made.stdout, made.stderr)
    assert f"{cfg}:{line}:" in made.stderr and str(manifest) in made.stderr and "env create" in made.stderr
    assert "pv1" not in _namespaces(emulator), "nothing was applied"
    listed = envdeck_inproc("env", "list", "--json", *state)
    assert json.loads(listed.stdout)["environments"] == [], listed.stdout


def test_an_aws_identity_file_others_can_read_is_a_placed_warning(tmp_path):
    key = tmp_path / "keys" / "aws.pem"
    key.parent.mkdir(mode=0o700)
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n-----END OPENSSH PRIVATE KEY-----\n")
    key.chmod(0o644)
    cfg = tmp_path / "envdeck.yaml"
    cfg.write_text(json.dumps({"environments": {"ax": {"aws": {
        "region": "us-east-1", "tags": {"env": "ax"}, "identity_file": str(key)}}}}, indent=2))
    cfg.chmod(0o600)
    check = envdeck_inproc("check", "--config", str(cfg))
    assert check.returncode == 0, check.stderr
    line = _line_of(cfg, '"identity_file"')
    assert f"envdeck: warning: {cfg}:{line}:" in check.stderr, check.stderr
    assert "environments.ax.aws.identity_file: identity_file" in check.stderr
    assert "a private key readable by others (mode 0644)" in check.stderr, check.stderr
