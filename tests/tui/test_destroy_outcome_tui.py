"""A destroy that ends badly stays in sight: an environment `destroyed` with orphans left keeps
its overview row (marked `✖ destroyed, 1 orphan(s)`), the line under the table names the orphan
with its reason, and one notification at severity error says so (docs/tui.md). The service,
engine and reconciler loop run for real; the in-memory world refuses one leftover's deletion."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.widgets import Static

from screens.overview import EnvironmentsTable
from tests.lifecycle.memory_provisioner import MemoryWorld, Thing
from tests.tui.pilot import app_ready, settle, wait_until
from tests.tui.test_lifecycle_tui import SMALL, lifecycle_app, state_of
from tui.core.lifecycle.records import EnvLifecycleState

WIDE = (160, 40)


@pytest.fixture
def world() -> MemoryWorld:
    return MemoryWorld()


def _errors(app) -> list[str]:
    return [str(n.message) for n in app._notifications if n.severity == "error"]


async def test_destroyed_with_an_orphan_stays_marked_with_an_error_toast(tmp_path, stage, world):
    app = lifecycle_app(tmp_path, stage, world, live=True)
    async with app.run_test(size=WIDE, notifications=True) as pilot:
        await app_ready(pilot)
        await app.session.env_create("pr-20", "preview", {"branch": "x"}, wait=False)
        await wait_until(pilot, lambda: state_of(app, "pr-20") == "ready", "pr-20 ready")
        instance = app.managed["pr-20"].instance
        world.things["stray"] = Thing("pr-20", "web", "aws", "ec2-instance", {}, "stray", instance=instance)
        world.stuck["stray"] = "UnauthorizedOperation: not allowed to terminate"
        await app.session.env_destroy("pr-20", wait=False)
        await wait_until(pilot, lambda: state_of(app, "pr-20") == EnvLifecycleState.DESTROYED, "pr-20 destroyed",
                         explain=lambda: app.managed.get("pr-20"))
        table = app.screen.query_one(EnvironmentsTable)
        await wait_until(pilot, lambda: "pr-20" in table.row_keys, "its row kept")
        await wait_until(pilot, lambda: (table.cells_of("pr-20") or ("", Text("")))[1].plain
                         == "✖ destroyed, 1 orphan(s)", "its row marked", explain=lambda: table.cells_of("pr-20"))
        await wait_until(pilot, lambda: any("pr-20" in e and "orphan" in e for e in _errors(app)), "the error toast",
                         explain=lambda: [str(n.message) for n in app._notifications])
        [toast] = [e for e in _errors(app) if "pr-20" in e]
        assert "arn:stray" in toast and "UnauthorizedOperation" in toast, toast
        await wait_until(pilot, lambda: table.move_to_key("pr-20"), "its row selected")
        await settle(pilot)
        line = app.screen.query_one("#env-description", Static)
        await wait_until(pilot, lambda: "orphans: aws arn:stray: UnauthorizedOperation" in str(line.render()),
                         "the orphan under the table", explain=lambda: str(line.render()))


async def test_a_clean_destroy_still_drops_the_row_without_an_error(tmp_path, stage, world):
    app = lifecycle_app(tmp_path, stage, world, live=True)
    async with app.run_test(size=SMALL, notifications=True) as pilot:
        await app_ready(pilot)
        await app.session.env_create("pr-21", "preview", {"branch": "x"}, wait=False)
        await wait_until(pilot, lambda: state_of(app, "pr-21") == "ready", "pr-21 ready")
        await app.session.env_destroy("pr-21", wait=False)
        await wait_until(pilot, lambda: "pr-21" not in app.managed, "pr-21 gone")
        table = app.screen.query_one(EnvironmentsTable)
        await wait_until(pilot, lambda: "pr-21" not in table.row_keys, "its row gone")
        assert [e for e in _errors(app) if "pr-21" in e] == []
        assert world.live("pr-21") == []
