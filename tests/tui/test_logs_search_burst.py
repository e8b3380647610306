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


async def test_a_search_typed_after_a_key_that_opens_another_screen_is_dropped_with_a_word(tmp_path, stage):
    """Breaker finding, session 12: `i/r` on an EC2 instance in one burst opened its details and then
    a Reboot dialog on them (the `r` meant for the filter box went to the screen `i` opened), and left
    an empty filter box open underneath. The keys typed after `/` are dropped, and a line says so."""
    from screens.confirm import ConfirmScreen
    from screens.resource_detail import ResourceDetailScreen

    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await app_ready(pilot)
        env_screen = app.screen
        table = env_screen.query_one(ResourceTable)
        await wait_until(pilot, lambda: table.move_to_key("aws/ec2-instance/i-0abc123"), "the instance")
        await send_burst(pilot, "i/r", "burst")
        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen) and not app.keys.held,
                         "the details, the keys settled")
        for _ in range(5):
            await pilot.pause(0.05)
        assert not isinstance(app.screen, ConfirmScreen), "no Reboot dialog from the r typed after /"
        assert any("dropped (r)" in n.message for n in app._notifications), [n.message for n in app._notifications]
        assert env_screen.query_one("#filter").has_class("hidden"), "no filter box left open underneath"


async def test_esc_in_the_search_box_closes_it_and_stays_on_the_logs(tmp_path, stage):
    """Breaker finding, session 12: Esc in the Logs view's search box also ran the screen's `esc Back`
    and left the Logs view for Resources."""
    from textual.widgets import Input

    async with pod_selected(tmp_path, stage) as pilot:
        app = pilot.app
        screen = app.screen
        await pilot.press("l")
        logs = screen.query_one(LogsView)
        await wait_until(pilot, lambda: screen.active_view == "logs" and logs.log_widget.line_count == 200, "logs")
        await pilot.press("slash")
        await wait_until(pilot, lambda: isinstance(app.focused, Input), "the search box")
        await pilot.press("a", "p", "i", "escape")
        await wait_until(pilot, lambda: app.focused is logs.log_widget and not app.keys.held, "the log focused")
        await pilot.pause(0.1)
        assert screen.active_view == "logs"
        assert logs.query_one("#logs-search-input").has_class("hidden")
        await pilot.press("escape")  # a second Esc is the screen's Back
        await wait_until(pilot, lambda: screen.active_view == "resources", "back on Resources")


async def test_enter_then_a_search_in_one_burst_drills_in_first(tmp_path, stage):
    """Breaker finding, session 12: `⏎/y` on a pod row dropped the Enter (no details) and filtered
    Resources by `y`. The Enter drills in first; the keys typed after `/` are dropped with a word."""
    from screens.resource_detail import ResourceDetailScreen

    async with pod_selected(tmp_path, stage) as pilot:
        app = pilot.app
        await send_burst(pilot, "\r/y", "burst")
        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen) and not app.keys.held,
                         "the pod's details")
        await pilot.pause(0.1)
        assert any("dropped" in n.message for n in app._notifications), [n.message for n in app._notifications]
