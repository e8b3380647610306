"""render / render_clone / resolve_refs: what a template becomes for one environment, and
hostile parameter values that must stay data."""

from __future__ import annotations

import pytest
import yaml

from tests.lifecycle.test_template_config import ISSUE_EXAMPLE, MANIFEST, write_config
from tui.core.config import EnvironmentConfig, load_config, parse_config
from tui.core.errors import InvalidRequest, NotFound
from tui.core.lifecycle.plan import build_plan
from tui.core.lifecycle.records import RenderedEnvironment
from tui.core.lifecycle.render import render, render_clone, resolve_refs
from tui.core.model import Resource

SERVICE = """\
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: "cfg-{env}"}
data:
  branch: "{branch}"
  note: "literal {{braces}} and {env} by {creator}"
  sg: "{web-sg}"
"""


@pytest.fixture
def config(tmp_path):
    return load_config(write_config(tmp_path, ISSUE_EXAMPLE, {"templates/preview/k8s.yaml": MANIFEST + SERVICE}))


def steps_by_id(rendered: RenderedEnvironment) -> dict:
    return {s.id: s for s in rendered.steps}


def test_issue_example_renders(config):
    r = render(config, "preview", "pr-7", "alice", {"branch": "feat-x", "replicas": "3"})
    assert (r.name, r.template, r.creator) == ("pr-7", "preview", "alice")
    assert r.parameters == {"branch": "feat-x", "replicas": 3}
    assert [s.id for s in r.steps] == ["assets", "web-sg", "web", "namespace", "Deployment/web", "Service/web",
                                       "ConfigMap/cfg-pr-7", "edge"]
    steps = steps_by_id(r)
    assert steps["assets"].fields == {"name": "pr-7-assets", "encryption": True, "public_access_blocked": True}
    assert steps["web"].fields["security_groups"] == ["{web-sg}"]          # resolved at step start
    assert steps["web"].depends_on == ("assets",)
    assert steps["namespace"].kind == "Namespace" and steps["namespace"].fields["name"] == "pr-7"
    deployment = steps["Deployment/web"].fields["manifest"]
    assert deployment["spec"]["replicas"] == 3                              # "{replicas}" → an integer
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:feat-x"
    assert deployment["metadata"]["namespace"] == "pr-7"
    assert deployment["metadata"]["labels"] == {"envdeck.io/env": "pr-7", "envdeck.io/template": "preview",
                                                "envdeck.io/step": "Deployment.web"}
    service = steps["Service/web"].fields["manifest"]
    assert service["metadata"]["labels"]["app"] == "web"                    # the template's labels kept
    assert steps["namespace"].fields["labels"]["envdeck.io/env"] == "pr-7"
    assert steps["edge"].fields == {"pool": "gateways", "count": 1, "services": ["nginx"]}
    assert (r.ttl_s, r.max_ttl_s, r.on_failure, r.edge_pool, r.edge_count) == (86400.0, 604800.0, "keep",
                                                                              "gateways", 1)
    env = r.environment
    assert env["access"] == {"viewer": ["*"], "operator": [], "admin": ["alice"]}
    assert env["aws"]["tags"] == {"envdeck:env": "pr-7"}
    assert env["aws"]["desired"] == [
        {"kind": "s3-bucket", "name": "pr-7-assets", "encryption": True, "public_access_blocked": True},
        {"kind": "ec2-instance", "name": "pr-7-web-1", "state": "running"}]
    assert env["kubernetes"] == {"namespace": "pr-7", "desired": [
        {"kind": "Deployment", "name": "web", "replicas": 3, "image": "nginx:feat-x"}]}
    assert env["edge"]["nodes"] == [] and env["edge"]["connect_timeout"] == 5.0
    # once the claim fills the nodes, it is an environment the reconciler can observe
    env["edge"]["nodes"] = [config.edge_pools["gateways"].nodes[0].model_dump()]
    parsed = EnvironmentConfig.model_validate(env)
    assert parsed.repair == "auto" and parsed.edge.nodes[0].name == "gw-1"
    assert RenderedEnvironment.from_json(r.to_json()).to_json() == r.to_json()


def test_defaults_and_default_access(tmp_path):
    cfg = parse_config("templates:\n  t:\n    parameters: {n: {type: integer, default: 2}}\n"
                       "    kubernetes: {namespace: 'ns-{env}-{n}'}\n", str(tmp_path / "c.yaml"))
    r = render(cfg, "t", "e1", "bob", {})
    assert r.parameters == {"n": 2}
    assert r.environment["kubernetes"]["namespace"] == "ns-e1-2"
    assert r.environment["access"]["admin"] == ["bob"]
    assert [s.id for s in r.steps] == ["namespace"]


@pytest.mark.parametrize(("template", "env", "params", "message"), [
    ("nope", "pr-1", {"branch": "a"}, "unknown template 'nope' (templates: preview)"),
    ("preview", "pr-1", {"branch": "a", "colour": "red"},
     "template 'preview' has no parameter 'colour' (parameters: branch, replicas)"),
    ("preview", "pr-1", {}, "parameter 'branch' is required by template 'preview' (--param branch=VALUE)"),
    ("preview", "pr-1", {"branch": "Feat"}, "parameter 'branch': must match ^[a-z0-9-]{1,30}$"),
    ("preview", "pr-1", {"branch": "a", "replicas": "11"}, "parameter 'replicas': must be at most 10"),
    ("preview", "pr-1", {"branch": "a", "replicas": "two"}, "parameter 'replicas': must be a whole number"),
    ("preview", "PR_1", {"branch": "a"}, "environment name 'PR_1' must be 1-63 lowercase letters, digits or "
                                         "'-', starting and ending with a letter or digit"),
    ("preview", "-x", {"branch": "a"}, "environment name '-x' must be 1-63 lowercase letters, digits or "
                                       "'-', starting and ending with a letter or digit"),
])
def test_bad_requests_name_the_place(config, template, env, params, message):
    with pytest.raises(InvalidRequest) as caught:
        render(config, template, env, "alice", params)
    assert str(caught.value) == message


HOSTILE = [
    "a\nkind: Secret",
    "x\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: stolen}",
    "{env}",
    "{web-sg}",
    "}}{{",
    "$(rm -rf /)",
    "`id`; rm -rf / #",
    "'\"; DROP TABLE x; --",
    "x" * 1024,
    "ünïcødé ☃ 𝔘 مرحبا",
    "\x1b[31mred\x1b[0m \\n \\x00",
    "[link](http://x) [bold]markup[/bold]",
    "*anchor &a !!python/object:os.system",
]


@pytest.fixture
def open_config(tmp_path):
    text = ISSUE_EXAMPLE.replace('branch: {type: string, pattern: "^[a-z0-9-]{1,30}$"}',
                                 "branch: {type: string}")
    return load_config(write_config(tmp_path, text, {"templates/preview/k8s.yaml": MANIFEST + SERVICE}))


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_parameter_values_stay_data(open_config, value):
    r = render(open_config, "preview", "pr-1", "alice", {"branch": value})
    steps = steps_by_id(r)
    assert [s.id for s in r.steps] == ["assets", "web-sg", "web", "namespace", "Deployment/web", "Service/web",
                                       "ConfigMap/cfg-pr-1", "edge"]      # no step, no document added
    cm = resolve_refs(steps["ConfigMap/cfg-pr-1"].fields, {"web-sg": "sg-0123456789abcdef0"})["manifest"]
    assert set(cm) == {"apiVersion", "kind", "metadata", "data"}           # no key added
    assert cm["kind"] == "ConfigMap"
    assert cm["data"] == {"branch": value, "note": "literal {braces} and pr-1 by alice",
                          "sg": "sg-0123456789abcdef0"}                     # the value verbatim, one string
    deployment = resolve_refs(steps["Deployment/web"].fields, {})["manifest"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"nginx:{value}"
    assert deployment["kind"] == "Deployment" and deployment["metadata"]["name"] == "web"
    # what the Kubernetes API would receive round-trips as the same single object
    assert list(yaml.safe_load_all(yaml.safe_dump(cm))) == [cm]
    assert r.environment["kubernetes"]["desired"][0]["image"] == f"nginx:{value}"
    EnvironmentConfig.model_validate(r.environment)


def test_hostile_value_in_a_name_or_namespace_is_refused_not_interpreted(tmp_path):
    cfg = parse_config("templates:\n  t:\n    parameters: {p: {}}\n    kubernetes: {namespace: '{p}'}\n",
                       str(tmp_path / "c.yaml"))
    with pytest.raises(InvalidRequest) as caught:
        render(cfg, "t", "e1", "bob", {"p": "a\nkind: Secret"})
    assert "kubernetes.namespace renders to 'a\\nkind: Secret', which is not a namespace name" in str(caught.value)
    with pytest.raises(InvalidRequest) as caught:
        render(cfg, "t", "e1", "bob", {"p": "{env}"})   # not expanded to 'e1': '{env}' is no namespace name
    assert "renders to '{env}'" in str(caught.value)
    assert render(cfg, "t", "e1", "bob", {"p": "ns-1"}).environment["kubernetes"]["namespace"] == "ns-1"


def test_resolve_refs_fills_references_and_refuses_missing_ones():
    fields = {"security_groups": ["{web-sg}", "{{not-a-ref}}"], "{{k}}": "x-{web-sg}-y"}
    assert resolve_refs(fields, {"web-sg": "sg-1"}) == {"security_groups": ["sg-1", "{not-a-ref}"],
                                                        "{k}": "x-sg-1-y"}
    with pytest.raises(InvalidRequest) as caught:
        resolve_refs(fields, {})
    assert str(caught.value) == "fields.security_groups.0: step 'web-sg' has no native id yet"


CLONE_CONFIG = """\
environments:
  staging:
    repair: auto
    aws:
      region: eu-west-1
      endpoint_url: http://127.0.0.1:5000
      tags: {env: staging}
      desired:
        - {kind: s3-bucket, name: staging-assets, encryption: true}
        - {kind: s3-bucket, name: shared-logs}
        - {kind: ec2-instance, name: staging-web, state: running}
        - {kind: ec2-instance, name: staging-batch}
        - {kind: ecs-service, cluster: main, name: api}
    kubernetes:
      context: kind-staging
      namespace: web-staging
      desired:
        - {kind: Deployment, name: web, replicas: 3, image: "nginx:1.27"}
        - {kind: StatefulSet, name: db, image: {postgres: "postgres:16", sidecar: "busybox:1"}}
        - {kind: Deployment, name: worker, replicas: 2}
    edge:
      nodes: [{name: gw-1, host: 10.0.0.1}]
  empty:
    kubernetes:
      namespace: empty
      desired: [{kind: Deployment, name: w, replicas: 1}]
"""


def test_clone_of_a_config_environment():
    cfg = parse_config(CLONE_CONFIG)
    observed = [Resource(id="i-0abc", backend="aws", kind="ec2-instance", name="staging-web",
                         attributes={"image_id": "ami-12c6146b", "instance_type": "t3.small"})]
    r = render_clone(cfg, "staging", "pr-9", "carol", observed)
    assert r.template == "clone:staging" and r.creator == "carol" and r.parameters == {}
    steps = steps_by_id(r)
    assert list(steps) == ["pr-9-assets", "pr-9-web", "namespace", "Deployment/web", "StatefulSet/db"]
    assert steps["pr-9-assets"].fields == {"name": "pr-9-assets", "encryption": True,
                                           "public_access_blocked": True}
    assert steps["pr-9-web"].fields == {"name": "pr-9-web", "image_id": "ami-12c6146b",
                                        "instance_type": "t3.small", "security_groups": [], "state": "running"}
    web = steps["Deployment/web"].fields["manifest"]
    assert web["spec"]["replicas"] == 3 and web["metadata"]["namespace"] == "web-pr-9"
    assert web["spec"]["template"]["spec"]["containers"] == [{"name": "web", "image": "nginx:1.27"}]
    assert web["metadata"]["labels"]["envdeck.io/template"] == "clone.staging"
    db = steps["StatefulSet/db"].fields["manifest"]
    assert {c["name"]: c["image"] for c in db["spec"]["template"]["spec"]["containers"]} == {
        "postgres": "postgres:16", "sidecar": "busybox:1"}
    env = r.environment
    assert env["repair"] == "auto" and env["access"]["admin"] == ["carol"]
    assert env["aws"]["region"] == "eu-west-1" and env["aws"]["endpoint_url"] == "http://127.0.0.1:5000"
    assert env["kubernetes"]["context"] == "kind-staging"
    for reason in ("s3-bucket shared-logs: its name does not contain 'staging'",
                   "ec2-instance staging-batch: no observed instance",
                   "ecs-service main/api: envdeck does not create ECS services",
                   "Deployment/worker: no image declared", "edge: the 1 node(s) of staging are its own"):
        assert reason in env["description"]
    EnvironmentConfig.model_validate(env)
    assert build_plan(r).waves == [["pr-9-assets", "pr-9-web", "namespace"], ["Deployment/web", "StatefulSet/db"]]


def test_clone_refusals():
    cfg = parse_config(CLONE_CONFIG)
    with pytest.raises(InvalidRequest) as caught:
        render_clone(cfg, "empty", "e2", "carol", [])
    assert str(caught.value) == ("nothing of 'empty' can be cloned: Deployment/w: no image declared in its "
                                 "desired state")
    with pytest.raises(NotFound):
        render_clone(cfg, "nope", "e2", "carol", [])
    with pytest.raises(InvalidRequest):
        render_clone(cfg, "staging", "Bad Name", "carol", [])
