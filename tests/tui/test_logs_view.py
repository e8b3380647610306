"""The Logs view: follow/pause without dropping lines, bounded buffer with its
count, search, JSON pretty-print, timestamps, wrap, save, several pods merged."""

from __future__ import annotations

import asyncio
import json
import stat

from rich.text import Text

from screens.confirm import ConfirmScreen
from tests.tui.pilot import app_ready, dialog_shown, make_app, settle, wait_until
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
        await dialog_shown(pilot, ConfirmScreen, "the save prompt")
        await pilot.press("ctrl+u", *str(target), "enter")
        await wait_until(pilot, target.exists, "the saved file")
        await wait_until(pilot, lambda: target.read_text().count("\n") == plain, "the whole file")
        saved = target.read_text(encoding="utf-8")
        assert "\x1b" not in saved and "␛]52;c;ZXZpbA==" in saved
        assert "[bold red]markup must stay literal[/bold red]" in saved
        assert stat.S_IMODE(target.stat().st_mode) == 0o600


async def test_saved_logs_are_the_lines_not_the_wrapped_rendering_in_the_download_dir(tmp_path, stage, monkeypatch):
    long_line = "x" * 150 + " the end of a long line"
    stage.log_lines = ["first line", long_line]
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    monkeypatch.setenv("XDG_DOWNLOAD_DIR", str(downloads))  # the demo's state directory is removed on exit
    app = make_app(tmp_path / "state", stage, env="staging")
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        logs = await open_logs(pilot, "kubernetes/Pod/web-7d9f-abcde")
        log = logs.log_widget
        await wait_until(pilot, lambda: log.line_count == 2, "the lines")
        await pilot.press("w")
        await wait_until(pilot, lambda: log.line_count > 2, "the long line wrapped")
        toasted: list[str] = []   # every toast posted (a toast on screen expires: on a loaded machine
        notify = app.notify       # it may be gone before the check below)
        app.notify = lambda message, *args, **kwargs: (toasted.append(str(message)), notify(message, *args, **kwargs))[1]
        await pilot.press("ctrl+s")
        await dialog_shown(pilot, ConfirmScreen, "the save prompt")
        await pilot.press("enter")
        await wait_until(pilot, lambda: list(downloads.iterdir()), "the saved file")
        (saved,) = downloads.iterdir()
        await wait_until(pilot, lambda: saved.read_text().endswith("\n"), "the whole file")
        assert saved.read_text() == f"first line\n{long_line}\n"
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        await wait_until(pilot, lambda: any(str(saved) in message for message in toasted),
                         "the toast naming the whole path")


async def test_saved_logs_are_private_and_never_follow_a_planted_link(tmp_path, stage, monkeypatch):
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/Downloads: the state directory's logs/
    stage.log_lines = ["secret-ish line"]
    state = tmp_path / "state"
    app = make_app(state, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        logs = await open_logs(pilot, "kubernetes/Pod/web-7d9f-abcde")
        await wait_until(pilot, lambda: logs.log_widget.line_count == 1, "the line")
        await pilot.press("ctrl+s")
        await dialog_shown(pilot, ConfirmScreen, "the save prompt")
        await pilot.press("enter")  # the proposed path: the state directory, not the working directory
        saved_dir = state / "logs"
        await wait_until(pilot, lambda: saved_dir.is_dir() and list(saved_dir.iterdir()), "the saved file")
        (saved,) = saved_dir.iterdir()
        assert saved.name.startswith("envdeck-"), saved.name
        assert saved.read_text() == "secret-ish line\n"
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        assert stat.S_IMODE(saved_dir.stat().st_mode) == 0o700

        victim = tmp_path / "victim.txt"
        victim.write_text("untouched\n")
        link = tmp_path / "planted.log"
        link.symlink_to(victim)
        await pilot.press("ctrl+s")
        await dialog_shown(pilot, ConfirmScreen, "the save prompt")
        await pilot.press("ctrl+u", *str(link), "enter")
        await wait_until(pilot, lambda: any("cannot save" in n.message for n in app._notifications),
                         "the refusal")
        assert victim.read_text() == "untouched\n"


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


async def _feed_and_expect_end(pilot, stage, logs: LogsView, tag: str) -> None:
    log = logs.log_widget
    for i in range(60):
        stage.log_feed.put_nowait(f"{tag} {i}")
    await wait_until(pilot, lambda: log.lines and log.lines[-1].endswith(f"{tag} 59"), f"the {tag} lines")
    await settle(pilot)
    assert logs.follow and "following" in str(logs.query_one("#logs-toolbar").render())
    # following means the last line is on screen, not only in the buffer
    assert log.is_vertical_scroll_end and log.max_scroll_y > 0, (tag, log.scroll_y, log.max_scroll_y)


async def test_wrap_and_json_keep_following_and_end_resumes(tmp_path, stage):
    # long JSON lines: wrap and pretty-print take the horizontal scrollbar away (the height changes)
    stage.log_lines = [json.dumps({"n": i, "msg": "x" * 150}) for i in range(80)]
    stage.log_feed = asyncio.Queue()
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        logs = await open_logs(pilot, "kubernetes/Pod/web-7d9f-abcde")
        await wait_until(pilot, lambda: logs.log_widget.line_count == 80, "the first lines")
        await settle(pilot)
        await pilot.press("w")
        await _feed_and_expect_end(pilot, stage, logs, "after wrap")
        await pilot.press("J")
        await _feed_and_expect_end(pilot, stage, logs, "after json")
        await pilot.press("t")
        await _feed_and_expect_end(pilot, stage, logs, "after time")
        # paused and scrolled to the top: End follows again
        # scrolling up pauses (new lines must not pull the view back), and says so
        await pilot.press("up")
        await settle(pilot)
        assert not logs.follow and "paused" in str(logs.query_one("#logs-toolbar").render())
        await pilot.press("home")
        await settle(pilot)
        assert logs.log_widget.scroll_y == 0
        await pilot.press("end")
        await settle(pilot)
        assert logs.follow
        await _feed_and_expect_end(pilot, stage, logs, "after end")


async def test_search_counts_matching_lines(tmp_path, stage):
    stage.log_lines = [f"req {i} {'ERROR' if i % 3 == 0 else 'ok'}" for i in range(30)]
    stage.log_feed = asyncio.Queue()
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        logs = await open_logs(pilot, "kubernetes/Pod/web-7d9f-abcde")
        await wait_until(pilot, lambda: logs.log_widget.line_count == 30, "the lines")
        toolbar = logs.query_one("#logs-toolbar")
        await pilot.press("slash", *"error")
        await wait_until(pilot, lambda: "10 matches" in str(toolbar.render()), "the match count",
                         explain=lambda: str(toolbar.render()))
        await pilot.press("enter")
        stage.log_feed.put_nowait("late ERROR")
        await wait_until(pilot, lambda: "11 matches" in str(toolbar.render()), "the count to grow",
                         explain=lambda: str(toolbar.render()))
        await pilot.press("slash", "ctrl+u", *"nothing-here", "enter")
        await wait_until(pilot, lambda: "no match" in str(toolbar.render()), "no match",
                         explain=lambda: str(toolbar.render()))


async def test_the_match_count_shows_whole_at_80_columns(tmp_path, stage):
    stage.log_lines = [f"req {i} {'ERROR' if i % 3 == 0 else 'ok'}" for i in range(500)]
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        logs = await open_logs(pilot, "kubernetes/Pod/web-7d9f-abcde")
        await wait_until(pilot, lambda: logs.log_widget.line_count == 500, "the lines")
        toolbar = logs.query_one("#logs-toolbar")

        def shown() -> str:  # what the 80 columns show, not the whole text
            return "".join(s.text for s in toolbar.render_line(0))

        await pilot.press("slash", *"error", "enter")
        await wait_until(pilot, lambda: "/error 167 matches" in shown(), "the whole match count", explain=shown)
