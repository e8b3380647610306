"""Environment A against environment B: matched by role (roles.py), compared on the fields
of each kind (fields.py), with ignore rules.

    diff(a_env, a_resources, b_env, b_resources, *, ignore, mapping, backends=None,
         contents=None) -> EnvDiff

`backends`: only these backends (None: all). `contents`: per (environment, resource id) of either side,
the per-key digests of a ConfigMap's or Secret's values (`ContentDigests`, computed in
memory by the backend with a salt of this run, never stored, never shown); without them
those kinds are compared on key names only. Pure and synchronous: the 10k × 10k benchmark
(bench/diff_bench.py) runs it as is.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping

from tui.core.compare.fields import CONTENT_KINDS, comparable, ignored
from tui.core.compare.records import HIDDEN, EnvDiff, FieldDiff, OnlyIn, PairDiff
from tui.core.compare.roles import NO_MAPPING, RoleMapping, match
from tui.core.model import Resource

ContentDigests = Mapping[tuple[str, str], Mapping[str, str]]  # (env, resource id) -> key -> digest


def new_salt() -> bytes:
    """A salt for one diff run: digests of two runs cannot be compared, nor looked up."""
    return secrets.token_bytes(16)


def digest(salt: bytes, value: bytes) -> str:
    return hashlib.blake2b(value, key=salt, digest_size=16).hexdigest()


def _pair_fields(a_env: str, a: Resource, b_env: str, b: Resource, rules: frozenset[str],
                 contents: ContentDigests) -> list[FieldDiff]:
    hidden = a.backend == "kubernetes" and a.kind in CONTENT_KINDS
    fa = comparable(a_env, a, contents.get((a_env, a.id)) if hidden else None)
    fb = comparable(b_env, b, contents.get((b_env, b.id)) if hidden else None)
    if fa == fb:  # most pairs: nothing to sort or filter
        return []
    out: list[FieldDiff] = []
    for path in sorted(fa.keys() | fb.keys()):
        if ignored(path, rules):
            continue
        va, vb = fa.get(path), fb.get(path)
        if va == vb:
            continue
        if hidden:
            out.append(FieldDiff(path, HIDDEN if path in fa else None, HIDDEN if path in fb else None, True))
        else:
            out.append(FieldDiff(path, va, vb))
    return out


def diff(a_env: str, a_resources: Iterable[Resource], b_env: str, b_resources: Iterable[Resource], *,
         ignore: Iterable[str] = (), mapping: RoleMapping = NO_MAPPING, backends: Iterable[str] | None = None,
         contents: ContentDigests | None = None) -> EnvDiff:
    wanted = None if backends is None else frozenset(backends)
    if wanted is not None:
        a_resources = [r for r in a_resources if r.backend in wanted]
        b_resources = [r for r in b_resources if r.backend in wanted]
    rules = frozenset(ignore)
    matched = match(a_env, a_resources, b_env, b_resources, mapping)
    out = EnvDiff(a_env, b_env, sorted(rules), None if wanted is None else sorted(wanted), len(matched.pairs))
    for pair in matched.pairs:
        fields = _pair_fields(a_env, pair.a, b_env, pair.b, rules, contents or {})
        if fields:
            out.differing.append(PairDiff(pair.role, pair.a.backend, pair.a.kind, pair.a.id, pair.b.id, fields))
    out.only_in_a = [OnlyIn(role, r.backend, r.kind, r.id) for role, r in matched.only_in_a]
    out.only_in_b = [OnlyIn(role, r.backend, r.kind, r.id) for role, r in matched.only_in_b]
    return out


def content_pairs(a_env: str, a_resources: Iterable[Resource], b_env: str, b_resources: Iterable[Resource],
                  mapping: RoleMapping = NO_MAPPING) -> tuple[list[Resource], list[Resource]]:
    """The ConfigMaps and Secrets matched in both environments: the ones whose values the
    caller reads (as digests) before `diff`."""
    a_list, b_list = [], []
    for pair in match(a_env, a_resources, b_env, b_resources, mapping).pairs:
        if pair.a.backend == "kubernetes" and pair.a.kind in CONTENT_KINDS:
            a_list.append(pair.a)
            b_list.append(pair.b)
    return a_list, b_list
