"""`env plan` shows what `env create` creates: a parameter value with braces (`b{x}`) appears in
the plan's fields as it does on the server, not in the template form the engine keeps (`{{x}}`);
a reference to another step's native id stays `{STEP-ID}` (filled when that step exists). Real
servers (the Kubernetes emulator; moto for the reference)."""

from __future__ import annotations

import json
from typing import Any

from tests.lifecycle.conftest import World
from tui.core.lifecycle.plan import build_plan
from tui.core.lifecycle.records import K8S_INSTANCE_LABEL, RenderedEnvironment, StepSpec


def _ok(proc, what: str = "") -> None:
    assert proc.returncode == 0, (what, proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr


def _braces_config(world: World) -> dict[str, Any]:
    """The tester's template: a branch parameter whose pattern lets braces through."""
    config = world.config()
    config["templates"]["braces"] = {
        "description": "a branch with braces", "ttl": "1h",
        "parameters": {"branch": {"type": "string", "pattern": "^[a-z0-9{}-]{1,30}$"},
                       "replicas": {"type": "integer", "default": 1}},
        "kubernetes": world.kubernetes_section(["templates/web-only.yaml"], timeout="30s"),
    }
    return config


def _image(manifest: dict[str, Any]) -> str:
    return manifest["spec"]["template"]["spec"]["containers"][0]["image"]


def test_plan_json_shows_the_braces_create_makes(world: World):
    world.write_config(_braces_config(world))
    args = ("--template", "braces", "--param", "branch=b{x}")
    proc = world.envdeck("env", "plan", "br-1", *args, "--json")
    _ok(proc, "plan")
    assert "{{" not in proc.stdout and "}}" not in proc.stdout, proc.stdout
    steps = {s["id"]: s for s in json.loads(proc.stdout)["steps"]}
    planned = steps["Deployment/web"]["fields"]["manifest"]
    assert _image(planned) == "registry.example/web:b{x}"

    _ok(world.envdeck("env", "create", "br-1", *args, "--wait"), "create")
    [ns] = world.namespaces("br-1")
    created = world.deployment(ns)
    assert _image(created) == _image(planned), "the plan showed what was created"
    [planned_web] = planned["spec"]["template"]["spec"]["containers"]
    [created_web] = created["spec"]["template"]["spec"]["containers"]
    assert {k: created_web.get(k) for k in planned_web} == planned_web
    # the labels planned, and the instance id fixed when the create is stored (K8S_INSTANCE_LABEL)
    assert {k: v for k, v in created["metadata"]["labels"].items() if k != K8S_INSTANCE_LABEL} == \
        planned["metadata"]["labels"]
    assert steps["namespace"]["fields"]["name"] == ns

    human = world.envdeck("env", "plan", "br-2", *args)
    _ok(human, "text plan")
    assert "Deployment/web" in human.stdout and "{{" not in human.stdout


def test_plan_json_keeps_references_as_step_ids(world: World):
    proc = world.envdeck("env", "plan", "p1", "--template", "preview", "--param", "branch=main", "--json")
    _ok(proc)
    steps = {s["id"]: s for s in json.loads(proc.stdout)["steps"]}
    assert steps["web"]["fields"]["security_groups"] == ["{web-sg}"]
    assert "web-sg" in steps["web"]["depends_on"]


def test_plan_to_json_unescapes_literal_braces_only():
    step = StepSpec(id="vm", backend="aws", kind="ec2-instance",
                    fields={"security_groups": ["{sg}"], "{{k}}": "x-{sg}-{{y}}", "n": 3})
    sg = StepSpec(id="sg", backend="aws", kind="security-group", fields={"name": "a{{b}}"})
    plan = build_plan(RenderedEnvironment(name="e", template="t", parameters={}, creator="c",
                                          steps=[step, sg], environment={}))
    shown = {s["id"]: s["fields"] for s in plan.to_json()["steps"]}
    assert shown == {"sg": {"name": "a{b}"}, "vm": {"security_groups": ["{sg}"], "{k}": "x-{sg}-{y}", "n": 3}}
    assert plan.steps[1].fields["{{k}}"] == "x-{sg}-{{y}}", "the engine's steps keep their template form"
