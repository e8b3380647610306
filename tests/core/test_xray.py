"""The xray graph on hand-made resources and links: health rolled up along both directions,
cycles guarded (a resource already above is shown once, not followed), the per-node child limit
still counting the hidden children's health, Missing targets, and one graph per revision."""

from __future__ import annotations

from tui.core.env_state import EnvState
from tui.core.model import Health, Resource
from tui.core.xray import Link, graph_for, xray


def res(name: str, health: Health = Health.HEALTHY, kind: str = "thing") -> Resource:
    return Resource(f"kubernetes/{kind}/{name}", "kubernetes", kind, name, health=health)


def state_of(*resources: Resource) -> EnvState:
    return EnvState("t", "observe", resources={"kubernetes": {r.id: r for r in resources}})


def links_of(pairs: list[tuple[str, str]]):
    calls = []

    def function(resources: list[Resource]) -> list[Link]:
        calls.append(len(resources))
        return [Link(f"kubernetes/thing/{a}", f"kubernetes/thing/{b}", "uses") for a, b in pairs]

    return function, calls


def test_health_rolls_up_to_the_root_and_the_worst_comes_first():
    state = state_of(res("ing", Health.PROGRESSING), res("svc"), res("ok"), res("bad", Health.DEGRADED),
                     res("cm"))
    function, _ = links_of([("ing", "svc"), ("svc", "ok"), ("svc", "bad"), ("bad", "cm")])
    tree = xray(state, "kubernetes/thing/ing", {"kubernetes": function})
    [svc] = tree.depends_on
    assert svc.health is Health.HEALTHY and svc.rolled is Health.DEGRADED
    assert [c.name for c in svc.children] == ["bad", "ok"]
    assert tree.root.health is Health.PROGRESSING and tree.rolled is Health.DEGRADED
    up = xray(state, "kubernetes/thing/cm", {"kubernetes": function})
    assert [n.name for n in up.depended_on_by] == ["bad"]
    assert [n.name for n in up.depended_on_by[0].children] == ["svc"]
    assert up.depended_on_by[0].children[0].children[0].name == "ing"
    assert up.dependents_rolled is Health.DEGRADED and up.rolled is Health.HEALTHY


def test_a_cycle_is_shown_once_and_not_followed():
    state = state_of(res("a"), res("b"), res("c", Health.DEGRADED))
    function, _ = links_of([("a", "b"), ("b", "c"), ("c", "a")])
    tree = xray(state, "kubernetes/thing/a", {"kubernetes": function})
    [b] = tree.depends_on
    [c] = b.children
    [back] = c.children
    assert back.name == "a" and back.cycle and back.children == []
    assert b.rolled is Health.DEGRADED and tree.rolled is Health.DEGRADED
    up = xray(state, "kubernetes/thing/a", {"kubernetes": function}).depended_on_by
    assert [n.name for n in up] == ["c"] and up[0].children[0].children[0].cycle


def test_child_limit_counts_the_hidden_children_and_missing_targets():
    many = [res(f"p{i:03d}") for i in range(120)]
    many[117].health = Health.DEGRADED
    state = state_of(res("svc"), *many, res("cm", kind="ConfigMap"))
    pairs = [("svc", f"p{i:03d}") for i in range(120)]
    function, _ = links_of(pairs)

    def with_missing(resources):
        return [*function(resources), Link("kubernetes/thing/p000", "kubernetes/ConfigMap/gone", "mounts"),
                Link("kubernetes/thing/p001", "kubernetes/Widget/x", "uses")]

    tree = xray(state, "kubernetes/thing/svc", {"kubernetes": with_missing}, max_children=10)
    assert len(tree.depends_on) == 10 and [n.name for n in tree.depends_on[:2]] == ["p117", "p000"]
    assert tree.rolled is Health.DEGRADED, "a target of a kind never observed does not cover the red one"
    p000 = xray(state, "kubernetes/thing/p000", {"kubernetes": with_missing}).depends_on[0]
    assert p000.missing and p000.health is Health.MISSING  # ConfigMaps are observed: this one is not there
    p001 = xray(state, "kubernetes/thing/p001", {"kubernetes": with_missing}).depends_on[0]
    assert p001.missing and p001.health is Health.UNKNOWN  # no Widget observed at all: nothing to say
    # more than the limit at a level: the count is kept on the parent for the views
    limited = xray(state, "kubernetes/thing/p117", {"kubernetes": with_missing}, max_children=10)
    assert limited.depended_on_by[0].name == "svc" and limited.depended_on_by[0].more == 0
    nested = xray(state_of(res("top"), res("svc"), *many), "kubernetes/thing/top",
                  {"kubernetes": links_of([("top", "svc"), *pairs])[0]}, max_children=10)
    assert nested.depends_on[0].more == 110 and nested.depends_on[0].rolled is Health.DEGRADED


def test_the_graph_is_built_once_per_revision():
    state = state_of(res("a"), res("b"))
    function, calls = links_of([("a", "b")])
    sources = {"kubernetes": function}
    first = graph_for(state, sources)
    xray(state, "kubernetes/thing/a", sources)
    assert graph_for(state, sources) is first and calls == [2]
    state.resources["kubernetes"]["kubernetes/thing/c"] = res("c")
    state.revision += 1
    assert graph_for(state, sources) is not first and calls == [2, 3]


def test_an_unknown_resource_is_a_key_error():
    import pytest

    with pytest.raises(KeyError):
        xray(state_of(res("a")), "kubernetes/thing/zzz", {})
