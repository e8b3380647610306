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


class CountingGraph:
    """Counts the graph's neighbour lookups (the walk's unit of work) around a real XrayGraph."""

    def __init__(self, graph):
        self.graph, self.calls = graph, 0

    def __getattr__(self, name):
        return getattr(self.graph, name)

    def neighbours(self, resource_id, direction):
        self.calls += 1
        return self.graph.neighbours(resource_id, direction)


def test_a_dense_cyclic_graph_rolls_up_in_linear_work_and_the_tree_stops_at_its_node_budget():
    from tui.core.xray import XrayGraph

    def count_nodes(nodes):
        return sum(1 + count_nodes(n.children) for n in nodes)

    names = [f"n{i}" for i in range(9)]
    resources = [res(n) for n in names]
    resources[-1].health = Health.DEGRADED
    pairs = [(a, b) for a in names for b in names if a != b]  # complete graph: every path is a cycle
    function, _ = links_of(pairs)
    counting = CountingGraph(XrayGraph.of_inputs({"kubernetes": resources}, {"kubernetes": function}))
    tree = xray(None, "kubernetes/thing/n0", graph=counting, max_nodes=300)
    # one lookup per resource for the roll-up, two per expanded node, at most: not one per path (9! before)
    assert counting.calls < 2 * len(names) * 2 + 2 * 2 * 320, counting.calls
    assert tree.rolled is Health.DEGRADED and tree.dependents_rolled is Health.DEGRADED
    assert all(n.rolled is Health.DEGRADED for n in tree.depends_on)
    assert count_nodes(tree.depends_on) <= 300 + 50 and count_nodes(tree.depended_on_by) <= 300 + 50
    assert any(n.truncated for n in tree.depends_on), "the budget cut the tree and says so"
    # pods and ConfigMaps that own one another (controller references both ways), each pod mounting each map
    pods = [res(f"p{i}", kind="Pod") for i in range(9)]
    maps = [res(f"c{i}", kind="ConfigMap") for i in range(9)]
    maps[4].health = Health.DEGRADED

    def mutual(_resources):
        return [Link(p.id, c.id, "mounts") for p in pods for c in maps] + [
            Link(c.id, p.id, "owned by") for p, c in zip(pods, maps, strict=True)]

    counting = CountingGraph(XrayGraph.of_inputs({"kubernetes": pods + maps}, {"kubernetes": mutual}))
    tree = xray(None, pods[0].id, graph=counting)
    assert counting.calls < 4 * 18 + 2 * 2 * 2050, counting.calls
    assert tree.rolled is Health.DEGRADED


def test_a_cycle_node_carries_what_it_reaches():
    state = state_of(res("r"), res("a"), res("bad", Health.DEGRADED))
    function, _ = links_of([("r", "a"), ("a", "r"), ("r", "bad")])
    tree = xray(state, "kubernetes/thing/r", {"kubernetes": function})
    a = next(n for n in tree.depends_on if n.name == "a")
    [back] = a.children
    assert back.cycle and back.health is Health.HEALTHY and back.rolled is Health.DEGRADED
    assert a.rolled is Health.DEGRADED, "a depends on r, which depends on bad"


def test_the_cli_tree_shows_ids_of_siblings_sharing_a_name():
    from tui.cli.xray_cmd import tree_lines
    from tui.core.xray import XrayNode

    def inst(native: str) -> XrayNode:
        return XrayNode(f"aws/ec2-instance/{native}", "ec2-instance", "staging-asg-worker", Health.HEALTHY,
                        Health.HEALTHY, relation="launched")

    lines = tree_lines([inst("i-0aa"), inst("i-0bb")])
    assert "ec2-instance/staging-asg-worker (i-0aa)" in lines[0] and "(i-0bb)" in lines[1], lines
