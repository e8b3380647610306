"""Which resources the resources table shows, in which order — computed so that a
filter keystroke over 20,000 resources costs a few milliseconds, not a full pass.

The work is kept while the table is handed the same Resource objects again (a
keystroke, an age tick: backends hand over the same object when nothing changed):

- the inventory is sorted once per sort column (and when the objects change), and a
  filter only picks from that order — filtering a sorted list keeps it sorted;
- each resource's search text is lowered once per Resource object, kept by resource id
  across inventories (a reconciler update lowers the changed rows' texts only), and
  done ahead in idle time: `prepare_some` lowers a slice of the rows not yet done
  (the resources table calls it between frames after each fill or update), so the
  `/` that opens the filter box and its first keystroke only filter;
- a plain-text query (no regular-expression characters, ASCII) is a substring test
  on the lowered text, the same answer `re.IGNORECASE` gives for ASCII, and a query
  that contains an earlier plain query only searches that query's result (typing
  narrows);
- every query's result is kept for these objects, so backspace is a lookup.

Anything else (a regular expression, `~` fuzzy, `!` inverted, non-ASCII text) goes
through `ResourceFilter.text_matcher`, as before, over the sorted inventory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import compress
from operator import attrgetter, is_, is_not
from typing import Any

from tui.core.model import Resource
from tui.widgets.resource_filter import ResourceFilter, forget_haystacks, haystack

REGEX_CHARACTERS = frozenset(".^$*+?{}[]\\|()")
KEPT_RESULTS = 64  # query results kept for one inventory (a typed word and its backspaces)
PREPARE_SLICE = 2000  # rows whose search text one idle slice lowers (20k rows: ~10 slices of a few ms)
_NAME = attrgetter("name")
_ID = attrgetter("id")


def gone_slack(live: int) -> int:
    """How many gone resources' texts may stay before they are dropped: a few, so that a
    pod deleted now and then does not cost a pass over every text (20,000 rows: ~2 ms)."""
    return live // 16 + 64


def plain_query(query: str) -> bool:
    """True when `query` is plain text: searching it is a case-insensitive substring test."""
    return (query.isascii() and not query.startswith(("!", "~", "-f "))
            and not REGEX_CHARACTERS.intersection(query))


@dataclass
class Selection:
    """The result of one query: the resources shown and their row keys, in display order."""

    resources: list[Resource]
    keys: list[str]
    positions: list[int] = field(repr=False)  # into the sorted inventory
    _index: dict[str, int] | None = field(default=None, repr=False)

    @property
    def index(self) -> dict[str, int]:
        """Row key → row number (built once per result: backspace reuses it)."""
        if self._index is None:
            self._index = {key: i for i, key in enumerate(self.keys)}
        return self._index


def duplicated_names(resources: list[Resource]) -> frozenset[tuple[str, str]]:
    """(kind, name) pairs two or more resources share (names are nearly always unique:
    count the names at C speed and look at the kinds of the repeated ones only)."""
    if len(set(map(_NAME, resources))) == len(resources):  # every name once: no Python loop at all
        return frozenset()
    repeated = {name for name, count in Counter(map(_NAME, resources)).items() if count > 1}
    if not repeated:
        return frozenset()
    pairs = Counter((r.kind, r.name) for r in resources if r.name in repeated)
    return frozenset(pair for pair, count in pairs.items() if count > 1)


class RowSelection:
    def __init__(self) -> None:
        self._resources: list[Resource] = []
        self.duplicated: frozenset[tuple[str, str]] = frozenset()
        self.by_id: dict[str, Resource] = {}
        self._sort_spec: tuple[Any, ...] | None = None
        self._sorted: list[Resource] = []
        self._keys: list[str] = []
        self._lowered: list[str] | None = None  # lowered search text per sorted resource
        self._all_ascii = True
        # resource id → its lowered search text, valid while the table is handed the object
        # `_text_objects[id]` (a changed resource is a new object). Two dicts, not a dict of
        # (object, text) tuples: 20,000 tuples more for the garbage collector to walk
        self._texts: dict[str, str] = {}
        self._text_objects: dict[str, Resource] = {}
        self._prepared_upto = 0  # `_sorted[:n]` have a valid entry in `_texts`
        self._results: dict[tuple[str, str], Selection] = {}
        self._places: dict[str, int] | None = None

    def select(self, resources: list[Resource], *, kind: str, query: ResourceFilter,
               sort_key: Callable[[Resource], Any], sort_spec: tuple[Any, ...], group: bool, reverse: bool,
               previous: dict[str, int] | Callable[[], dict[str, int]]) -> Selection:
        """The resources of kind `kind` (case-insensitive unless one matches exactly) matching
        `query`, sorted by `sort_key` (`sort_spec` names it); `previous` (row key → position
        shown now, or what makes it: asked only when sorting) orders ties, so that rows with
        equal keys keep their place."""
        if not self._same_objects(resources) and not self._patched(resources, sort_key, sort_spec):
            self._resources = resources
            self.duplicated = duplicated_names(resources)
            self.by_id = dict(zip(map(_ID, resources), resources, strict=True))  # at C speed (20k: ~1 ms less)
            self._sort_spec = None
        if sort_spec != self._sort_spec:
            self._sort(resources, sort_key, sort_spec, group, reverse, previous)
        text = query.text.strip() if query.active else ""
        found = self._results.get((kind, text))
        if found is None:
            found = self._filter(kind, text, query)
            if len(self._results) >= KEPT_RESULTS:
                self._results.clear()
            self._results[(kind, text)] = found
        return found

    def _same_objects(self, resources: list[Resource]) -> bool:
        old = self._resources
        return len(resources) == len(old) and (resources is old or all(map(is_, resources, old)))

    def _patched(self, resources: list[Resource], sort_key: Callable[[Resource], Any],
                 sort_spec: tuple[Any, ...]) -> bool:
        """Take an update that only replaced some resources' objects (the same ids at the same
        places, each changed one with the same sort key: a pod's label or status changed) into
        the sorted order in place, instead of counting every name and sorting every row again
        (20,000 rows at 1,000 pod changes/s: a quarter of the app's CPU went to that). False: a
        resource came or went, or moved in the order; the caller starts over."""
        old = self._resources
        if sort_spec != self._sort_spec or len(resources) != len(old) or not old:
            return False
        changed = list(compress(range(len(old)), map(is_not, resources, old)))
        if len(changed) > len(old) // 4:
            return False
        for i in changed:
            new, was = resources[i], old[i]
            if new.id != was.id or new.backend != was.backend or sort_key(new) != sort_key(was):
                return False
        places = self._places
        if places is None:
            self._places = places = {key: i for i, key in enumerate(self._keys)}
        ordered, lowered, by_id = self._sorted, self._lowered, self.by_id
        texts, objects = self._texts, self._text_objects
        for i in changed:
            r = resources[i]
            at = places[r.id]
            ordered[at] = by_id[r.id] = r
            if r.id in objects:  # its search text was lowered already: lower the new one now
                texts[r.id] = text = haystack(r).lower()
                objects[r.id] = r
                if lowered is not None:
                    lowered[at] = text
                    self._all_ascii = self._all_ascii and text.isascii()
        self._resources = resources
        self._results = {}  # the kept query results hold the replaced objects
        return True

    def _sort(self, resources: list[Resource], sort_key: Callable[[Resource], Any], sort_spec: tuple[Any, ...],
              group: bool, reverse: bool, previous: dict[str, int] | Callable[[], dict[str, int]]) -> None:
        chosen = list(resources)
        if callable(previous):
            previous = previous()
        if previous:
            # Put the rows in the order they are shown first: the real sort below then runs
            # over nearly sorted input (20k rows: ~18 ms -> ~7 ms), and ties keep their place.
            chosen.sort(key=lambda r: previous.get(r.id, -1))
        chosen.sort(key=sort_key, reverse=reverse)
        if group:
            chosen.sort(key=attrgetter("backend"))  # stable: keeps the chosen order inside a group
        self._sort_spec = sort_spec
        self._sorted = chosen
        self._keys = list(map(_ID, chosen))
        self._places = None  # row key -> place in `_sorted`, made when an update is patched in
        self._lowered = None
        self._prepared_upto = 0
        self._results = {}

    @property
    def search_ready(self) -> bool:
        """Every shown resource's lowered search text is at hand: a plain query only filters."""
        return self._lowered is not None

    def prepare_search(self) -> None:
        """Lower the search texts not lowered yet, now (the filter box opened before the idle
        slices finished; usually nothing is left)."""
        self._lowered_texts()

    def prepare_some(self, limit: int = PREPARE_SLICE) -> bool:
        """Lower the search texts of at most `limit` resources not prepared yet (resources whose
        object was prepared before, in an earlier inventory, cost a lookup); True when every
        shown resource's text is ready."""
        if self._lowered is not None:
            return True
        ordered, texts, objects = self._sorted, self._texts, self._text_objects
        end = len(ordered)
        made = 0
        i = self._prepared_upto
        while i < end and made < limit:
            r = ordered[i]
            if objects.get(r.id) is not r:
                texts[r.id] = haystack(r).lower()
                objects[r.id] = r
                made += 1
            i += 1
        self._prepared_upto = i
        if i < end:
            return False
        if len(texts) - len(self.by_id) > gone_slack(end):  # resources gone since: drop their texts and objects
            self._drop_gone()
            texts = self._texts
        self._lowered = lowered = [texts[key] for key in self._keys]
        self._all_ascii = all(map(str.isascii, lowered))
        return True

    def _drop_gone(self) -> None:
        """Forget the search texts and Resource objects of resources no longer in the inventory
        (and their entries in the shared search-text cache): a deleted pod's object must not
        outlive it here."""
        live = self.by_id
        gone = [rid for rid in self._texts if rid not in live]
        self._texts = {rid: text for rid, text in self._texts.items() if rid in live}
        self._text_objects = {rid: r for rid, r in self._text_objects.items() if rid in live}
        forget_haystacks(gone)

    def _lowered_texts(self) -> list[str]:
        if self._lowered is None:
            self.prepare_some(len(self._sorted))
        assert self._lowered is not None
        return self._lowered

    def _filter(self, kind: str, text: str, query: ResourceFilter) -> Selection:
        ordered = self._sorted
        if kind:
            base = self._kind_positions(kind)
        else:
            base = None  # every position
        if not text:
            positions = list(range(len(ordered))) if base is None else base
        elif plain_query(text) and self._all_ascii_texts():
            lowered = self._lowered_texts()
            needle = text.lower()
            narrowest = self._narrowest(kind, text)
            if narrowest is not None:
                base = narrowest
            if base is None:
                positions = [i for i, hay in enumerate(lowered) if needle in hay]
            else:
                positions = [i for i in base if needle in lowered[i]]
        else:
            test = query.text_matcher()
            candidates = range(len(ordered)) if base is None else base
            positions = [i for i in candidates if test(haystack(ordered[i]), ordered[i].name)]
        if len(positions) == len(ordered):
            # every row (no query, or `a` over an inventory of `app-…`): the unfiltered result,
            # whose lists and row index are made once per inventory and sort
            return self._everything()
        keys = self._keys
        return Selection([ordered[i] for i in positions], [keys[i] for i in positions], positions)

    def _everything(self) -> Selection:
        found = self._results.get(("", ""))
        if found is None:
            found = Selection(list(self._sorted), list(self._keys), list(range(len(self._sorted))))
            self._results[("", "")] = found
        return found

    def _kind_positions(self, kind: str) -> list[int]:
        cached = self._results.get((kind, ""))
        if cached is not None:
            return cached.positions
        folded = kind.lower()
        if any(r.kind == kind for r in self._sorted):  # Kubernetes `Service` is not the edge `service`
            return [i for i, r in enumerate(self._sorted) if r.kind == kind]
        return [i for i, r in enumerate(self._sorted) if r.kind.lower() == folded]

    def _all_ascii_texts(self) -> bool:
        self._lowered_texts()
        return self._all_ascii

    def _narrowest(self, kind: str, text: str) -> list[int] | None:
        """The smallest kept result of a plain query contained in `text` (same kind): every
        match of `text` is among its matches."""
        lowered = text.lower()
        best: list[int] | None = None
        for (k, earlier), result in self._results.items():
            if (k == kind and earlier and earlier.lower() in lowered and plain_query(earlier)
                    and (best is None or len(result.positions) < len(best))):
                best = result.positions
        return best
