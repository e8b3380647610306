"""RowSelection (the resources table's filter and sort, with its reuse of earlier work) gives
exactly what filtering and sorting from scratch gives: typing, erasing, regex, fuzzy,
inverted, non-ASCII text, a kind filter and a changed inventory."""

from __future__ import annotations

import dataclasses

from tui.core.model import Health, Resource
from tui.widgets.resource_filter import ResourceFilter, haystack
from tui.widgets.resource_table import sort_key
from tui.widgets.row_selection import RowSelection, plain_query


def inventory(tag: str = "") -> list[Resource]:
    names = ["app-01", "app-010", "App-02", "web-1", "Über-api", "db", "app-01", "cache-9"]
    kinds = ["Deployment", "Pod", "Service", "service", "Pod", "rds-instance", "Deployment", "Pod"]
    return [Resource(id=f"kubernetes/{k}/{n}{tag}-{i}", backend="kubernetes" if i % 3 else "aws", kind=k,
                     name=n, health=Health.HEALTHY if i % 2 else Health.DEGRADED, status=f"{i}/3 ready{tag}")
            for i, (n, k) in enumerate(zip(names, kinds, strict=True))]


def from_scratch(resources: list[Resource], kind: str, text: str, sort: str = "name") -> list[str]:
    exact = any(r.kind == kind for r in resources)
    match = ResourceFilter(text).text_matcher()
    chosen = [r for r in resources if (not kind or (r.kind == kind if exact else r.kind.lower() == kind.lower()))
              and match(haystack(r), r.name)]
    return [r.id for r in sorted(chosen, key=sort_key(sort))]


def select(sel: RowSelection, resources: list[Resource], kind: str, text: str, sort: str = "name") -> list[str]:
    found = sel.select(resources, kind=kind, query=ResourceFilter(text), sort_key=sort_key(sort),
                       sort_spec=(sort, False, False), group=False, reverse=False, previous={})
    assert found.keys == [r.id for r in found.resources]
    assert all(found.index[key] == i for i, key in enumerate(found.keys))
    return found.keys


QUERIES = ["", "a", "ap", "app", "app-", "app-0", "app-01", "app-0", "app", "a", "", "APP-01", "ü", "über",
           "app|web", "^app", "~ap1", "-f wb", "!app", "! app-01", "(", "ready", "3/3", "k8s", "aws db"]


def test_every_query_matches_a_fresh_filter_and_sort():
    resources = inventory()
    sel = RowSelection()
    for kind in ("", "Pod", "service", "SERVICE"):
        for text in QUERIES:
            assert select(sel, resources, kind, text) == from_scratch(resources, kind, text), (kind, text)


def test_new_objects_or_another_sort_are_not_served_from_the_old_results():
    sel = RowSelection()
    first = inventory()
    assert select(sel, first, "", "app-01") == from_scratch(first, "", "app-01")
    changed = inventory(tag="x")  # new objects: the ids and statuses differ
    assert select(sel, changed, "", "app-01") == from_scratch(changed, "", "app-01")
    assert select(sel, changed, "", "ready", sort="health") == from_scratch(changed, "", "ready", sort="health")
    fewer = changed[:4]
    assert select(sel, fewer, "", "") == from_scratch(fewer, "", "")


def test_duplicated_names_are_found_per_kind():
    sel = RowSelection()
    select(sel, inventory(), "", "")
    assert sel.duplicated == frozenset({("Deployment", "app-01")})


def test_plain_queries_are_those_a_substring_test_answers_like_the_regex():
    assert plain_query("app-01") and plain_query("3/3 ready")
    for query in ("app.*", "a|b", "^a", "über", "!app", "~ab", "-f ab", "(x"):
        assert not plain_query(query), query


def test_an_update_of_some_objects_is_patched_in_and_answers_like_a_fresh_sort():
    """A reconciler update that replaces a few objects (same ids, same places: a pod's status
    changed) is taken into the sorted order in place; every answer stays the fresh one: the new
    objects are shown, their new text is searched, and a change of the sort column's value
    (or an id that came or went) sorts again."""
    sel = RowSelection()
    first = inventory()
    for sort in ("name", "status", "health"):
        select(sel, first, "", "ready", sort=sort)
    assert select(sel, first, "", "ready") == from_scratch(first, "", "ready")
    sel.prepare_search()

    def replaced(resources: list[Resource], i: int, **fields) -> list[Resource]:
        out = list(resources)
        out[i] = dataclasses.replace(out[i], **fields)
        return out

    status = replaced(first, 3, status="CrashLoopBackOff")  # not the sort column (name): patched in
    found = sel.select(status, kind="", query=ResourceFilter("crashloop"), sort_key=sort_key("name"),
                       sort_spec=("name", False, False), group=False, reverse=False, previous={})
    assert [r.id for r in found.resources] == [status[3].id] and found.resources[0] is status[3]
    assert sel._places is not None  # the patch path ran (no full sort)
    for text in ("", "ready", "crash", "web"):
        assert select(sel, status, "", text) == from_scratch(status, "", text), text
    shown = sel.select(status, kind="", query=ResourceFilter(""), sort_key=sort_key("name"),
                       sort_spec=("name", False, False), group=False, reverse=False, previous={})
    assert all(a is b for a, b in zip(sorted(shown.resources, key=lambda r: r.id),
                                      sorted(status, key=lambda r: r.id), strict=True))
    # the sort column's value changed: the row moves (sorted again, not patched)
    resorted = replaced(status, 0, status="0 zzz")
    assert select(sel, resorted, "", "", sort="status") == from_scratch(resorted, "", "", sort="status")
    moved = replaced(resorted, 2, status="!first")
    assert select(sel, moved, "", "", sort="status") == from_scratch(moved, "", "", sort="status")
    # an id gone: sorted again
    assert select(sel, moved[1:], "", "app") == from_scratch(moved[1:], "", "app")
