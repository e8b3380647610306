"""`/` on the Steps view (key 8 of a created environment) filters its steps by id, backend,
kind, state or last message, as the other views filter their rows (also typed in one burst);
Esc clears it. Before, the footer offered `/ Filter` and `?` listed it while `/` said "the
Steps view has no filter". Real lifecycle service, store and engine over the in-memory world."""

from __future__ import annotations

import pytest

from screens.help import binding_rows
from screens.lifecycle_steps import StepsTable
from tests.lifecycle.memory_provisioner import MemoryWorld
from tests.tui.pilot import app_ready, wait_until
from tests.tui.test_command_line_bursts import send_burst
from tests.tui.test_footer_agrees import footer_actions
from tests.tui.test_help_lifecycle_keys import steps_of
from tests.tui.test_lifecycle_tui import SMALL, created_and_selected, lifecycle_app


@pytest.fixture
def world() -> MemoryWorld:
    return MemoryWorld()


async def test_steps_view_filters_by_step_and_esc_clears(tmp_path, stage, world):
    app = lifecycle_app(tmp_path, stage, world, live=True)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        await created_and_selected(pilot, app)
        screen = await steps_of(pilot, "pr-3")
        table = screen.query_one(StepsTable)
        every = [table.get_row_at(i)[0].plain for i in range(table.row_count)]
        assert len(every) >= 2, every
        assert "filter" in footer_actions(screen)
        whole: dict[str, str] = {}
        binding_rows(screen, app.palette, whole)
        assert any(k.startswith("filter:") and not t.endswith("(not now)") for k, t in whole.items()), whole
        wanted = "assets"  # a step id no other contains (`web` is in `web-sg` too)
        assert wanted in every, every
        app.clear_notifications()
        await send_burst(pilot, f"/{wanted}\r", "burst")
        await wait_until(pilot, lambda: table.row_count == 1 and not app.keys.held and app.focused is table,
                         f"only {wanted}", explain=lambda: (table.row_count, app.focused, app.keys.reasons))
        assert table.get_row_at(0)[0].plain == wanted
        assert screen.filters["steps"].text == wanted
        assert not any("no filter" in str(n.message) for n in app._notifications)
        assert f"/{wanted}" in str(screen.query_one("#title").render())
        assert screen.active_view == "steps"
        await pilot.press("escape")  # clears the filter
        await wait_until(pilot, lambda: table.row_count == len(every), "every step again")
        assert not screen.filters["steps"].active and screen.active_view == "steps"
    assert app._exception is None
