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
import stat
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from backends.sim.k8s_emulator import EmulatorThread
from tests.helpers import envdeck_inproc
from tests.k8s_emulator_server import running_emulator
from tests.other_user import PYTHON, needs_other_user, other_user
from tests.security.shared_dirs import team_dirs, write

TOKEN = "kube-trust-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    with running_emulator(TOKEN, "staging") as thread:
        yield thread


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


def _at(cfg: Path, fragment: str) -> str:
    """`PATH:LINE:` of the first line of `cfg` holding `fragment`: where a placed message starts."""
    return f"{cfg}:{_line_of(cfg, fragment)}:"


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
    with team_dirs("envdeck-kube-", 0o2770) as dirs:
        shared, hers = dirs.shared, dirs.hers
        kubeconfig = shared / "kube.yaml"
        kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
        os.chown(kubeconfig, 0, peer.pw_gid)
        kubeconfig.chmod(0o664)
        marker = hers / "ran-as"
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
    assert (f"{kubeconfig}: users[emulator-user].user.exec.command names the exec credential plugin {plugin}: "
            "is owned by another user (uid 65534)") in check.stderr, check.stderr
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


def test_an_aws_identity_file_others_can_read_is_refused_like_an_edge_key(tmp_path):
    """The AWS shell's `ssh -i` key: refused like an edge node's identity_file (ssh would refuse it
    too, but only once the shell opens): check exit 2 placed, status exit 2 before any AWS call,
    doctor FAIL; chmod 600 and it is accepted."""
    key = write(tmp_path / "keys" / "aws.pem", "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n"
                "-----END OPENSSH PRIVATE KEY-----\n", 0o644)
    key.parent.chmod(0o700)
    cfg = write(tmp_path / "envdeck.yaml", json.dumps({"environments": {"ax": {"aws": {
        "region": "us-east-1", "tags": {"env": "ax"}, "identity_file": str(key)}}}}, indent=2))
    at = _at(cfg, '"identity_file"')
    check = envdeck_inproc("check", "--config", str(cfg))
    assert check.returncode == 2, check.stderr
    [line] = [ln for ln in check.stderr.splitlines() if "environments.ax.aws.identity_file: identity_file" in ln]
    assert at in line and "a private key readable by others (mode 0644)" in line, line
    assert f"chmod 600 {key}" in line and "refused" in line, line
    state = ["--config", str(cfg), "--state-dir", str(tmp_path / "state")]
    # a dead endpoint: had the refusal come after the backends were made, status would wait on it
    status = envdeck_inproc("status", *state, AWS_ENDPOINT_URL="http://127.0.0.1:9")
    assert status.returncode == 2 and at in status.stderr and "Traceback" not in status.stderr, status.stderr
    doctor = envdeck_inproc("doctor", *state)
    assert doctor.returncode == 1, doctor.stdout
    assert any(ln.startswith("FAIL") and "ax/aws:" in ln and str(key) in ln for ln in doctor.stdout.splitlines()), \
        doctor.stdout
    key.chmod(0o600)
    check = envdeck_inproc("check", "--config", str(cfg))
    assert check.returncode == 0 and "identity_file" not in check.stderr, check.stderr


# --- the files a kubeconfig names, and the default kubeconfig -------------------------------------------

def _named_kubeconfig(emulator: EmulatorThread, folder: Path, server: str, user: dict) -> Path:
    """A 0600 kubeconfig in `folder` (0700) for `server` whose user is `user` (relative file names in
    it are relative to `folder`, as the loader resolves them)."""
    data = emulator.emu.kubeconfig("staging", "emulator")
    data["clusters"][0]["cluster"]["server"] = server
    data["users"] = [{"name": "admin", "user": user}]
    data["contexts"][0]["context"]["user"] = "admin"
    folder.mkdir(mode=0o700, exist_ok=True)
    return write(folder / "config", yaml.safe_dump(data, sort_keys=False))


async def test_the_files_a_kubeconfig_names_are_checked_where_the_loader_opens_them(emulator, tmp_path):
    """A CA, client certificate and client key named relative to the kubeconfig, over real TLS (a
    proxy that requires the client certificate, in front of the emulator): a key others can read and
    a CA or certificate another user can change are refused (check exit 2 placed at the kubeconfig
    key, naming the kubeconfig, the field and the fix; status exit 2, nothing reaches the server);
    each fixed, status works again in the same process."""
    import asyncio

    from tests.kubernetes.tls_proxy import Pki, TlsProxy

    kube = tmp_path / "kube"
    kube.mkdir(mode=0o700)
    pki = Pki(kube, cn="ca")
    proxy = TlsProxy(pki, int(emulator.url.rsplit(":", 1)[1]))
    url = await proxy.start()
    try:
        cert, key_pem = pki.issue("admin", server=False)
        crt, key = write(kube / "admin.crt", cert.decode(), 0o644), write(kube / "admin.key", key_pem.decode())
        kubeconfig = _named_kubeconfig(emulator, kube, url, {
            "client-certificate": "admin.crt", "client-key": "admin.key", "token": TOKEN})
        data = yaml.safe_load(kubeconfig.read_text())
        data["clusters"][0]["cluster"]["certificate-authority"] = "ca.pem"
        write(kubeconfig, yaml.safe_dump(data))
        cfg = _config(tmp_path, kubeconfig)
        at = _at(cfg, '"kubeconfig"')
        state = ["--config", str(cfg), "--state-dir", str(tmp_path / "state")]

        async def cli(*args: str):
            return await asyncio.to_thread(envdeck_inproc, *args)

        status = await cli("status", *state)
        assert status.returncode == 0, (status.stdout, status.stderr)
        seen = len(emulator.emu.request_log)

        key.chmod(0o640)
        check = await cli("check", "--config", str(cfg))
        assert check.returncode == 2, check.stderr
        [line] = check.stderr.splitlines()
        assert line.startswith(at) and "environments.kx.kubernetes.kubeconfig: kubeconfig " in line, line
        assert (f"{kubeconfig}: users[admin].user.client-key names the client key {key}: a client key readable "
                f"by others (mode 0640)") in line and f"chmod 600 {key}" in line and "refused" in line, line
        status = await cli("status", *state)
        assert status.returncode == 2 and at in status.stderr and "client-key" in status.stderr, status.stderr
        key.chmod(0o600)

        ca = kube / "ca.pem"
        os.chown(ca, 0, 65534)  # a group of others: the owner's private group would be his alone
        for change, said in [(lambda: ca.chmod(0o664), f"{ca}: is group-writable; others can change it: chmod go-w {ca}"),
                             (lambda: os.chown(ca, 65534, 65534), f"{ca}: is owned by another user (uid 65534)"),
                             (lambda: os.chown(crt, 65534, 65534), f"{crt}: is owned by another user (uid 65534)")]:
            change()
            status = await cli("status", *state)
            assert status.returncode == 2, (status.stdout, status.stderr)
            assert at in status.stderr and said in status.stderr and "Traceback" not in status.stderr, status.stderr
            what = "client certificate" if said.startswith(str(crt)) else "certificate authority"
            assert f"names the {what} " in status.stderr and "stand in for the cluster" in status.stderr
            for path in (ca, crt):
                os.chown(path, 0, 0)
                path.chmod(0o644)
        assert len(emulator.emu.request_log) == seen, "a refused kubeconfig: nothing reached the server"
        status = await cli("status", *state)
        assert status.returncode == 0, (status.stdout, status.stderr)
    finally:
        await proxy.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another uid needs root")
def test_the_default_kubeconfig_and_its_token_file_are_checked(emulator, tmp_path):
    """No `kubeconfig` in the config: $KUBECONFIG (a list, a missing entry skipped) or ~/.kube/config
    is refused like a named one, placed at the environment's `kubernetes` key: group-writable, owned
    by another user, or naming a token file others can read. Fixed, the same one connects."""
    kube = tmp_path / "kube"
    kubeconfig = _named_kubeconfig(emulator, kube, emulator.url, {"tokenFile": "token"})
    token = write(kube / "token", TOKEN)
    cfg = write(tmp_path / "envdeck.yaml", json.dumps(
        {"environments": {"kx": {"kubernetes": {"namespace": "staging"}}}}, indent=2))
    at = _at(cfg, '"kubernetes"')
    state = ["--config", str(cfg), "--state-dir", str(tmp_path / "state")]
    listed = {"KUBECONFIG": f"{tmp_path / 'missing'}{os.pathsep}{kubeconfig}"}

    os.chown(kubeconfig, 0, 65534)
    kubeconfig.chmod(0o664)
    check = envdeck_inproc("check", "--config", str(cfg), **listed)
    assert check.returncode == 2, check.stderr
    [line] = check.stderr.splitlines()
    assert line.startswith(at) and "environments.kx.kubernetes: kubeconfig ($KUBECONFIG) " in line, line
    assert f"{kubeconfig}: is group-writable" in line and "refused" in line, line
    doctor = envdeck_inproc("doctor", *state, **listed)
    assert any(ln.startswith("FAIL") and "kx/kubernetes:" in ln and str(kubeconfig) in ln
               for ln in doctor.stdout.splitlines()), doctor.stdout

    kubeconfig.chmod(0o600)
    token.chmod(0o644)
    status = envdeck_inproc("status", *state, **listed)
    assert status.returncode == 2, (status.stdout, status.stderr)
    assert at in status.stderr and (f"{kubeconfig}: users[admin].user.tokenFile names the token file {token}: "
                                    "a token file readable by others (mode 0644)") in status.stderr, status.stderr
    token.chmod(0o600)
    status = envdeck_inproc("status", *state, **listed)
    assert status.returncode == 0, (status.stdout, status.stderr)  # the token file the check looked at works

    elsewhere = tmp_path / "elsewhere"   # a process's first answer for "~/.kube/config": no such file there
    (elsewhere / ".kube").mkdir(parents=True)
    check = envdeck_inproc("check", "--config", str(cfg), HOME=str(elsewhere), KUBECONFIG="")
    assert check.returncode == 0 and "refused" not in check.stderr, check.stderr
    home = tmp_path / "home"             # the same name under another $HOME is another file
    (home / ".kube").mkdir(parents=True)
    kubeconfig.rename(home / ".kube" / "config")
    os.chown(home / ".kube" / "config", 65534, 65534)
    check = envdeck_inproc("check", "--config", str(cfg), HOME=str(home), KUBECONFIG="")
    assert check.returncode == 2, check.stderr
    assert "kubeconfig (~/.kube/config, the default) " in check.stderr
    assert f"{home / '.kube' / 'config'}: is owned by another user (uid 65534)" in check.stderr, check.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another uid needs root")
def test_a_trust_answer_follows_the_file_while_the_process_runs(emulator, tmp_path):
    """A long-running process (TUI, agent): the kubeconfig made unsafe after it was loaded is refused
    at its next use, the exec plugin before it runs again (each request's headers), and a file fixed
    counts at once, not from the next start."""
    import asyncio

    from backends.kubernetes import KubernetesBackend
    from tui.core.config import Defaults, KubernetesConfig
    from tui.core.config_files import refused_phrases
    from tui.core.errors import BackendUnreachable

    marker = tmp_path / "plugin-ran"
    plugin = _plugin(tmp_path / "bin", marker)
    kubeconfig = write(tmp_path / "kube" / "kube.yaml", _kubeconfig(emulator, plugin))
    kubeconfig.parent.chmod(0o700)

    async def observe_across_a_change() -> None:
        backend = KubernetesBackend("kx", KubernetesConfig(kubeconfig=str(kubeconfig), namespace="staging"),
                                    Defaults())
        try:
            await backend.observe()  # loaded: the plugin ran
            assert marker.exists()
            seen = len(emulator.emu.request_log)
            plugin.parent.chmod(0o777)  # now anyone could put another program in its place
            with pytest.raises(BackendUnreachable) as refused:  # the backend's error, as the TUI shows it
                await backend.observe()
            assert f"{plugin.parent}: a directory on its path is world-writable" in str(refused.value)
            assert "kubernetes.kubeconfig: kubeconfig " in str(refused.value)
            assert len(emulator.emu.request_log) == seen, "refused before the request"
            plugin.parent.chmod(0o755)
            await backend.observe()  # fixed: counts at once
        finally:
            await backend.close()

    asyncio.run(observe_across_a_change())

    assert refused_phrases(str(kubeconfig), "kubeconfig") == ()
    os.chown(kubeconfig, 0, 65534)  # a group of others: the owner's private group would be his alone
    kubeconfig.chmod(0o620)
    assert refused_phrases(str(kubeconfig), "kubeconfig") == (
        f"{kubeconfig}: is group-writable; others can change it: chmod go-w {kubeconfig}",)
    kubeconfig.chmod(0o600)
    os.chown(kubeconfig.parent, 65534, 65534)
    [phrase] = refused_phrases(str(kubeconfig), "kubeconfig")
    assert phrase.startswith(f"{kubeconfig.parent}: a directory on its path is owned by another user"), phrase
    os.chown(kubeconfig.parent, 0, 0)
    assert refused_phrases(str(kubeconfig), "kubeconfig") == ()
    # a link of yours, pointed later at a file others can write: the answer follows the link
    link, unsafe = tmp_path / "kube" / "current", write(tmp_path / "kube" / "open.yaml", kubeconfig.read_text(), 0o666)
    link.symlink_to(kubeconfig)
    assert refused_phrases(str(link), "kubeconfig") == ()
    link.unlink()
    link.symlink_to(unsafe)
    assert refused_phrases(str(link), "kubeconfig") == (
        f"{unsafe}: is world-writable; others can change it: chmod go-w {unsafe}",)


def _one_refused_kubeconfig(emulator: EmulatorThread, tmp_path: Path) -> tuple[Path, Path]:
    """(kx's world-writable kubeconfig, the config): environment "kx" on that kubeconfig, "ok" on a
    sound one, both for the emulator's namespace "staging"."""
    bad = emulator.emu.write_kubeconfig(tmp_path / "bad" / "config", "staging")
    bad.chmod(0o666)
    good = emulator.emu.write_kubeconfig(tmp_path / "good" / "config", "staging")
    cfg = write(tmp_path / "envdeck.yaml", json.dumps({"environments": {
        "kx": {"kubernetes": {"kubeconfig": str(bad), "namespace": "staging"}},
        "ok": {"kubernetes": {"kubeconfig": str(good), "namespace": "staging"}}}}, indent=2))
    return bad, cfg


async def test_the_tui_shows_a_refused_kubeconfig_as_that_backends_error(emulator, tmp_path):
    """The TUI (its own backends factory) opens on a config where one environment's kubeconfig is
    world-writable: that environment's kubernetes backend shows the refusal as its error, the
    other environment is observed as usual and the TUI does not stop (the CLI stops: exit 2)."""
    from tests.tui.pilot import app_ready, wait_until
    from tui.app import AppOptions, create_app
    from tui.core.config import load_config

    bad, cfg = _one_refused_kubeconfig(emulator, tmp_path)
    app = create_app(load_config(cfg), tmp_path / "state", options=AppOptions(testing=True, start_reconciler=False))
    async with app.run_test(size=(120, 30)) as pilot:
        await app_ready(pilot)

        def backend(env: str) -> dict:
            return app.session.state(env).to_json()["backends"]["kubernetes"]

        await wait_until(pilot, lambda: backend("kx")["error"] and backend("ok")["reachable"], "both observed",
                         explain=lambda: (backend("kx"), backend("ok")))
        error = backend("kx")["error"]
        assert f"kubernetes.kubeconfig: kubeconfig {bad}: is world-writable" in error and "refused" in error, error
        assert backend("ok")["error"] is None and app.return_code is None


def test_status_shows_the_other_environments_beside_a_refused_one(emulator, tmp_path):
    """`envdeck status` with one environment's kubeconfig refused: the other environments are
    shown as usual, the refused one with its refusal as its error (nothing sent for it), and the
    placed refusal on stderr, exit 2 at the end."""
    bad, cfg = _one_refused_kubeconfig(emulator, tmp_path)
    status = envdeck_inproc("status", "--json", "--config", str(cfg), "--state-dir", str(tmp_path / "state"))
    assert status.returncode == 2, (status.stdout, status.stderr)
    envs = {env["name"]: env["backends"]["kubernetes"] for env in json.loads(status.stdout)["environments"]}
    assert envs["ok"]["reachable"] and envs["ok"]["error"] is None, envs
    assert not envs["kx"]["reachable"] and f"{bad}: is world-writable" in envs["kx"]["error"], envs
    [line] = status.stderr.splitlines()
    assert line.startswith(_at(cfg, f'"{bad}"')) and f"{bad}: is world-writable" in line and "refused" in line, line
