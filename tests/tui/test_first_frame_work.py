"""What a screen built on the switch leaves until after its first frame must not change what
is shown or kept: the metric history recorded later (MetricHistory.record_later) keeps the
same points as recording at once; the row index made when first asked finds the same rows;
the width of a plain string is the sanitiser's; duplicated names are found with or without
the all-names-once shortcut. A bare App hosts the real table (nothing mocked)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from rich.cells import cell_len
from textual.app import App, ComposeResult

from tui.core.model import Health, Resource
from tui.core.sanitize import clean
from tui.widgets.cells import PLAIN
from tui.widgets.metric_history import MetricHistory
from tui.widgets.resource_table import ResourceTable, TableView, plain_width
from tui.widgets.row_selection import duplicated_names

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def pods(n: int, cpu: float = 1.0) -> list[Resource]:
    return [Resource(id=f"kubernetes/Pod/app-{i:03d}", backend="kubernetes", kind="Pod", name=f"app-{i:03d}",
                     health=Health.HEALTHY, status="Running", metrics={"cpu": cpu + i}) for i in range(n)]


def every_value(history: MetricHistory, items: list[Resource]) -> dict[str, list[float]]:
    return {r.id: history.values(r.id) for r in items}


def test_history_recorded_later_keeps_what_recording_at_once_keeps():
    first = pods(50)
    later_items = list(first)
    eager, later = MetricHistory(), MetricHistory()
    eager.record(first)
    later.record_later(lambda: later_items)
    assert later.pending
    # the rows a frame draws are recorded one by one, the rest stay pending
    assert later.values_of(first[3]) == [4.0]
    assert later.values_of(first[3]) == [4.0]  # the same object again: no second point
    assert later.pending
    # an update goes through record: what was pending is recorded first, then the new objects
    changed = [replace(r, metrics={"cpu": 100.0}) if i % 2 else r for i, r in enumerate(first)]
    eager.record(changed)
    later.record(changed)
    assert not later.pending
    assert every_value(later, first) == every_value(eager, first)
    assert later.values(first[1].id) == [2.0, 100.0]


def test_history_flush_samples_and_seeds_keep_their_order():
    items = pods(5)
    eager, later = MetricHistory(), MetricHistory()
    eager.record(items)
    later.record_later(lambda: items)
    # seeded before the live value is recorded: the seeded values still come first
    eager.seed(items[0].id, [0.1, 0.2])
    later.seed(items[0].id, [0.1, 0.2])
    assert later.pending
    samples = [(items[1].id, "cpu", 7.0)]
    eager.record_samples(samples)
    later.record_samples(samples)  # recorded after what was pending, as when recorded at once
    assert not later.pending
    assert every_value(later, items) == every_value(eager, items)
    assert later.values(items[0].id) == [0.1, 0.2, 1.0]
    assert later.values(items[1].id) == [2.0, 7.0]
    later.record_later(lambda: items)
    later.flush()
    assert every_value(later, items) == every_value(eager, items)  # the same objects: nothing new


def test_plain_width_is_the_width_of_the_cleaned_text():
    for value in ["app-1", "", "x" * 60, "a\tb", "\x1b[31mred", "名前-ノード", "é" * 50, "caf\u00e9", "ok\x7f",
                  "  spaced  ", 42, "y" * 36, "z" * 37, None]:
        for max_len in (1, 5, 36, 48):
            expected = 0 if value is None else cell_len(clean(value, max_len=max_len))
            assert plain_width(value, max_len) == expected, (value, max_len)


def test_duplicated_names_with_and_without_repeats():
    unique = pods(30)
    assert duplicated_names(unique) == frozenset()
    twin = replace(unique[0], id="kubernetes/Pod/other")
    other_kind = replace(unique[1], id="kubernetes/Service/app-001", kind="Service")
    assert duplicated_names([*unique, twin, other_kind]) == frozenset({("Pod", "app-000")})


class TableApp(App):
    def compose(self) -> ComposeResult:
        yield ResourceTable(id="resource-table")


async def test_the_row_index_made_when_asked_finds_the_rows():
    items = pods(400)
    app = TableApp()
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.query_one(ResourceTable)
        view = TableView(sort="name")
        history = MetricHistory()
        history.record_later(lambda: items)
        table.show(items, view, now=NOW, palette=PLAIN, history=history)
        await pilot.pause()
        assert table._index_map is None  # a first fill: no cursor key to find, no index made yet
        assert table.resource(items[250].id) is items[250]
        assert table.move_to_key(items[250].id)
        assert table.cursor_key == items[250].id
        # a new sort orders ties by the rows shown (the index asked then), the cursor stays on its key
        view.sort, view.reverse = "name", True
        table.show(items, view, now=NOW, palette=PLAIN, history=history)
        assert table.row_keys[0] == items[-1].id
        assert table.cursor_key == items[250].id
        # drawn rows carry their history point, recorded for those rows only
        assert history.pending
        history.flush()
        assert history.values(items[0].id) == [1.0]
