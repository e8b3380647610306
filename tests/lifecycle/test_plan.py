"""build_plan: edges (explicit, namespace first, references), waves by longest chain,
deterministic order, cycles and unknown steps refused."""

from __future__ import annotations

import random

import pytest

from tests.lifecycle.test_template_config import ISSUE_EXAMPLE, write_config
from tui.core.config import load_config
from tui.core.errors import InvalidRequest
from tui.core.lifecycle.plan import build_plan
from tui.core.lifecycle.records import RenderedEnvironment, StepSpec
from tui.core.lifecycle.render import render


def rendered(*steps: StepSpec) -> RenderedEnvironment:
    return RenderedEnvironment(name="e1", template="t", parameters={}, creator="u", steps=list(steps),
                               environment={})


def aws(step_id: str, *deps: str, **fields) -> StepSpec:
    return StepSpec(id=step_id, backend="aws", kind="s3-bucket", fields={"name": step_id, **fields},
                    depends_on=deps)


def test_plan_of_the_issue_example(tmp_path):
    cfg = load_config(write_config(tmp_path, ISSUE_EXAMPLE))
    plan = build_plan(render(cfg, "preview", "pr-1", "alice", {"branch": "b"}))
    assert plan.waves == [["assets", "web-sg", "namespace", "edge"], ["web", "Deployment/web"]]
    data = plan.to_json()
    assert (data["env"], data["template"]) == ("pr-1", "preview")
    assert data["waves"] == plan.waves
    assert [(s["id"], s["wave"], s["depends_on"]) for s in data["steps"]] == [
        ("assets", 0, []), ("web-sg", 0, []), ("namespace", 0, []), ("edge", 0, []),
        ("web", 1, ["assets", "web-sg"]),            # explicit + the {web-sg} reference
        ("Deployment/web", 1, ["namespace"]),        # the namespace before every Kubernetes object
    ]
    assert set(data["steps"][0]) == {"id", "backend", "kind", "fields", "depends_on", "timeout_s", "wave"}


def test_waves_follow_the_longest_chain():
    # d depends on a (wave 0) and on c (wave 2): it goes to wave 3, not 1
    plan = build_plan(rendered(aws("a"), aws("b", "a"), aws("c", "b"), aws("d", "a", "c"), aws("e")))
    assert plan.waves == [["a", "e"], ["b"], ["c"], ["d"]]
    assert [s.id for s in plan.steps] == ["a", "e", "b", "c", "d"]
    wave = plan.wave_of()
    for step in plan.steps:
        assert all(wave[dep] < wave[step.id] for dep in step.depends_on)


def test_order_is_deterministic_and_follows_the_template_inside_a_wave():
    steps = [aws(f"s{i}", *([f"s{i - 3}"] if i >= 3 else [])) for i in range(12)]
    first = build_plan(rendered(*steps)).to_json()
    assert first["waves"][0] == ["s0", "s1", "s2"]
    for seed in range(5):
        again = build_plan(rendered(*steps)).to_json()
        assert again == first, seed
    shuffled = steps[:]
    random.Random(3).shuffle(shuffled)
    order = [s.id for s in shuffled]
    for wave in build_plan(rendered(*shuffled)).waves:
        assert wave == sorted(wave, key=order.index)


def test_a_reference_is_an_edge():
    plan = build_plan(rendered(aws("vm", sg="{sg} and {{not-a-ref}}"), aws("sg")))
    assert plan.waves == [["sg"], ["vm"]]
    assert plan.steps[1].depends_on == ("sg",)


@pytest.mark.parametrize(("steps", "message"), [
    ((aws("a", "b"), aws("b", "c"), aws("c", "a")), "steps depend on each other in a circle: a → b → c → a"),
    ((aws("a", "a"),), "step 'a' depends on itself"),
    ((aws("a", ref="{b}"), aws("b", "a")), "steps depend on each other in a circle: a → b → a"),
    ((aws("a", "zz"),), "step 'a' depends on 'zz', which is no step of this plan"),
    ((aws("a", x="{zz}"),), "step 'a' refers to {zz}, which is no step of this plan"),
    ((aws("a"), aws("a")), "step id 'a' is used twice"),
])
def test_refusals_name_the_steps(steps, message):
    with pytest.raises(InvalidRequest) as caught:
        build_plan(rendered(*steps))
    assert str(caught.value) == message


def test_namespace_edge_only_for_kubernetes_steps():
    ns = StepSpec(id="namespace", backend="kubernetes", kind="Namespace", fields={"name": "e1"})
    cm = StepSpec(id="ConfigMap/c", backend="kubernetes", kind="ConfigMap", fields={"manifest": {}})
    plan = build_plan(rendered(cm, aws("b"), ns))
    assert plan.waves == [["b", "namespace"], ["ConfigMap/c"]]
    assert plan.to_json()["steps"][2]["depends_on"] == ["namespace"]
