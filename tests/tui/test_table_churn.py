"""The resources table keeps nothing of pods that are gone: after pods are created and
deleted, its search texts, measured-row stamps and row cells are those of the live rows
(plus a small slack), and no gone pod's Resource object is still referred to by it.
Churned pods used to stay: the search texts and objects until twice the live rows + 1,024,
the stamps (the objects) of the width sample until 4,000 entries."""

from __future__ import annotations

import gc
from datetime import UTC, datetime

from textual.app import App, ComposeResult

from tui.core.model import Health, Resource
from tui.widgets import resource_filter
from tui.widgets.cells import PLAIN
from tui.widgets.metric_history import MetricHistory
from tui.widgets.resource_filter import ResourceFilter
from tui.widgets.resource_table import ResourceTable, TableView
from tui.widgets.row_selection import RowSelection, gone_slack

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def pods(prefix: str, n: int) -> list[Resource]:
    return [Resource(id=f"kubernetes/Pod/{prefix}-{i:04d}", backend="kubernetes", kind="Pod", name=f"{prefix}-{i:04d}",
                     health=Health.HEALTHY, status="Running") for i in range(n)]


def churned_alive() -> int:
    """Gone pods' Resource objects still referred to by anything (Resource has slots: no weakref)."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is Resource and o.name.startswith("churn"))


def select(sel: RowSelection, resources: list[Resource], text: str = "") -> list[str]:
    return sel.select(resources, kind="", query=ResourceFilter(text), sort_key=lambda r: r.name,
                      sort_spec=("name",), group=False, reverse=False, previous={}).keys


def test_row_selection_forgets_the_texts_and_objects_of_gone_pods():
    sel = RowSelection()
    steady = pods("web", 5)
    for cycle in range(3):
        churned = pods(f"churn{cycle}", 300)
        assert len(select(sel, steady + churned, "churn")) == 300
        assert sel.prepare_some()
        assert select(sel, steady, "churn") == []
        assert sel.prepare_some()
        del churned
    assert set(sel._texts) == set(sel._text_objects) == {r.id for r in steady}  # noqa: SLF001
    assert not any(k.startswith("kubernetes/Pod/churn") for k in resource_filter._HAYSTACKS)  # noqa: SLF001
    assert churned_alive() == 0


def test_a_few_gone_pods_wait_for_the_next_pass():
    sel = RowSelection()
    live = pods("web", 100)
    select(sel, live + pods("once", 3), "web")
    assert sel.prepare_some()
    select(sel, live, "web")
    assert sel.prepare_some()
    assert len(sel._texts) == 103 and gone_slack(100) >= 3  # noqa: SLF001 - within the slack: kept


class TableApp(App):
    def compose(self) -> ComposeResult:
        yield ResourceTable(id="resource-table")


async def test_resource_table_keeps_no_gone_pod_after_churn():
    app = TableApp()
    history = MetricHistory()
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.query_one(ResourceTable)
        steady = pods("web", 5)
        for cycle in range(6):  # each cycle draws a screenful of churned rows
            churned = pods(f"churn{cycle}", 300)
            table.show(steady + churned, TableView(), now=NOW, palette=PLAIN, history=history)
            await pilot.pause()
            assert table.row_count == 305
            table.show(steady, TableView(), now=NOW, palette=PLAIN, history=history)
            await pilot.pause()
            del churned
        live = {r.id for r in steady}
        assert set(table._measured) <= live  # noqa: SLF001 - the width sample's stamps
        assert set(table._row_cache) <= live  # noqa: SLF001 - the rows' cells
        drawn_gone = [key for key in table._drawn if key and key not in live]  # noqa: SLF001 - drawn lines
        assert len(drawn_gone) <= 2 * max(table.size.height, 24) + 64  # not up to DRAWN_KEPT (1,000)
        assert churned_alive() == 0
