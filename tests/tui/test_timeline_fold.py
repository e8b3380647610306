"""The Timeline at fleet scale (on-call finding, session 11, `envdeck demo --scale 30`): a node
coming back is one row, not three (its services' `Unknown → Healthy` of the same pass folded into
its row); a pass in which many nodes changed the same way is one summary row (`5 nodes Unknown →
Healthy (+10 services)`) that `/` opens to every row; a service that did not come back, and any
other event, keeps its row. Before the first read answers, a placeholder row says the timeline is
being read (not an empty table that reads as "no events"); a failed read says so.

The TimelineTable in a bare Textual app (no backends, no store): the rows are the store's dicts."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.app import App, ComposeResult

from tui.core.timeline_fold import fold_health
from tui.widgets.cells import Palette
from tui.widgets.record_views import ENTRIES_SHOWN, LOADING_KEY, SEP, TimelineTable

NOW = datetime(2026, 12, 7, 20, 0, 0, tzinfo=UTC)
PASS = "2026-12-07T19:59:00Z"


def _rows() -> list[dict]:
    """Newest first, as the store returns them: a pass with 5 nodes back (their 2 services each,
    but gw-04's db did not come back), then gw-09 back alone, then a real event."""
    rows, n = [], 100
    def add(at: str, resource: str, message: str, severity: str = "info", reason: str = "HealthChanged") -> None:
        nonlocal n
        n += 1
        rows.append({"id": n, "at": at, "resource": resource, "kind": "event", "severity": severity,
                     "reason": reason, "message": message, "count": 1})
    add("2026-12-07T19:50:00Z", "kubernetes/Pod/web-1", "Back-off restarting", "warning", "BackOff")
    add("2026-12-07T19:55:00Z", "edge/node/gw-09", "Unknown → Healthy")
    add("2026-12-07T19:55:00Z", "edge/service/gw-09:nginx", "Unknown → Healthy")
    for i in range(5):
        add(PASS, f"edge/node/gw-{i:02d}", "Unknown → Healthy")
        add(PASS, f"edge/service/gw-{i:02d}:nginx", "Unknown → Healthy")
        if i == 4:
            add(PASS, "edge/service/gw-04:db", "Unknown → Unhealthy: exited 1", "warning")
        else:
            add(PASS, f"edge/service/gw-{i:02d}:db", "Unknown → Healthy")
    return list(reversed(rows))


def test_fold_keeps_the_real_changes_and_counts_the_rest():
    rows = _rows()
    shown = fold_health(rows)
    assert [r["resource"] for r in rows[:1]] == ["edge/service/gw-04:db"]
    by = [(r.get("label") or r["resource"], r["message"]) for r in shown]
    assert by[0] == ("edge/service/gw-04:db", "Unknown → Unhealthy: exited 1"), "a service that did not come back"
    assert by[1][0] == "5 nodes" and by[1][1].startswith("5 nodes Unknown → Healthy (+9 services): gw-00, gw-01, ")
    assert by[2:] == [("edge/node/gw-09", "Unknown → Healthy (+1 service)"),
                      ("kubernetes/Pod/web-1", "Back-off restarting")]
    assert rows == _rows(), "the stored rows are not changed"
    alone = rows[-3:]  # gw-09 back alone (and its service), the Pod's event: only the service folds
    assert [r["message"] for r in fold_health(alone)] == ["Unknown → Healthy (+1 service)", "Back-off restarting"]
    assert fold_health(rows[-1:]) == rows[-1:]


class _Host(App):
    def compose(self) -> ComposeResult:
        yield TimelineTable(id="timeline-table")


async def test_the_table_folds_opens_on_a_filter_and_says_it_is_loading():
    app = _Host()
    async with app.run_test(size=(140, 30)) as pilot:
        table = app.query_one(TimelineTable)
        palette = Palette({})
        table.show([], [], palette, now=NOW)
        table.mark_loading()
        await pilot.pause()
        assert table.row_keys == [LOADING_KEY]
        assert "Reading the timeline" in table._full[0][LOADING_KEY][5].plain
        assert table.resource_for_cursor() is None, "the placeholder is of no resource"

        table.mark_unread("database is locked")
        assert "could not be read: database is locked" in table._full[0][LOADING_KEY][5].plain

        rows = _rows()
        table.show(rows, [], palette, now=NOW)
        await pilot.pause()
        assert LOADING_KEY not in table.row_keys
        assert len(table.row_keys) == 4, table.row_keys  # 16 stored rows: 4 shown
        table.mark_loading()  # a reload of a table with rows: no placeholder
        assert LOADING_KEY not in table.row_keys

        table.set_filter(lambda text, name: "gw-02" in text)
        await pilot.pause()
        assert sorted(k.split(SEP)[0] for k in table.row_keys) == [
            "edge/node/gw-02", "edge/service/gw-02:db", "edge/service/gw-02:nginx"], "/ shows each row"
        table.set_filter(None)
        await pilot.pause()
        assert len(table.row_keys) == 4, "folded again"
        summary = table.row_keys[1]
        assert table._full[0][summary][3].plain == "5 nodes"

        # more rows read than shown: the newest ENTRIES_SHOWN once folded; a filter looks through all
        many = [{"id": 1000 - i, "at": "2026-12-07T19:00:00Z", "resource": f"kubernetes/Pod/p-{i}", "kind": "event",
                 "severity": "info", "reason": "Pulled", "message": f"pulled {i}", "count": 1}
                for i in range(ENTRIES_SHOWN + 50)]
        table.show(many, [], palette, now=NOW)
        await pilot.pause()
        assert len(table.row_keys) == ENTRIES_SHOWN
        table.set_filter(lambda text, name: "pulled 340" in text)
        await pilot.pause()
        assert [k.split(SEP)[0] for k in table.row_keys] == ["kubernetes/Pod/p-340"]


def _fleet_run(first_id: int, nodes: int, failed: set[int]) -> list[dict]:
    """The audit rows of one `envdeck run` on `nodes` nodes (one transaction: one time, consecutive
    ids), newest first as the store returns them."""
    return [{"id": first_id + i, "at": PASS, "user": "alice", "env": "staging", "origin": "cli", "action": "run",
             "target": f"edge/node/gw-{i:02d}", "params": {"command": "uptime"},
             "result": "failed" if i in failed else "succeeded", "message": "exit 1" if i in failed else ""}
            for i in reversed(range(nodes))]


async def test_a_fleet_runs_audit_rows_are_one_timeline_row_until_filtered():
    """Scale tester, session 11: a 90-node `envdeck run` filled the Timeline with 90 audit rows (the
    CLI already showed them as one line); a pod's delete before it stays its own row."""
    app = _Host()
    async with app.run_test(size=(160, 30)) as pilot:
        table = app.query_one(TimelineTable)
        palette = Palette({})
        delete = {"id": 10, "at": "2026-12-07T19:40:00Z", "user": "bob", "env": "staging", "origin": "tui",
                  "action": "delete", "target": "kubernetes/Pod/web-1", "params": {}, "result": "succeeded"}
        audit = _fleet_run(11, 90, failed={3, 17}) + [delete]
        table.show([], audit, palette, now=NOW)
        await pilot.pause()
        assert len(table.row_keys) == 2, table.row_keys
        run_key = next(k for k in table.row_keys if "a11-100" in k)
        cells = table._full[0][run_key]
        assert cells[3].plain == "90 edge nodes" and cells[2].plain == "mixed", [c.plain for c in cells]
        assert "88 succeeded, 2 failed (not succeeded: gw-03, gw-17)" in cells[5].plain, cells[5].plain
        assert "/ shows each" in cells[5].plain
        table.move_to_key(run_key)
        assert table.resource_for_cursor() is None, "a run's row opens no resource"
        assert any(k.startswith("kubernetes/Pod/web-1") for k in table.row_keys), "the delete keeps its row"

        table.set_filter(lambda text, name: "gw-" in text)
        await pilot.pause()
        assert len(table.row_keys) == 90, "/ shows each node's row"
        table.set_filter(None)
        await pilot.pause()
        assert len(table.row_keys) == 2, "folded again"


def test_two_runs_of_one_command_in_one_second_are_two_rows():
    """On-call finding, session 12: the same run from two shells of one account in the same second
    folded into one row of 6 nodes over 3 (`not succeeded: gw-02, gw-02`)."""
    from tui.core.fleet_fold import fold_fleet_runs

    first = _fleet_run(42, 3, failed={2})
    second = _fleet_run(45, 3, failed={2})
    rows = fold_fleet_runs(second + first, "/ shows each")
    assert [r["target"] for r in rows] == ["3 edge nodes", "3 edge nodes"], rows
    assert all("not succeeded: gw-02)" in r["message"] for r in rows), [r["message"] for r in rows]
