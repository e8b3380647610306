"""The Timeline (key 5) with audit rows a team member wrote by hand into the shared store
(psql INSERT; here written into the stage's SQLite file, db_user set as PostgreSQL's trigger
would): the view fills and keeps working, unreadable params are shown as data with one warning,
a time that is no time (or before year 1 in UTC) is marked (no crash), a future time is marked, shown with its date and
not pinned at the top, another day's time keeps its date in the narrow layout, a forged row
shows the database role that wrote it (first, so a padded user cannot hide it), and a 5 MB message is cut saying how long it was.

Pilot test on the in-memory stage (tests/tui/stage.py, clock FIXED_NOW 2025-03-14 03:00 UTC)."""

from __future__ import annotations

import sqlite3

from tests.tui.pilot import app_ready, make_app, wait_until
from tui.core.store import Store
from tui.core.store_sqlite import DB_NAME
from tui.widgets.record_views import TimelineTable

SIZE = (100, 30)  # narrow layout (below 110 columns): TIME shows only today's rows without their date

ROWS = [  # (at, user, action, params, message, db_user)
    ("2025-03-14T02:50:00Z", "alice", "scale", '{"replicas": 3}', "scaled", None),
    ("2025-03-14T02:51:00Z", "root", "forged", "not json\x1b[31m", "ok by root", "mallory"),
    ("garbage", "root", "bad-time", "{}", "m", "mallory"),
    ("9999-12-31T23:59:59Z", "root", "future", "{}", "m", "mallory"),
    ("2025-01-02T10:00:00Z", "root", "old", "{}", "m", "mallory"),
    ("2025-03-14T02:52:00Z", "root", "big", "{}", "A" * 5_000_000, "mallory"),
    ("0001-01-01T00:00:00Z", "root", "year-1", "{}", "m", "mallory"),
    ("0001-01-01T00:00:00+14:00", "root", "year-0", "{}", "m", "mallory"),  # before year 1 in UTC
    ("2025-03-14T02:54:00Z", "u" + "\u0301" * 5000, "zalgo", "{}", "m", "mallory"),
    ("2025-03-14T02:55:00Z", "root" + " " * 120 + "x", "padded", "{}", "m", "mallory"),
    ("2025-03-14T02:56:00Z", "root" + "\u200b" * 300, "zwsp", "{}", "m", "mallory"),
]


async def test_the_timeline_shows_a_members_hand_written_rows(tmp_path, stage):
    store = await Store.open(tmp_path)  # the schema, then the member's rows
    await store.close()
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        db.executemany('INSERT INTO audit (at, "user", env, target, action, params, origin, result, message, '
                       "db_user) VALUES (?,?,'staging','kubernetes/Deployment/web',?,?,'cli','succeeded',?,?)",
                       ROWS)
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        screen = app.screen
        await pilot.press("5")

        def audit_rows() -> dict[str, str]:
            if not screen.query(TimelineTable):
                return {}
            table = screen.query_one(TimelineTable)
            full = table._full[0]
            return {full[k][4].plain.split()[0]: k for k in table.row_keys if f"{chr(9)}a" in k}  # WHAT: the action

        await wait_until(pilot, lambda: len(audit_rows()) == len(ROWS), "every audit row", explain=audit_rows)
        table = screen.query_one(TimelineTable)
        keys = audit_rows()

        def shown(action: str) -> list[str]:  # the cells as drawn (narrow layout: TIME RESOURCE WHAT MESSAGE)
            return [c.plain for c in table.cells_of(keys[action])]

        def whole(action: str) -> str:  # the message column uncut (what the preview line shows)
            return table._full[0][keys[action]][5].plain

        assert shown("scale")[0] == "02:50:00"                       # today's row: the time only
        assert shown("old")[0] == "01-02 10:00:00"                   # another day: with its date
        assert shown("future")[0] == "9999-12-31 23:59 ⚠"             # marked, with its date
        assert table.row_keys[0] != keys["future"]                   # placed by id, not pinned on top
        assert table.row_keys.index(keys["future"]) < table.row_keys.index(keys["old"])
        assert shown("bad-time")[0] == "time?" and whole("bad-time").startswith("[time unreadable: garbage] ")
        assert whole("forged").startswith("[db role mallory] root via cli: ok by root · params unreadable "
                                          "(not JSON): not json␛[31m")
        assert "[params unreadable]" in table._full[0][keys["forged"]][4].plain
        assert whole("scale") == "alice via cli: scaled"             # no mark on an ordinary row
        assert shown("year-1")[0] == "0001-01-01 00:00"              # the year as written, not "1-01-01"
        assert shown("year-0")[0] == "time?"                         # never an OverflowError
        assert whole("zalgo").startswith("[db role mallory] u\u0301\u0301(+997 combining marks)")  # cut at 1,000 first
        assert whole("big").startswith("[db role mallory] root via cli: [message cut: 5000000 characters] AAAA")
        # a user padded by hand cannot push the mark out of the drawn cell: the mark comes first
        assert whole("padded").startswith("[db role mallory] root x via cli")
        assert "[db role mallory]" in shown("padded")[-1] and "[db role mallory]" in shown("zwsp")[-1]
        warnings = [str(n.message) for n in app._notifications if n.severity == "warning"]
        assert warnings == ["1 audit row with unreadable params (id 2): shown as written, not as parameters"]
