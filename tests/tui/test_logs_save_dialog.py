"""ctrl+s on the Logs view at 80×24: the dialog's title is whole (a short one, never cut mid-word),
the folder the file goes to is said above the path field (whose box shows the path's end only),
and under `envdeck demo`, whose temporary directory holds the state, the dialog and the toast say
that the demo removes that directory when it ends."""

from __future__ import annotations

from textual.widgets import Label, Static

from screens.confirm import ConfirmScreen
from tests.tui.pilot import app_ready, dialog_shown, make_app, wait_until
from tests.tui.test_logs_view import open_logs
from tui.widgets.logs_view import REMOVED_ON_EXIT


async def test_the_save_dialog_names_the_folder_and_the_demo_says_it_removes_it(tmp_path, stage, monkeypatch):
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/Downloads: the state directory's logs/
    stage.log_lines = ["one line"]
    demo_dir = tmp_path / "envdeck-demo-x"
    state = demo_dir / "state"
    app = make_app(state, stage, env="staging")
    app.options.extra[REMOVED_ON_EXIT] = str(demo_dir)  # as `envdeck demo` sets it
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        logs = await open_logs(pilot, "kubernetes/Pod/web-7d9f-abcde")
        await wait_until(pilot, lambda: logs.log_widget.line_count == 1, "the line")
        toasted: list[str] = []
        notify = app.notify
        app.notify = lambda message, *args, **kwargs: (toasted.append(str(message)), notify(message, *args, **kwargs))[1]
        await pilot.press("ctrl+s")
        await dialog_shown(pilot, ConfirmScreen, "the save prompt")
        dialog = app.screen
        title = dialog.query_one("#dialog-title", Label)
        whole = "Save 1 lines as shown (unwrapped, escaped)"
        assert str(title.render()) == whole and title.size.width >= len(whole), (title.render(), title.size)
        details = [str(s.render()) for s in dialog.query(".detail").results(Static)]
        assert details == [f"into {state / 'logs'}/ (the demo removes it when it ends)"], details
        for button in ("#ok", "#cancel"):  # the long folder wraps; the buttons stay in view
            region = dialog.query_one(button).region
            assert region.height > 0 and region.bottom <= 24, (button, region)
        await pilot.press("enter")
        saved_dir = state / "logs"
        await wait_until(pilot, lambda: saved_dir.is_dir() and list(saved_dir.iterdir()), "the saved file")
        await wait_until(pilot, lambda: any(f"the demo removes {demo_dir} when it ends" in t for t in toasted),
                         "the toast saying the demo removes it", explain=lambda: toasted)
    assert app._exception is None
