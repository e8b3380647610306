"""The Logs view's search in one burst (tmux send-keys): the keys after the search's Enter act
on the log (`/email⏎nn` searches `email`, then jumps to the next match twice), never glued onto
the search text; `l/email⏎` on a selected pod opens its logs and searches them, the Resources
filter untouched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tests.tui.pilot import app_ready, drawn_keys, make_app, wait_until
from tests.tui.test_overview_enter_burst import send_burst
from tui.widgets.logs_view import LogsView
from tui.widgets.resource_table import ResourceTable

POD = "kubernetes/Pod/web-7d9f-abcde"
MATCHES = (20, 40, 60, 80)


def lines() -> list[str]:
    return [f"req {i} {'email sent' if i in MATCHES else 'ok'}" for i in range(200)]


@asynccontextmanager
async def pod_selected(tmp_path, stage) -> AsyncIterator:
    """The app on staging at 80x24, the pod's 200 lines staged and its row selected: the pilot."""
    stage.log_lines = lines()
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        table = app.screen.query_one(ResourceTable)
        await wait_until(pilot, lambda: table.move_to_key(POD), POD)
        yield pilot


async def test_keys_after_the_search_enter_act_on_the_log(tmp_path, stage):
    async with pod_selected(tmp_path, stage) as pilot:
        app = pilot.app
        screen = app.screen
        await pilot.press("l")
        logs = screen.query_one(LogsView)
        await wait_until(pilot, lambda: screen.active_view == "logs" and logs.log_widget.line_count == 200,
                         "the pod's lines")
        await pilot.press("home")  # from the top: the Enter finds line 20, n 40, n 60
        await wait_until(pilot, lambda: logs.log_widget.scroll_y == 0 and not logs.follow, "the top")
        await send_burst(pilot, "/email\rnn", "burst")
        toolbar = logs.query_one("#logs-toolbar")
        await wait_until(pilot, lambda: not app.keys.held and app.focused is logs.log_widget
                         and logs.log_widget.scroll_y == MATCHES[2], "two jumps after the search",
                         explain=lambda: (str(toolbar.render()), logs.log_widget.scroll_y, app.focused))
        assert "/email " in str(toolbar.render()) and "emailnn" not in str(toolbar.render())


async def test_l_then_a_search_in_one_burst_searches_the_pods_logs(tmp_path, stage):
    async with pod_selected(tmp_path, stage) as pilot:
        app = pilot.app
        screen = app.screen
        await send_burst(pilot, "l/email\r", "burst")
        logs = screen.query_one(LogsView)
        await wait_until(pilot, lambda: not app.keys.held and screen.active_view == "logs"
                         and app.focused is logs.log_widget, "the logs, searched",
                         explain=lambda: (screen.active_view, app.focused, screen.view.filter.text))
        assert logs._search_text == "email"
        assert not screen.view.filter.active, "the Resources filter untouched"


async def test_the_logs_footer_keeps_q_quit_whole_at_80_columns(tmp_path, stage):

    from screens.help import binding_rows
    from tests.tui.pilot import settle

    async with pod_selected(tmp_path, stage) as pilot:
        app = pilot.app
        screen = app.screen
        await pilot.press("l")
        await wait_until(pilot, lambda: screen.active_view == "logs", "the logs view")
        await settle(pilot)
        keys = list(drawn_keys(screen))
        quit_key = next(k for k in keys if k.key == "q")
        palette = next(k for k in keys if k.palette)
        assert quit_key.region.right <= palette.region.x, (quit_key.region, palette.region)
        assert quit_key.region.width >= len("q Quit")
        rows = {key.split(":")[0]: cells[2].plain for key, cells in binding_rows(screen, app.palette).items()}
        assert rows["logs-timestamps"].startswith("Time"), "a key out of the footer is still in ?"
        assert rows["stop"] == "Stop (not now)" and rows["start"] == "Start (not now)", (rows["stop"], rows["start"])
