"""The checks of `templates:` across keys that `envdeck check` runs after the models
validated (tui/core/lifecycle/template.py): resource ids, `depends_on`, cycles, placeholders,
manifests on disk, pools, ttl, defaults. Each problem carries the path of the key it is about;
`parse_config` turns it into `PATH:LINE:COL` with the YAML marks. Also the line per template
that `envdeck check` prints."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tui.core.lifecycle.template import (
    BUILTIN_PLACEHOLDERS,
    EDGE_STEP,
    NAMESPACE_STEP,
    RESERVED_STEP_IDS,
    EdgePoolConfig,
    TemplateConfig,
    placeholders,
    read_manifests,
    walk_strings,
)
from tui.core.redaction import is_secret_name


def template_summary(name: str, t: TemplateConfig) -> str:
    """One line for `envdeck check`."""
    parts = [f"{len(t.parameters)} parameter(s)" + (f" ({', '.join(t.parameters)})" if t.parameters else "")]
    if t.aws:
        parts.append(f"aws {t.aws.region} ({len(t.aws.resources)} resources)")
    if t.kubernetes:
        parts.append(f"kubernetes ns {t.kubernetes.namespace} ({len(t.kubernetes.manifests)} manifest file(s))")
    if t.edge:
        parts.append(f"edge {t.edge.count} node(s) of pool {t.edge.pool}")
    ttl = f"ttl {_duration(t.ttl)}" if t.ttl else "no ttl"
    if t.max_ttl:
        ttl += f" (max {_duration(t.max_ttl)})"
    return f"template {name}: {'; '.join(parts)}; {ttl}; on_failure={t.on_failure}"


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


# --- checks across keys (envdeck check) -------------------------------------

@dataclass(frozen=True, slots=True)
class Problem:
    loc: tuple[Any, ...]          # a path in the config data, as pydantic locations are
    message: str


#: A parameter whose name says it holds a reference (`db_secret_name`, `api_token_arn`), not a secret.
_REFERENCE = re.compile(r"(?:[_-](?:ref|arn|name)|(?<=[a-z0-9])(?:Ref|Arn|Name))$")


def config_problems(templates: dict[str, TemplateConfig], pools: dict[str, EdgePoolConfig],
                    source: str) -> list[Problem]:
    problems: list[Problem] = []
    for name, template in templates.items():
        problems.extend(template_problems(name, template, pools, source))
    return problems


def template_problems(name: str, t: TemplateConfig, pools: dict[str, EdgePoolConfig],
                      source: str) -> list[Problem]:
    at = ("templates", name)
    out: list[Problem] = []
    if t.ttl is not None and t.max_ttl is not None and t.ttl > t.max_ttl:
        out.append(Problem(at + ("ttl",), "ttl is longer than max_ttl"))
    for pname, spec in t.parameters.items():
        if is_secret_name(pname) and not _REFERENCE.search(pname):
            out.append(Problem(at + ("parameters", pname), f"parameter {pname!r} looks like a secret: pass secrets "
                               "by reference: the name of a Kubernetes Secret or a Secrets Manager ARN; envdeck "
                               "stores parameters (and they come on the command line); a name ending in "
                               "_ref, _arn or _name says it holds a reference"))
        if pname in BUILTIN_PLACEHOLDERS:
            out.append(Problem(at + ("parameters", pname), f"parameter {pname!r} would hide {{{pname}}}; rename it"))
        elif pname in t.resource_ids():
            out.append(Problem(at + ("parameters", pname), f"parameter {pname!r} has the name of a resource id"))
        if spec.default is not None:
            try:
                spec.check(spec.default)
            except ValueError as exc:
                out.append(Problem(at + ("parameters", pname, "default"), f"the default {exc}"))
    plain = set(BUILTIN_PLACEHOLDERS) | set(t.parameters)
    ids = t.resource_ids()
    known_ids = set(ids)
    refs = plain | known_ids

    def strings(loc: tuple[Any, ...], value: Any, allowed: set[str]) -> None:
        for sub, text in walk_strings(value):
            out.extend(Problem(loc + sub, msg) for msg in _placeholder_problems(text, allowed, known_ids))

    strings(at + ("description",), t.description, plain)
    if t.access is not None:
        strings(at + ("access",), t.access.model_dump(), plain)
    if t.aws is not None:
        for key in ("region", "profile", "endpoint_url", "ssh_user", "identity_file"):
            strings(at + ("aws", key), getattr(t.aws, key), plain)
        out.extend(_resource_problems(at + ("aws", "resources"), t, refs, plain))
    if t.kubernetes is not None:
        k = t.kubernetes
        for key in ("kubeconfig", "context", "namespace"):
            strings(at + ("kubernetes", key), getattr(k, key), plain)
        seen: dict[str, int] = {}
        for index, entry in enumerate(k.manifests):
            loc = at + ("kubernetes", "manifests", index)
            try:
                docs = read_manifests(entry, source)
            except ValueError as exc:
                out.append(Problem(loc, f"{entry}: {exc}"))
                continue
            for number, doc in enumerate(docs, start=1):
                step = f"{doc['kind']}/{doc['metadata']['name']}"
                if step in seen:
                    out.append(Problem(loc, f"{entry}: {step} is also in manifest {seen[step] + 1}"))
                seen.setdefault(step, index)
                for sub, text in walk_strings(doc):
                    allowed = plain if sub == ("metadata", "name") else refs  # the step id: known before
                    for msg in _placeholder_problems(text, allowed, known_ids):
                        where = ".".join(str(p) for p in sub)
                        out.append(Problem(loc, f"{entry}: document {number}, {where}: {msg}"))
    if t.edge is not None:
        pool = pools.get(t.edge.pool)
        if pool is None:
            declared = ", ".join(sorted(pools)) or "none"
            out.append(Problem(at + ("edge", "pool"),
                               f"pool {t.edge.pool!r} is not declared in edge_pools (declared: {declared})"))
        elif t.edge.count > len(pool.nodes):
            out.append(Problem(at + ("edge", "count"),
                               f"count {t.edge.count} is more than the {len(pool.nodes)} node(s) of pool {t.edge.pool!r}"))
    return out


def _placeholder_problems(text: str | None, allowed: set[str], known_ids: set[str]) -> list[str]:
    if not text:
        return []
    try:
        names = placeholders(text)
    except ValueError as exc:
        return [str(exc)]
    out = []
    for name in names:
        if name not in allowed:
            if name in known_ids:
                out.append(f"{{{name}}} (a resource's id) cannot be used here, only in what a template creates")
            else:
                out.append(f"unknown placeholder {{{name}}}; known: "
                           + ", ".join(f"{{{n}}}" for n in sorted(allowed)))
    return out


def _resource_problems(at: tuple[Any, ...], t: TemplateConfig, refs: set[str], plain: set[str]) -> list[Problem]:
    assert t.aws is not None
    out: list[Problem] = []
    first: dict[str, int] = {}
    known_ids = set(t.resource_ids())
    step_ids = known_ids | ({NAMESPACE_STEP} if t.kubernetes else set()) | ({EDGE_STEP} if t.edge else set())
    edges: dict[str, set[str]] = {}
    for index, res in enumerate(t.aws.resources):
        loc = at + (index,)
        if res.id in RESERVED_STEP_IDS:
            out.append(Problem(loc + ("id",), f"id {res.id!r} is the step id of "
                                              f"{'the namespace' if res.id == NAMESPACE_STEP else 'the edge claim'}"))
        if res.id in first:
            out.append(Problem(loc + ("id",), f"id {res.id!r} is also resource {first[res.id] + 1}"))
        first.setdefault(res.id, index)
        deps = edges.setdefault(res.id, set())
        for j, dep in enumerate(res.depends_on):
            if dep not in step_ids:
                out.append(Problem(loc + ("depends_on", j), f"depends_on names {dep!r}, which is no step of "
                                   f"this template (ids: {', '.join(sorted(step_ids)) or 'none'})"))
            elif dep == res.id:
                out.append(Problem(loc + ("depends_on", j), f"{res.id!r} depends on itself"))
            else:
                deps.add(dep)
        for key, value in res.model_dump(exclude={"id", "depends_on", "kind", "timeout"}).items():
            allowed = plain if key == "name" else refs
            for sub, text in walk_strings(value):
                msgs = _placeholder_problems(text, allowed, known_ids)
                out.extend(Problem(loc + (key,) + sub, m) for m in msgs)
                if not msgs:
                    deps.update(n for n in placeholders(text) if n in known_ids and n != res.id)
    cycle = find_cycle(edges)
    if cycle:
        where = at + (first[cycle[0]], "depends_on")
        out.append(Problem(where, "steps depend on each other in a circle: " + " → ".join(cycle + [cycle[0]])))
    return out


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph `node → what it depends on`, in a deterministic order."""
    state: dict[str, int] = {}
    for start in sorted(edges):
        if state.get(start):
            continue
        stack: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(edges.get(start, ()))))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
            elif state.get(child) == 1:
                return path[path.index(child):]
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(edges.get(child, ())))))
    return None
