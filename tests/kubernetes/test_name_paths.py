"""A name never becomes a path: a template parameter filled into `metadata.name` (`cfg-{branch}`
with `branch` a free string) that is no valid name of its kind is refused at plan time, naming the
template place and the parameter (`env plan` exits 2); and every API path envdeck builds from a
name percent-encodes each segment, so `x/../../../api/v1/namespaces/hx/configmaps/cm-evil` stays
one name in the environment's namespace — the emulator's request log shows what the server got."""

from __future__ import annotations

import pytest

from backends.kubernetes.api import KubeApi
from backends.kubernetes.api_paths import item_path, seg
from backends.kubernetes.connection import load_connection
from backends.kubernetes.kinds import BY_KIND
from backends.kubernetes.step_objects import KindPath
from tests.helpers import envdeck_inproc as envdeck
from tests.kubernetes.support import NS
from tui.core.config import KubernetesConfig, load_config
from tui.core.errors import InvalidRequest, NotFound
from tui.core.lifecycle.k8s_names import name_problem
from tui.core.lifecycle.render import render

EVIL = "x/../../../../../../api/v1/namespaces/hx/configmaps/cm-evil"

CONFIG = """\
templates:
  pv:
    parameters:
      branch: {type: string}
    creators: ["*"]
    ttl: 1h
    access: {admin: ["{creator}"], viewer: ["*"]}
    kubernetes:
      namespace: "{env}"
      manifests: [pv.yaml]
"""
MANIFEST = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: "cfg-{branch}"}
data: {a: b}
---
apiVersion: v1
kind: Service
metadata: {name: "svc-{branch}"}
spec: {ports: [{port: 80}]}
"""


@pytest.fixture
def config_path(tmp_path):
    (tmp_path / "pv.yaml").write_text(MANIFEST)
    path = tmp_path / "envdeck.yaml"
    path.write_text(CONFIG)
    return path


@pytest.mark.parametrize("branch", [EVIL, "../../etc/passwd", "A", "x%2f", "a" * 260],
                         ids=["traversal", "dots", "upper", "percent", "long"])
def test_a_name_that_is_no_name_is_refused_at_plan_time(config_path, branch):
    with pytest.raises(InvalidRequest) as refused:
        render(load_config(config_path), "pv", "p1", "alice", {"branch": branch})
    text = str(refused.value)
    assert text.startswith("template 'pv', pv.yaml document 1: metadata.name renders to 'cfg-")
    assert "(filled from {branch})" in text and "which is not a ConfigMap name: it must be an RFC 1123 subdomain" in text


def test_a_service_name_follows_its_own_rule_and_a_good_name_renders(config_path):
    with pytest.raises(InvalidRequest, match=r"document 2: metadata.name renders to 'svc-a\.b' \(filled from "
                                             r"\{branch\}\), which is not a Service name: it must be an RFC 1035"):
        render(load_config(config_path), "pv", "p1", "alice", {"branch": "a.b"})
    rendered = render(load_config(config_path), "pv", "p1", "alice", {"branch": "feat-1"})
    assert [s.id for s in rendered.steps] == ["namespace", "ConfigMap/cfg-feat-1", "Service/svc-feat-1"]
    assert name_problem("ClusterRole", "system:aggregate") is None      # other kinds: path segment names
    assert name_problem("ClusterRole", "..") and name_problem("Widget", "a/b")


def test_env_plan_refuses_a_traversal_name_naming_the_parameter(config_path, tmp_path):
    done = envdeck("env", "plan", "p1", "--template", "pv", "--param", "branch=../../etc/passwd",
                   "--config", str(config_path), "--state-dir", str(tmp_path / "state"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "metadata.name renders to 'cfg-../../etc/passwd' (filled from {branch})" in done.stderr
    assert "Traceback" not in done.stderr


def test_every_segment_is_encoded():
    path = KindPath("v1", "ConfigMap", "configmaps", True).item(NS, EVIL)
    assert path == f"/api/v1/namespaces/{NS}/configmaps/" + EVIL.replace("/", "%2F")
    assert BY_KIND["Pod"].item("a/b", "p%1") == "/api/v1/namespaces/a%2Fb/pods/p%251"
    assert item_path("v1", "pods", NS, "web-1", "log") == f"/api/v1/namespaces/{NS}/pods/web-1/log"
    for dots in (".", "..", ""):  # the HTTP client would resolve them, even encoded: refused
        with pytest.raises(InvalidRequest):
            seg(dots)


async def test_the_server_gets_the_name_as_one_segment(emulator, kubeconfig):
    """The GET of the report, made with the adapter's path: the emulator sees it under the
    environment's namespace (NotFound), never a request for hx's ConfigMap."""
    emulator.add_namespace("hx")
    emulator.create_configmap("hx", "cm-evil", {"secret": "of hx"})
    api = KubeApi(load_connection(KubernetesConfig(kubeconfig=str(kubeconfig), context="emulator", namespace=NS)),
                  5.0)
    try:
        with pytest.raises(NotFound):
            await api.get(KindPath("v1", "ConfigMap", "configmaps", True).item(NS, EVIL))
    finally:
        await api.close()
    paths = [path for method, path in emulator.request_log if method == "GET"]
    assert "/api/v1/namespaces/hx/configmaps/cm-evil" not in paths
    assert any(p.startswith(f"/api/v1/namespaces/{NS}/configmaps/x") for p in paths), paths
