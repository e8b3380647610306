"""What on-call testers tripped over at 80×24 (k9s habits): the overview keeps every column
once a created environment is listed, the footer offers only keys that can act, and the `n`
form takes the keys typed right after it opens."""

from __future__ import annotations

import pytest

from screens.overview import EnvironmentsTable
from tests.lifecycle.memory_provisioner import MemoryWorld
from tests.tui.pilot import app_ready, settle, wait_until
from tests.tui.test_lifecycle_tui import SMALL, STEPS_SNAPSHOT, lifecycle_app
from tui.core.env_state import LifecycleChanged
from tui.core.lifecycle.records import EnvLifecycleState


@pytest.fixture
def world() -> MemoryWorld:
    return MemoryWorld()


def shown_columns(table: EnvironmentsTable) -> dict[str, int]:
    """Column key -> its width on screen (padding included)."""
    return {str(key.value): column.get_render_width(table) for key, column in table.columns.items()}


async def test_overview_keeps_score_and_updated_at_80_columns_with_created_environments(tmp_path, stage, world):
    app = lifecycle_app(tmp_path, stage, world)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        for name in ("pr-42", "preview-of-the-branch-feature-x"):
            managed = await app.session.env_create(name, "preview", {"branch": "feature-x"}, wait=False)
            managed.state = EnvLifecycleState.PROVISIONING
            managed.steps = [*STEPS_SNAPSHOT]
            app.bridge(LifecycleChanged(name, managed))
        table = app.screen.query_one(EnvironmentsTable)
        await wait_until(pilot, lambda: len(table.row_keys) == 4, "both created environments listed",
                         explain=lambda: table.row_keys)
        await settle(pilot)
        widths = shown_columns(table)
        assert list(widths) == ["env", "health", "drift", "faults", "score", "backends", "age", "repair"], widths
        assert sum(widths.values()) <= table.scrollable_content_region.width, widths  # no sideways scroll
        cells = {key: [c.plain for c in table.cells_of(key)] for key in table.row_keys}
        assert cells["pr-42"][0] == "pr-42 ⌛45m", cells["pr-42"]
        assert cells["pr-42"][1] == "◐ prov 1/3", cells["pr-42"]
        long_name = cells["preview-of-the-branch-feature-x"][0]
        assert long_name.endswith("… ⌛45m") and long_name.startswith("prev"), long_name
        assert cells["staging"][4].endswith("%") and cells["staging"][6].endswith("s"), cells["staging"]
        # the whole state, name and expiry stay in the line under the table
        table.move_to_key("preview-of-the-branch-feature-x")
        await settle(pilot)
        under = str(app.screen.query_one("#env-description").render())
        assert under.startswith("preview-of-the-branch-feature-x  ◐ provisioning 1/3"), under
        assert "expires in 45m" in under, under
        # wide enough: the long words and labels again
        await pilot.resize_terminal(120, 30)
        await settle(pilot)
        cells = {key: [c.plain for c in table.cells_of(key)] for key in table.row_keys}
        assert cells["pr-42"][1] == "◐ provisioning 1/3"
        assert cells["preview-of-the-branch-feature-x"][0] == "preview-of-the-branch-feature-x ⌛45m"
        assert [str(c.label) for c in table.columns.values()][6] == "UPDATED"
