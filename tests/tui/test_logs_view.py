"""The Logs view: follow/pause without dropping lines, bounded buffer with its
count, search, JSON pretty-print, timestamps, wrap, save, several pods merged."""

from __future__ import annotations

import asyncio

from rich.text import Text

from screens.confirm import ConfirmScreen
from tests.tui.conftest import app_ready, make_app, settle, wait_until
from tests.tui.stage import HOSTILE_LINES, STAGE_CONFIG
from tui.widgets.logs_view import LogHighlighter, LogsView
from tui.widgets.resource_table import ResourceTable

SIZE = (120, 30)


async def open_logs(pilot, *resource_ids: str) -> LogsView:
    app = pilot.app
    table = app.screen.query_one(ResourceTable)
    for rid in resource_ids:
        await wait_until(pilot, lambda rid=rid: table.move_to_key(rid), rid)
        if len(resource_ids) > 1:
            await pilot.press("space")
    await pilot.press("l")
    await wait_until(pilot, lambda: app.screen.active_view == "logs", "the logs view")
    return app.screen.query_one(LogsView)


async def test_paused_view_keeps_every_line_and_follow_catches_up(tmp_path, stage):
    stage.log_feed = asyncio.Queue()
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        logs = await open_logs(pilot, "kubernetes/Pod/web-7d9f-abcde")
        await wait_until(pilot, lambda: len(logs.lines) == len(HOSTILE_LINES), "the first lines")
        await pilot.press("f")
        assert not logs.follow
        await settle(pilot)
        for i in range(200):
            stage.log_feed.put_nowait(f"while paused {i}")
        await wait_until(pilot, lambda: logs.log_widget.line_count == len(HOSTILE_LINES) + 200, "all lines")
        assert logs.log_widget.lines[-1] == "while paused 199"
        await settle(pilot)
        log = logs.log_widget
        # paused: the view stayed near the top instead of following the new lines to the end
        assert not log.is_vertical_scroll_end and log.scroll_y < 10, (log.scroll_y, log.max_scroll_y)
        assert "paused" in str(logs.query_one("#logs-toolbar").render())
        await pilot.press("f")
        await wait_until(pilot, lambda: logs.log_widget.is_vertical_scroll_end, "follow to scroll to the end")


async def test_bounded_buffer_says_how_many_lines_it_keeps(tmp_path, stage):
    stage.log_lines = [f"line {i}" for i in range(150)]
    app = make_app(tmp_path, stage, env="staging", config_text=STAGE_CONFIG + "ui: {log_buffer_lines: 100}\n")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        logs = await open_logs(pilot, "kubernetes/Pod/web-7d9f-abcde")
        await wait_until(pilot, lambda: logs.received == 150, "150 lines")
        assert len(logs.lines) == 100 and logs.log_widget.line_count == 100
        assert logs.log_widget.lines[0] == "line 50"
        assert "100 lines kept of 150 (buffer 100)" in str(logs.query_one("#logs-toolbar").render())


async def test_search_json_timestamps_wrap_and_save(tmp_path, stage):
    stage.log_lines = HOSTILE_LINES + ["x" * 300]
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        logs = await open_logs(pilot, "kubernetes/Pod/web-7d9f-abcde")
        log = logs.log_widget
        await wait_until(pilot, lambda: log.line_count == len(HOSTILE_LINES) + 1, "the lines")
        plain = log.line_count

        await pilot.press("slash", *"json line", "enter")
        highlighter = log.highlighter
        assert isinstance(highlighter, LogHighlighter) and highlighter.search is not None
        json_line = next(line for line in log.lines if "json line" in line)
        marked = Text(json_line)
        highlighter.highlight(marked)
        assert [json_line[s.start:s.end] for s in marked.spans] == ["json line"]
        assert marked.spans[0].style.reverse
        other = Text(log.lines[0])
        highlighter.highlight(other)
        assert other.spans == []

        await pilot.press("J")  # {"level": ..., "msg": ..., "code": ...} becomes 5 lines
        await wait_until(pilot, lambda: log.line_count == plain + 4, "the JSON pretty-print")
        assert '  "msg": "json line",' in log.lines
        await pilot.press("J")
        await wait_until(pilot, lambda: log.line_count == plain, "JSON off")

        await pilot.press("t")
        await wait_until(pilot, lambda: log.lines[0].startswith("2025-03-14T02:59:5"), "timestamps")
        await pilot.press("t")

        await pilot.press("w")
        await wait_until(pilot, lambda: log.line_count > plain, "the long line to wrap")
        assert max(len(line) for line in log.lines) < 120
        await pilot.press("w")
        await wait_until(pilot, lambda: log.line_count == plain, "wrap off")

        target = tmp_path / "saved.log"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the save prompt")
        await pilot.press("ctrl+u", *str(target), "enter")
        await wait_until(pilot, target.exists, "the saved file")
        await wait_until(pilot, lambda: target.read_text().count("\n") == plain, "the whole file")
        saved = target.read_text(encoding="utf-8")
        assert "\x1b" not in saved and "␛]52;c;ZXZpbA==" in saved
        assert "[bold red]markup must stay literal[/bold red]" in saved


async def test_several_pods_are_merged_with_a_prefix(tmp_path, stage):
    stage.log_lines = ["hello"]
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        logs = await open_logs(pilot, "kubernetes/Pod/web-7d9f-abcde", "kubernetes/Pod/web-7d9f-fghij")
        await wait_until(pilot, lambda: logs.log_widget.line_count == 2, "a line from each pod",
                         explain=lambda: (list(logs.log_widget.lines), logs.sources, logs.ended,
                                          app.screen.view.marks))
        assert sorted(logs.log_widget.lines) == ["web-7d9f-abcde │ hello", "web-7d9f-fghij │ hello"]


async def test_viewer_cannot_read_logs_and_sees_why(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging", user="vera")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        logs = await open_logs(pilot, "kubernetes/Pod/web-7d9f-abcde")
        await wait_until(pilot, lambda: logs.ended, "the stream to end")
        assert "needs the operator role" in next(iter(logs.ended.values()))
        assert logs.log_widget.line_count == 0
        rows = await app.session.store.audit_entries("staging")
        assert rows[0]["action"] == "logs" and rows[0]["result"] == "denied"
