"""The `/` filter of the resources table and of the record views (k9s habits).

    web            regular expression, case-insensitive, on name, kind, backend, status,
                   health and id (a broken expression matches literally)
    -f wb  or ~wb  fuzzy on the name: the letters in order (Textual's fuzzy matcher)
    !web           inverts (combine: !~wb, !-f wb)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from textual.fuzzy import Matcher

from tui.core.model import Resource

SHORT_BACKEND = {"kubernetes": "k8s"}


@dataclass(frozen=True)
class ResourceFilter:
    text: str = ""

    @property
    def active(self) -> bool:
        return bool(self.text.strip())

    def describe(self) -> str:
        return self.text.strip()

    def matcher(self) -> Callable[[Resource], bool]:
        test = self.text_matcher()
        return lambda r: test(haystack(r), r.name)

    def text_matcher(self) -> Callable[[str, str], bool]:
        """`test(haystack, name)`: the expression searches `haystack`, fuzzy (`~`, `-f`) matches
        `name`. The record views (Faults, Timeline, Compliance, Drift, Metrics) filter their rows
        with it: the haystack is the row's text, the name its resource."""
        query = self.text.strip()
        invert = False
        if query.startswith("!"):
            invert, query = True, query[1:].lstrip()
        if not query:
            return lambda hay, name: not invert
        if query.startswith("-f ") or query.startswith("~"):
            letters = (query[3:] if query.startswith("-f ") else query[1:]).strip()
            if not letters:
                return lambda hay, name: not invert
            fuzzy = Matcher(letters, case_sensitive=False)

            def test(hay: str, name: str) -> bool:
                try:
                    return fuzzy.match(name) > 0
                except ValueError:  # Textual's matcher on some inputs; treat as no match
                    return False
        else:
            try:
                pattern = re.compile(query, re.IGNORECASE)
            except re.error:
                pattern = re.compile(re.escape(query), re.IGNORECASE)

            def test(hay: str, name: str) -> bool:
                return pattern.search(hay) is not None
        if invert:
            return lambda hay, name: not test(hay, name)
        return test


# Search text per resource id, with the fields of it that can change (name, status, health;
# the kind and the backend are part of the id). It holds no Resource object: a churning
# inventory's gone pods (and every version of a changing one) are not kept alive by it,
# only their text until the cache is cleared. Bounded: cleared when it grows too big.
_HAYSTACKS: dict[str, tuple[str, str, object, str]] = {}
_HAYSTACKS_MAX = 60_000


def haystack(r: Resource) -> str:
    entry = _HAYSTACKS.get(r.id)
    if entry is not None and entry[1] == r.status and entry[2] == r.health and entry[0] == r.name:
        return entry[3]
    text = f"{r.name} {r.kind} {r.backend} {SHORT_BACKEND.get(r.backend, '')} {r.status} {r.health} {r.id}"
    if len(_HAYSTACKS) >= _HAYSTACKS_MAX:
        _HAYSTACKS.clear()
    _HAYSTACKS[r.id] = (r.name, r.status, r.health, text)
    return text


def forget_haystacks(ids: Iterable[str]) -> None:
    """Drop the search texts of resources that are gone (the table knows when)."""
    for rid in ids:
        _HAYSTACKS.pop(rid, None)
