"""The heavy-first order of tests/xdist_workers.py: the same tests, each worksteal slice starting
with its share of the heavy ones, the rest in their collected order."""

from __future__ import annotations

from tests.helpers import repo_root
from tests.xdist_workers import HEAVY, heavy_first, slice_sizes


def test_slices_as_worksteal_hands_them_out():
    assert slice_sizes(10, 3) == [3, 3, 4]
    assert slice_sizes(2089, 3) == [696, 696, 697]
    assert sum(slice_sizes(7, 4)) == 7


def test_heavy_tests_lead_the_slices_longest_first_and_nothing_else_moves():
    items = [f"t{i}" for i in range(12)]
    weights = {"t11": 30.0, "t10": 20.0, "t9": 10.0, "t8": 5.0}
    order = heavy_first(items, 3, weight=weights.get)
    assert sorted(order) == sorted(items)
    slices = [order[0:4], order[4:8], order[8:12]]
    assert [s[0] for s in slices] == ["t11", "t10", "t9"]
    assert slices[2][:2] == ["t9", "t8"]  # the fourth goes where the fewest heavy seconds are
    rest = [t for t in order if t not in weights]
    assert rest == [f"t{i}" for i in range(8)]


def test_nothing_heavy_or_one_worker_keeps_the_order():
    items = [f"t{i}" for i in range(5)]
    assert heavy_first(items, 3, weight=lambda item: None) == items
    assert heavy_first(items, 1, weight=lambda item: 1.0) == items


def test_every_heavy_entry_names_a_test_that_exists():
    """A renamed test would silently lose its place at the front."""
    for key in HEAVY:
        path, _, name = key.partition("::")
        source = (repo_root() / path).read_text()
        assert not name or f"def {name}(" in source, key
