"""The files envdeck checks for a kubeconfig are the files the official client's loader opens:
a `$KUBECONFIG` list merged as the loader merges it (first entry of a name wins, the last
`current-context` wins), relative names joined as the loader joins them (the certificate
authority, client certificate and key to the cluster entry's file, a token file to the user
entry's). Compared with what the loader itself put in a client Configuration (no connection).
Where kubectl (envdeck's shell action) would look elsewhere, that file is named too."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import yaml
from kubernetes import client
from kubernetes.config.kube_config import load_kube_config

from tests.security.shared_dirs import write
from tui.core.kubeconfig_files import PROGRAM, SEARCHED, SECRET, TRUSTED, named_files


def _context(name: str) -> dict:
    return {"name": name, "context": {"cluster": "k", "user": "u"}}


def test_the_files_named_are_the_files_the_loader_opens(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    first = write(a / "config", yaml.safe_dump({
        "current-context": "nowhere", "contexts": [_context("c")],
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:1", "certificate-authority": "ca.pem"}}]}))
    second = write(b / "config", yaml.safe_dump({
        "current-context": "c", "contexts": [{"name": "c", "context": {"cluster": "other", "user": "other"}}],
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:2", "certificate-authority": "b.pem"}}],
        "users": [{"name": "u", "user": {"client-certificate": "c.pem", "client-key": "k.pem", "tokenFile": "tok"}}]}))
    for path in (a / "ca.pem", a / "c.pem", a / "k.pem", b / "b.pem", b / "c.pem", b / "k.pem"):
        write(path, "pem")
    write(b / "tok", "token-from-b")
    paths = f"{tmp_path / 'missing'}{os.pathsep}{first}{os.pathsep}{second}"

    configuration = client.Configuration()
    load_kube_config(config_file=paths, client_configuration=configuration, persist_config=False)
    opened = {configuration.ssl_ca_cert, configuration.cert_file, configuration.key_file}
    assert opened == {str(a / "ca.pem"), str(a / "c.pem"), str(a / "k.pem")}, opened
    assert configuration.api_key["BearerToken"] == "Bearer token-from-b"

    named = named_files(paths)
    assert {str(n.path): (n.kubeconfig, n.field, n.role) for n in named} == {
        str(a / "ca.pem"): (str(first), "clusters[k].cluster.certificate-authority", TRUSTED),
        str(a / "c.pem"): (str(second), "users[u].user.client-certificate", TRUSTED),
        str(a / "k.pem"): (str(second), "users[u].user.client-key", SECRET),
        str(b / "tok"): (str(second), "users[u].user.tokenFile", SECRET),
        # where kubectl (the shell action) looks for them: joined to the user entry's file
        str(b / "c.pem"): (str(second), "users[u].user.client-certificate", TRUSTED),
        str(b / "k.pem"): (str(second), "users[u].user.client-key", SECRET)}


def test_inline_data_wins_and_an_exec_plugin_is_found_where_it_runs(tmp_path):
    """`*-data` is used instead of the file (so the file is never opened, nor checked); a plugin
    named by a relative path runs from the cluster entry's directory; a bare name in a PATH the
    kubeconfig's exec.env sets is looked up there; a bare name in your own PATH is found there too, with
    each place looked at before it (where another user could put one of that name)."""
    plugin = write(tmp_path / "bin" / "get-token", "#!/bin/sh\n", 0o755)
    config = write(tmp_path / "kube" / "config", yaml.safe_dump({
        "current-context": "c", "contexts": [_context("c"), {"name": "d", "context": {"cluster": "k", "user": "v"}},
                                             {"name": "e", "context": {"cluster": "k", "user": "w"}}],
        "clusters": [{"name": "k", "cluster": {"certificate-authority": "ca.pem", "certificate-authority-data": "eA=="}}],
        "users": [{"name": "u", "user": {"client-key": "k.pem", "client-key-data": "eA==",
                                         "exec": {"command": "../bin/get-token"}}},
                  {"name": "v", "user": {"exec": {"command": "get-token",
                                                  "env": [{"name": "PATH", "value": str(plugin.parent)}]}}},
                  {"name": "w", "user": {"exec": {"command": "sh"}}}]}))
    [found] = named_files(str(config))
    assert (found.path, found.role, found.field) == (plugin, PROGRAM, "users[u].user.exec.command")
    [found] = named_files(str(config), "d")
    assert found.path == plugin and found.role == PROGRAM
    # a bare name in your own PATH: the file found (Popen's search) and each place looked at before it
    *before, found = named_files(str(config), "e")
    assert (found.path, found.role) == (Path(shutil.which("sh")), PROGRAM), found
    assert before and all(f.role == SEARCHED and f.path.name == "sh" for f in before), before
    assert named_files(str(config), "no-such-context") == []
