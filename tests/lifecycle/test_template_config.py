"""templates: and edge_pools: in the config: the models, and the checks across keys that
`envdeck check` reports as PATH:LINE:COL (each problem on the key it is about)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tui.core.config import load_config, parse_config
from tui.core.errors import ConfigError
from tui.core.lifecycle.template import ParameterSpec, TemplateConfig, pieces

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: "{replicas}"
  template:
    spec:
      containers: [{name: web, image: "nginx:{branch}"}]
"""

ISSUE_EXAMPLE = """\
templates:
  preview:
    description: "Preview environment of a branch"
    parameters:
      branch: {type: string, pattern: "^[a-z0-9-]{1,30}$"}
      replicas: {type: integer, default: 1, minimum: 0, maximum: 10}
    creators: ["*"]
    ttl: 24h
    max_ttl: 7d
    repair: auto
    access: {admin: ["{creator}"], viewer: ["*"]}
    aws:
      region: us-east-1
      resources:
        - {id: assets, kind: s3-bucket, name: "{env}-assets", encryption: true, public_access_blocked: true}
        - {id: web-sg, kind: security-group, name: "{env}-web", ingress: [{port: 443, cidr: 10.0.0.0/8}]}
        - {id: web, kind: ec2-instance, name: "{env}-web-1", image_id: ami-12c6146b, instance_type: t3.micro,
           security_groups: ["{web-sg}"], depends_on: [assets]}
    kubernetes:
      namespace: "{env}"
      manifests: [templates/preview/k8s.yaml]
    edge:
      pool: gateways
      count: 1
      services: [nginx]
edge_pools:
  gateways:
    nodes: [{name: gw-1, host: 10.0.0.1, services: [nginx]}]
    connect_timeout: 5s
"""


def write_config(tmp_path: Path, text: str, manifests: dict[str, str] | None = None) -> Path:
    for name, body in (manifests or {"templates/preview/k8s.yaml": MANIFEST}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body)
    path = tmp_path / "envdeck.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [p.removeprefix(f"{path}:") for p in caught.value.problems]


def test_issue_example_validates(tmp_path):
    cfg = load_config(write_config(tmp_path, ISSUE_EXAMPLE))
    t = cfg.templates["preview"]
    assert isinstance(t, TemplateConfig)
    assert [r.kind for r in t.aws.resources] == ["s3-bucket", "security-group", "ec2-instance"]
    assert t.aws.resources[2].depends_on == ["assets"]
    assert t.aws.resources[1].ingress[0].port == 443
    assert (t.ttl, t.max_ttl) == (86400.0, 7 * 86400.0)
    assert t.parameters["replicas"].default == 1
    assert t.access.admin == ["{creator}"]
    assert cfg.edge_pools["gateways"].nodes[0].name == "gw-1"
    assert cfg.edge_pools["gateways"].connect_timeout == 5.0
    assert t.on_failure == "keep" and t.creators == ["*"]


def test_unknown_keys_and_kinds_are_refused_with_positions(tmp_path):
    path = write_config(tmp_path, """\
        templates:
          t:
            colour: red
            aws:
              region: us-east-1
              resources:
                - {id: a, kind: lambda, name: x}
                - {id: b, kind: s3-bucket, name: x, versioning: true}
                - {id: c, kind: security-group, name: x, ingress: [{port: 99999, cidr: "10.0.0.0/33"}]}
        edge_pools:
          p: {nodes: [], bogus: 1}
        """)
    assert problems(path) == [
        "3:5: templates.t.colour: unknown key 'colour'",
        "7:11: templates.t.aws.resources.0: unknown kind 'lambda'; expected one of "
        "'s3-bucket', 'security-group', 'ec2-instance'",
        "8:45: templates.t.aws.resources.1.versioning: unknown key 'versioning'",
        "9:61: templates.t.aws.resources.2.ingress.0.port: Input should be less than or equal to 65535",
        "9:74: templates.t.aws.resources.2.ingress.0.cidr: '10.0.0.0/33' is not a CIDR block such as 10.0.0.0/8",
        "11:18: edge_pools.p.bogus: unknown key 'bogus'",
    ]


def test_cross_key_problems_land_on_their_key(tmp_path):
    path = write_config(tmp_path, """\
        templates:
          preview:
            parameters:
              branch: {type: string, pattern: "^[a-z]+$", default: "BAD"}
              n: {type: integer, minimum: 5, maximum: 10, default: 11}
              env: {}
            ttl: 8d
            max_ttl: 7d
            description: "for {who}"
            aws:
              region: us-east-1
              resources:
                - {id: a, kind: s3-bucket, name: "{env}-a", depends_on: [b]}
                - {id: b, kind: s3-bucket, name: "{env}-b", depends_on: [a, zz]}
                - {id: a, kind: security-group, name: "x"}
                - {id: namespace, kind: s3-bucket, name: "{b}"}
                - {id: i, kind: ec2-instance, name: i, image_id: "ami-1{", instance_type: t3.micro}
            kubernetes:
              manifests: [missing.yaml, bad.yaml, list.yaml, templates/preview/k8s.yaml]
            edge: {pool: nope, count: 2}
          other:
            edge: {pool: gw, count: 3}
        edge_pools:
          gw: {nodes: [{name: g1, host: h}]}
        """, {"bad.yaml": 'kind: Deployment\nmetadata: {name: "w-{a}"}\nspec: {x: "{nope}"}\n',
              "list.yaml": "- a\n- b\n", "templates/preview/k8s.yaml": MANIFEST})
    assert problems(path) == [
        "4:51: templates.preview.parameters.branch.default: the default must match ^[a-z]+$",
        "5:51: templates.preview.parameters.n.default: the default must be at most 10",
        "6:7: templates.preview.parameters.env: parameter 'env' would hide {env}; rename it",
        "7:5: templates.preview.ttl: ttl is longer than max_ttl",
        "9:5: templates.preview.description: unknown placeholder {who}; known: {branch}, {creator}, {env}, {n}",
        "13:53: templates.preview.aws.resources.0.depends_on: steps depend on each other in a circle: a → b → a",
        "14:69: templates.preview.aws.resources.1.depends_on.1: depends_on names 'zz', which is no step of "
        "this template (ids: a, b, edge, i, namespace)",
        "15:12: templates.preview.aws.resources.2.id: id 'a' is also resource 1",
        "16:12: templates.preview.aws.resources.3.id: id 'namespace' is the step id of the namespace",
        "16:44: templates.preview.aws.resources.3.name: {b} (a resource's id) cannot be used here, "
        "only in what a template creates",
        "17:48: templates.preview.aws.resources.4.image_id: a '{' at character 6 opens no placeholder; "
        "write {{ for a literal brace",
        "19:19: templates.preview.kubernetes.manifests.0: missing.yaml: no such file",
        "19:33: templates.preview.kubernetes.manifests.1: bad.yaml: document 1, metadata.name: "
        "{a} (a resource's id) cannot be used here, only in what a template creates",
        "19:33: templates.preview.kubernetes.manifests.1: bad.yaml: document 1, spec.x: unknown placeholder "
        "{nope}; known: {a}, {b}, {branch}, {creator}, {env}, {i}, {n}, {namespace}",
        "19:43: templates.preview.kubernetes.manifests.2: list.yaml: document 1 is not a YAML mapping",
        "19:54: templates.preview.kubernetes.manifests.3: templates/preview/k8s.yaml: document 1, "
        "spec.replicas: unknown placeholder {replicas}; known: {a}, {b}, {branch}, {creator}, {env}, {i}, "
        "{n}, {namespace}",
        "20:12: templates.preview.edge.pool: pool 'nope' is not declared in edge_pools (declared: gw)",
        "22:22: templates.other.edge.count: count 3 is more than the 1 node(s) of pool 'gw'",
    ]


def test_cycle_through_a_reference_and_a_manifest_not_a_mapping_of_a_kind(tmp_path):
    path = write_config(tmp_path, """\
        templates:
          t:
            aws:
              region: us-east-1
              resources:
                - {id: sg, kind: security-group, name: sg, description: "for {vm}"}
                - {id: vm, kind: ec2-instance, name: vm, image_id: ami-12345678, instance_type: t3.micro,
                   security_groups: ["{sg}"]}
            kubernetes:
              manifests: [ns.yaml, noname.yaml]
        """, {"ns.yaml": "kind: Namespace\nmetadata: {name: x}\n", "noname.yaml": "kind: Service\n"})
    assert problems(path) == [
        "6:11: templates.t.aws.resources.0.depends_on: steps depend on each other in a circle: sg → vm → sg",
        "10:19: templates.t.kubernetes.manifests.0: ns.yaml: document 1 is a Namespace; the namespace "
        "comes from 'kubernetes.namespace'",
        "10:28: templates.t.kubernetes.manifests.1: noname.yaml: document 1 (Service) has no 'metadata.name'",
    ]


def test_manifest_paths_are_relative_to_the_config_file(tmp_path, monkeypatch):
    path = write_config(tmp_path, ISSUE_EXAMPLE)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert load_config(path).templates["preview"].kubernetes.manifests == ["templates/preview/k8s.yaml"]
    (tmp_path / "templates/preview/k8s.yaml").write_text("kind: [unclosed\n")
    [problem] = problems(path)
    # the wording after the position is libyaml's or PyYAML's, whichever PyYAML was built with
    assert problem.startswith("21:19: templates.preview.kubernetes.manifests.0: templates/preview/k8s.yaml: "
                              "is not valid YAML at line 2, column 1: ")
    assert "expected ',' or ']'" in problem


def test_parameter_rules_must_fit_their_type():
    with pytest.raises(ConfigError) as caught:
        parse_config("templates:\n  t:\n    parameters:\n      p: {type: integer, pattern: 'x'}\n", "c.yaml")
    assert caught.value.problems == ["c.yaml:4:7: templates.t.parameters.p: 'pattern' applies to a string "
                                     "parameter only"]
    with pytest.raises(ConfigError) as caught:
        parse_config("templates:\n  t:\n    parameters:\n      p: {pattern: '('}\n", "c.yaml")
    assert caught.value.problems[0].startswith("c.yaml:4:11: templates.t.parameters.p.pattern: not a regular "
                                               "expression")


@pytest.mark.parametrize(("spec", "text", "result"), [
    ({"type": "integer", "minimum": 0, "maximum": 10}, "3", 3),
    ({"type": "integer"}, " -7 ", -7),
    ({"type": "boolean"}, "yes", True),
    ({"type": "boolean"}, "False", False),
    ({"pattern": "^[a-z0-9-]{1,30}$"}, "feat-1", "feat-1"),
    ({}, "a\nkind: Secret", "a\nkind: Secret"),
])
def test_parameter_parse(spec, text, result):
    assert ParameterSpec(**spec).parse(text) == result


@pytest.mark.parametrize(("spec", "text", "message"), [
    ({"type": "integer", "minimum": 0, "maximum": 10}, "11", "must be at most 10"),
    ({"type": "integer", "minimum": 0}, "-1", "must be at least 0"),
    ({"type": "integer"}, "1e3", "must be a whole number"),
    ({"type": "integer"}, "9" * 40, "must be a whole number"),
    ({"type": "boolean"}, "maybe", "must be true or false"),
    ({"pattern": "^[a-z0-9-]{1,30}$"}, "Feat", "must match ^[a-z0-9-]{1,30}$"),
    ({"pattern": "^[a-z]+$"}, "abc\n", "must match ^[a-z]+$"),   # $ would match before a final newline
    ({}, "x" * 2000, "must be at most 1024 characters"),
])
def test_parameter_parse_refuses_naming_the_rule(spec, text, message):
    with pytest.raises(ValueError) as caught:
        ParameterSpec(**spec).parse(text)
    assert str(caught.value) == message


def test_placeholder_pieces():
    assert [(p.text, p.placeholder) for p in pieces("{{a}} {env}-x}}")] == [
        ("{a} ", False), ("env", True), ("-x}", False)]
    for bad in ("{", "a}", "{ .Values }", "{a b}"):
        with pytest.raises(ValueError):
            pieces(bad)


def test_envdeck_check_prints_a_line_per_template_and_the_problems(tmp_path):
    path = write_config(tmp_path, ISSUE_EXAMPLE)
    ok = subprocess.run([sys.executable, "-m", "tui.cli", "check", "--config", str(path)],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines() == [
        "template preview: 2 parameter(s) (branch, replicas); aws us-east-1 (3 resources); kubernetes ns {env} "
        "(1 manifest file(s)); edge 1 node(s) of pool gateways; ttl 1d (max 7d); on_failure=keep"]
    path.write_text(ISSUE_EXAMPLE.replace("pool: gateways", "pool: gatewayz"))
    bad = subprocess.run([sys.executable, "-m", "tui.cli", "check", "--config", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert f"{path}:23:7: templates.preview.edge.pool: pool 'gatewayz' is not declared in edge_pools " \
           "(declared: gateways)" in bad.stderr
    assert "Traceback" not in bad.stderr
