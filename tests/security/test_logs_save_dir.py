"""Saving logs (ctrl+s in a Logs view) into a team's shared state directory (root:GROUP 3770):
another member may create entries there, so `logs/` must be the user's own real directory
(tui/core/own_dir.py). A member's `logs` symlink to a directory of hers, or a `logs/` directory
she made, is refused with a clear message in the TUI (her directory stays empty), and `doctor`
says it (FAIL, exit 1). The member is a second local user acting with runuser
(tests/other_user.py); the TUI runs on the in-memory stage (the file system is the point)."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from screens.confirm import ConfirmScreen
from tests.helpers import envdeck_inproc
from tests.other_user import PYTHON, needs_other_user, other_user
from tests.security.shared_dirs import team_dirs
from tests.tui.pilot import app_ready, dialog_shown, make_app, wait_until
from tests.tui.stage import Stage
from tui.widgets.logs_view import LogsView
from tui.widgets.resource_table import ResourceTable

pytestmark = needs_other_user
POD = "kubernetes/Pod/web-7d9f-abcde"


@pytest.fixture
def stage() -> Stage:
    return Stage()


@pytest.fixture
def shared() -> Iterator[tuple[Path, Path]]:
    """(the shared state directory root:GROUP 3770, a directory of the member's), under /tmp."""
    # anyone may write into hers: the redirect would have worked
    with team_dirs("envdeck-logs-", 0o3770, hers_mode=0o777) as dirs:
        yield dirs.shared, dirs.hers


def _as_member(code: str, *args: str) -> None:
    done = subprocess.run(["runuser", "-u", other_user().pw_name, "--", PYTHON, "-c", code, *args],
                          capture_output=True, text=True, timeout=60, cwd="/")
    assert done.returncode == 0, done.stderr


@asynccontextmanager
async def _saving(state: Path, stage: Stage, line: str) -> AsyncIterator:
    """The TUI on `state`, a pod's Logs view holding `line`, ctrl+s and Enter on the proposed path
    (STATE/logs/envdeck-...log) done: its pilot, for the test to wait on what came of it."""
    stage.log_lines = [line]
    app = make_app(state, stage, env="staging")
    async with app.run_test(size=(120, 30)) as pilot:
        await app_ready(pilot)
        table = app.screen.query_one(ResourceTable)
        await wait_until(pilot, lambda: table.move_to_key(POD), POD)
        await pilot.press("l")
        await wait_until(pilot, lambda: app.screen.active_view == "logs", "the logs view")
        logs = app.screen.query_one(LogsView)
        await wait_until(pilot, lambda: logs.log_widget.line_count == 1, "the line")
        await pilot.press("ctrl+s")
        await dialog_shown(pilot, ConfirmScreen, "the save prompt")
        await pilot.press("enter")
        yield pilot


async def _save_refused(state: Path, stage: Stage, fragment: str) -> None:
    async with _saving(state, stage, "root's secret-ish line") as pilot:
        app = pilot.app
        await wait_until(pilot, lambda: any("cannot save" in n.message for n in app._notifications), "the refusal")
        said = [n.message for n in app._notifications if "cannot save" in n.message]
        assert any(fragment in text and str(state / "logs") in text for text in said), said


async def test_a_members_logs_symlink_in_the_shared_state_directory_is_refused(shared, stage, monkeypatch):
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    monkeypatch.setenv("HOME", "/nonexistent")  # no ~/Downloads: the state directory's logs/
    state, hers = shared
    _as_member("import os, sys; os.symlink(sys.argv[1], sys.argv[2])", str(hers), str(state / "logs"))
    await _save_refused(state, stage, f"is a symbolic link of {other_user().pw_name}")
    assert list(hers.iterdir()) == [], "nothing of root's landed in her directory"
    doctor = envdeck_inproc("doctor", "--config", "/nonexistent.yaml", "--state-dir", str(state))
    assert "Traceback" not in doctor.stderr
    # without a config doctor still checks the state directory; with one (below) the saved-logs line
    cfg = state.parent / "envdeck.yaml"
    cfg.write_text("environments:\n  dev: {description: Dev}\n")
    cfg.chmod(0o600)
    doctor = envdeck_inproc("doctor", "--config", str(cfg), "--state-dir", str(state))
    assert doctor.returncode == 1, doctor.stdout
    assert any(ln.startswith("FAIL") and "saved logs" in ln and "symbolic link" in ln
               for ln in doctor.stdout.splitlines()), doctor.stdout


async def test_a_logs_directory_a_member_made_is_refused(shared, stage, monkeypatch):
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    monkeypatch.setenv("HOME", "/nonexistent")
    state, _ = shared
    _as_member("import os, sys; os.mkdir(sys.argv[1], 0o777); os.chmod(sys.argv[1], 0o777)", str(state / "logs"))
    await _save_refused(state, stage, f"belongs to {other_user().pw_name}, not to you")
    assert list((state / "logs").iterdir()) == []


async def test_logs_are_saved_in_a_logs_directory_of_your_own_in_the_shared_state_directory(shared, stage,
                                                                                           monkeypatch):
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    monkeypatch.setenv("HOME", "/nonexistent")
    state, _ = shared
    folder = state / "logs"
    async with _saving(state, stage, "root's line") as pilot:
        await wait_until(pilot, lambda: folder.is_dir() and list(folder.iterdir()), "the saved file")
    st = os.lstat(folder)
    assert stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and st.st_mode & 0o777 == 0o700
    (saved,) = folder.iterdir()
    assert saved.read_text() == "root's line\n" and stat.S_IMODE(saved.stat().st_mode) == 0o600
