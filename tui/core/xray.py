"""Xray: what a resource depends on, and what depends on it.

Each backend knows how its resources refer to one another (an Ingress names its Services, a
Pod its owner and its claims, a target group its instances): it says so with typed `Link`
records from its optional `Backend.resource_links(resources)` hook (backends/*/links.py, pure
functions over Resources). A link `source → target` reads "source depends on target" (the
Ingress on its Service, the Deployment on its ReplicaSet, the Pod on its ConfigMap), so a red
target makes its sources' roll-up red.

`XrayGraph` indexes one observation once (links by source and by target, resources by id):
`xray()` of a resource then walks only its neighbourhood. The graph of an `EnvState` is kept
for its revision (`graph_for`), so the UI asking again between two passes costs nothing.
The core gets the link functions from the caller (`LinkSources`, by backend name) and never
imports an adapter.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tui.core.env_state import EnvState
from tui.core.errors import InvalidRequest, NotFound
from tui.core.model import HEALTH_ORDER, Health, Resource

if TYPE_CHECKING:
    from tui.core.session import Session

_RANK = {h: i for i, h in enumerate(HEALTH_ORDER)}
DEPENDS_ON, DEPENDED_ON_BY = "depends_on", "depended_on_by"


@dataclass(frozen=True, slots=True)
class Link:
    """`source_id` depends on `target_id`; `relation` says how ("selects", "owns", "mounts")."""

    source_id: str
    target_id: str
    relation: str


#: What a backend's `resource_links` is: its resources in, their links out.
LinkFunction = Callable[[list[Resource]], list[Link]]
LinkSources = Mapping[str, LinkFunction]


@dataclass(slots=True)
class XrayNode:
    """One resource in an xray tree. `rolled` is the worst health of the node and everything
    shown (or counted in `more`) below it; `cycle`: the resource is already on the path above
    (not expanded again); `missing`: a link names it but the inventory has no such resource."""

    resource_id: str
    kind: str
    name: str
    health: Health
    rolled: Health
    relation: str = ""
    reason: str = ""
    status: str = ""
    children: list[XrayNode] = field(default_factory=list)
    more: int = 0  # children not listed (beyond the per-node limit); counted in `rolled`
    truncated: bool = False  # deeper levels not expanded (depth limit); counted in `rolled`
    cycle: bool = False
    missing: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"id": self.resource_id, "kind": self.kind, "name": self.name, "relation": self.relation,
                "health": str(self.health), "rolled_health": str(self.rolled), "reason": self.reason,
                "status": self.status, "cycle": self.cycle, "missing": self.missing, "more": self.more,
                "truncated": self.truncated, "children": [c.to_json() for c in self.children]}


@dataclass(slots=True)
class XrayTree:
    """Both directions around one resource. `rolled` is the root's health rolled up over what it
    depends on (a red dependency makes it red); `dependents_rolled` the worst among its dependents."""

    root: XrayNode
    depends_on: list[XrayNode]
    depended_on_by: list[XrayNode]
    rolled: Health
    dependents_rolled: Health

    def to_json(self) -> dict[str, Any]:
        return {"resource": self.root.to_json(), "rolled_health": str(self.rolled),
                "dependents_rolled_health": str(self.dependents_rolled),
                DEPENDS_ON: [n.to_json() for n in self.depends_on],
                DEPENDED_ON_BY: [n.to_json() for n in self.depended_on_by]}


def _worse(a: Health, b: Health) -> Health:
    return b if _RANK[b] > _RANK[a] else a


class XrayGraph:
    """The links of one observation, indexed once: by source, by target, resources by id."""

    def __init__(self, resources: Iterable[Resource], links: Iterable[Link]):
        self.resources: dict[str, Resource] = {r.id: r for r in resources}
        self.kinds = {(r.backend, r.kind) for r in self.resources.values()}
        out: defaultdict[str, list[Link]] = defaultdict(list)
        into: defaultdict[str, list[Link]] = defaultdict(list)
        for link in links:  # 100k links at 20k pods: one pass, duplicates dropped when walked
            out[link.source_id].append(link)
            into[link.target_id].append(link)
        self.out, self.into = dict(out), dict(into)

    @classmethod
    def of(cls, state: EnvState, sources: LinkSources) -> XrayGraph:
        return cls.of_inputs(snapshot(state), sources)

    @classmethod
    def of_inputs(cls, inputs: Mapping[str, list[Resource]], sources: LinkSources) -> XrayGraph:
        """The graph of a `snapshot()` (safe to build in a worker thread: the lists are its own)."""
        links: list[Link] = []
        for backend, resources in inputs.items():
            function = sources.get(backend)
            if function is not None and resources:
                links += function(resources)
        return cls((r for per in inputs.values() for r in per), links)

    def links(self) -> list[Link]:
        return [link for per in self.out.values() for link in per]

    def health(self, resource_id: str) -> Health:
        found = self.resources.get(resource_id)
        if found is not None:
            return found.health
        return Health.MISSING if self._kind_observed(resource_id) else Health.UNKNOWN

    def weight(self, resource_id: str) -> Health:
        """The health a resource adds to a roll-up: its own, Missing when its kind is observed but
        it is not there; nothing (Healthy) when its kind is not observed at all (RBAC may hide
        Secrets: an Unknown there must not cover a red pod)."""
        found = self.resources.get(resource_id)
        if found is not None:
            return found.health
        return Health.MISSING if self._kind_observed(resource_id) else Health.HEALTHY

    def _kind_observed(self, resource_id: str) -> bool:
        backend, _, rest = resource_id.partition("/")
        return (backend, rest.partition("/")[0]) in self.kinds

    def neighbours(self, resource_id: str, direction: str) -> list[tuple[str, str]]:
        """(resource id, relation) one step away in `direction`, each resource once (the first
        relation that names it), never the resource itself."""
        if direction == DEPENDS_ON:
            pairs = [(link.target_id, link.relation) for link in self.out.get(resource_id, ())]
        else:
            pairs = [(link.source_id, link.relation) for link in self.into.get(resource_id, ())]
        found: dict[str, str] = {}
        for rid, relation in pairs:
            if rid != resource_id and rid not in found:
                found[rid] = relation
        return list(found.items())


class _Walk:
    """One direction of one xray: nodes built down to `max_depth` with at most `max_children`
    children each and at most about `max_nodes` nodes in all (a dense or cyclic graph has
    factorially many paths: the tree stops expanding, marked `truncated`, once the budget is
    spent); the roll-up counts everything reachable below, computed once per strongly connected
    component (Tarjan), so each resource and link is visited once per walk whatever the cycles."""

    def __init__(self, graph: XrayGraph, direction: str, max_depth: int, max_children: int, max_nodes: int = 2000,
                 pending: frozenset[str] = frozenset()):
        self.graph, self.direction = graph, direction
        self.pending = pending  # backends not observed yet (their first pass running): nothing known of them
        self.max_depth, self.max_children = max_depth, max_children
        self.budget = max_nodes
        self._rolled: dict[str, Health] = {}

    def rolled(self, rid: str) -> Health:
        """Worst health of `rid` and everything it reaches in this direction. Resources on one
        cycle reach one another, so they share one value (their component's)."""
        known = self._rolled.get(rid)
        if known is not None:
            return known
        graph, direction, done = self.graph, self.direction, self._rolled
        index: dict[str, int] = {rid: 0}
        low: dict[str, int] = {rid: 0}
        stack, on_stack = [rid], {rid}
        work = [(rid, iter(graph.neighbours(rid, direction)))]
        while work:
            vid, edges = work[-1]
            for wid, _ in edges:
                if wid in done:
                    continue
                if wid not in index:
                    index[wid] = low[wid] = len(index)
                    stack.append(wid)
                    on_stack.add(wid)
                    work.append((wid, iter(graph.neighbours(wid, direction))))
                    break
                if wid in on_stack:
                    low[vid] = min(low[vid], index[wid])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[vid])
                if low[vid] == index[vid]:  # vid roots a component: everything it reaches beyond is done
                    members = []
                    while True:
                        mid = stack.pop()
                        on_stack.discard(mid)
                        members.append(mid)
                        if mid == vid:
                            break
                    inside = set(members)
                    worst = Health.HEALTHY
                    for mid in members:
                        worst = _worse(worst, self.weight(mid))
                        for nid, _ in graph.neighbours(mid, direction):
                            if nid not in inside:
                                worst = _worse(worst, done[nid])
                    for mid in members:
                        done[mid] = worst
        return done[rid]

    def weight(self, rid: str) -> Health:
        """The graph's weight, but nothing (Healthy) for a resource absent because its backend has
        not been observed yet: not found is not known until its first pass ends."""
        if rid not in self.graph.resources and rid.partition("/")[0] in self.pending:
            return Health.HEALTHY
        return self.graph.weight(rid)

    def node(self, rid: str, relation: str, path: list[str], depth: int) -> XrayNode:
        res = self.graph.resources.get(rid)
        health = self.graph.health(rid)
        backend, _, rest = rid.partition("/")
        kind, _, name = rest.partition("/")
        if res is None and backend in self.pending:
            health, reason = Health.UNKNOWN, pending_reason(backend)
        else:
            reason = (res.health_reason if res else "not found" if health is Health.MISSING
                      else "kind not listed")
        node = XrayNode(rid, res.kind if res else kind, res.name if res else name, health, health, relation,
                        reason=reason, status=res.status if res else "", missing=res is None)
        self.budget -= 1
        if rid in path:  # shown once, not followed; its roll-up is what it reaches (the cycle too)
            node.cycle = True
            node.rolled = self.rolled(rid)
            return node
        node.children, node.more, node.truncated, node.rolled = self.children(rid, path, depth)
        node.rolled = _worse(self.weight(rid), node.rolled)
        return node

    def children(self, rid: str, path: list[str], depth: int) -> tuple[list[XrayNode], int, bool, Health]:
        """The children nodes of `rid` (worst first), how many more were left out, whether the
        depth limit cut them, and their roll-up."""
        found = self.graph.neighbours(rid, self.direction)
        if not found:
            return [], 0, False, Health.HEALTHY
        ranked = []
        for nid, relation in found:
            rolled = self.rolled(nid)
            ranked.append((-_RANK[rolled], nid, relation, rolled))
        worst = Health.HEALTHY
        for entry in ranked:
            worst = _worse(worst, entry[3])
        if depth >= self.max_depth or self.budget <= 0:
            return [], 0, True, worst
        ranked.sort(key=lambda e: (e[0], e[1]))
        shown = ranked[: self.max_children]
        path.append(rid)
        try:
            nodes = [self.node(nid, relation, path, depth + 1) for _, nid, relation, _ in shown]
        finally:
            path.pop()
        return nodes, len(ranked) - len(shown), False, worst


def shown_names(nodes: list[XrayNode]) -> list[str]:
    """The name each sibling is shown with: `NAME (ID)` where two of a kind share a Name (the
    instances of an Auto Scaling group all carry its Name tag), else the name."""
    seen: dict[tuple[str, str], int] = {}
    for node in nodes:
        seen[(node.kind, node.name)] = seen.get((node.kind, node.name), 0) + 1
    out = []
    for node in nodes:
        native = node.resource_id.rsplit("/", 1)[-1]
        shared = seen[(node.kind, node.name)] > 1 and native != node.name
        out.append(f"{node.name} ({native})" if shared else node.name)
    return out


def pending_backends(state: EnvState) -> list[str]:
    """The backends of `state` not observed yet: neither an observation nor a failure (the first
    pass of this process, or of the environment's leader, is still running). Pending, not
    unreachable: no call has failed."""
    return [name for name, b in state.backends.items() if b.reachable is None]


def pending_reason(backend: str, leader: str | None = None) -> str:
    """How a pending backend is named (`envdeck status` says the same)."""
    return f"{backend} pending (first pass{' by ' + leader if leader else ''} running)"


def xray(state: EnvState | None, resource_id: str, sources: LinkSources | None = None, *, max_depth: int = 6,
         max_children: int = 50, max_nodes: int = 2000, graph: XrayGraph | None = None,
         pending: Iterable[str] = ()) -> XrayTree:
    """The tree of `resource_id` in both directions. KeyError when the environment has no such
    resource. `graph` defaults to the state's graph for its revision (built once). Each direction
    shows at most about `max_nodes` nodes; the roll-ups still count everything reachable.
    `pending`: backends not observed yet; a node of theirs not found is Unknown, "pending"."""
    if graph is None:
        assert state is not None, "xray() needs a state or a graph"
        graph = graph_for(state, sources or {})
    res = graph.resources.get(resource_id)
    if res is None:
        raise KeyError(resource_id)
    trees = {}
    for direction in (DEPENDS_ON, DEPENDED_ON_BY):
        walk = _Walk(graph, direction, max_depth, max_children, max_nodes, frozenset(pending))
        trees[direction] = walk.children(resource_id, [], 0)
    down, up = trees[DEPENDS_ON], trees[DEPENDED_ON_BY]
    root = XrayNode(res.id, res.kind, res.name, res.health, _worse(res.health, down[3]), "", res.health_reason,
                    res.status)
    return XrayTree(root, down[0], up[0], root.rolled, up[3])


# The graph of a state for its revision (the reconciler bumps it on every change). Keyed by
# the state object's id, holding the state too, so that a new state never reads a dead one's.
_GRAPHS: dict[int, tuple[EnvState, tuple, XrayGraph]] = {}


def snapshot(state: EnvState) -> dict[str, list[Resource]]:
    """The state's resources by backend, as lists of their own (taken on the event loop; a
    worker thread may then build the graph while the reconciler goes on)."""
    return {backend: list(per.values()) for backend, per in list(state.resources.items())}


def graph_key(state: EnvState, sources: LinkSources) -> tuple:
    return (state.revision, tuple((name, id(per), len(per)) for name, per in state.resources.items()),
            tuple(sorted(sources)))


def cached_graph(state: EnvState, sources: LinkSources) -> XrayGraph | None:
    """The graph of the state's current observation when it was built already, else None."""
    cached = _GRAPHS.get(id(state))
    if cached is not None and cached[0] is state and cached[1] == graph_key(state, sources):
        return cached[2]
    return None


def remember_graph(state: EnvState, key: tuple, graph: XrayGraph) -> None:
    if len(_GRAPHS) > 32:
        _GRAPHS.clear()
    _GRAPHS[id(state)] = (state, key, graph)


def graph_for(state: EnvState, sources: LinkSources) -> XrayGraph:
    """The xray graph of the state's current observation, built once per revision (at 20k pods
    and 100k links: 0.2-0.8 s, docs/benchmarks.md; the screen builds it in a worker thread)."""
    graph = cached_graph(state, sources)
    if graph is None:
        key = graph_key(state, sources)
        graph = XrayGraph.of(state, sources)
        remember_graph(state, key, graph)
    return graph


def link_sources(session: Session, env: str) -> dict[str, LinkFunction]:
    """The link functions of the environment's backends (each backend's `resource_links`)."""
    state = session.state(env)
    return {name: session.backend_for(env, f"{name}/").resource_links for name in {*state.backends, *state.resources}}


def target_in(state: EnvState, text: str) -> str:
    """The id of the resource `text` names in the state's observation: the id itself; else the
    one resource whose id ends with `/TEXT` (its native id, or KIND/NAME: `staging-workers`,
    `Ingress/web`), else the one whose Name is `text` (`web-1`, an EC2 instance's Name tag). A
    native id wins over Names (`staging-web`: the load balancer, not a security group Named so).
    Several: InvalidRequest listing them (as `act` does for a refused id); none: `text` unchanged
    (xray_in then says there is no such resource)."""
    if state.resource(text) is not None:
        return text
    found = {r.id: r for per in list(state.resources.values()) for r in list(per.values())}
    by_id = sorted(rid for rid in found if rid.endswith(f"/{text}"))
    by_name = sorted(rid for rid, r in found.items() if r.name == text and rid not in by_id)
    if len(by_id) == 1 or (not by_id and len(by_name) == 1):
        return (by_id or by_name)[0]
    named = by_id + by_name
    if not named:
        return text
    shown = [rid if found[rid].name in ("", rid.rsplit("/", 1)[-1]) else f"{rid} ({found[rid].name})"
             for rid in named[:8]]
    more = f", … {len(named) - 8} more" if len(named) > 8 else ""
    raise InvalidRequest(f"{text!r} names {len(named)} resources in {state.name}: {', '.join(shown)}{more}; "
                         "give one of these ids")


def xray_in(session: Session, env: str, resource_id: str, **limits: int) -> XrayTree:
    """`xray()` of a resource of a visible environment as last observed (NotFound if absent)."""
    state = session.state(env)
    try:
        return xray(state, resource_id, link_sources(session, env), pending=pending_backends(state), **limits)
    except KeyError:
        raise NotFound(f"no resource {resource_id} in {env}") from None
