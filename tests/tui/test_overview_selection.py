"""The overview's cursor follows its environment by name (the columns made again when a created
environment's state word changes their layout, a row destroyed), selects the neighbour of a
destroyed row as k9s does, says "nothing selected" and offers no p/Enter where nothing is; `/`
filters the environments (the letters after it are never commands); the footer and `?` agree
with the keys (p Resume on a paused row, D/Z/W "(not now)" on a declared environment)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from textual.widgets import Input, Static

from screens.confirm import ConfirmScreen
from screens.help import binding_rows
from screens.overview import EnvironmentsTable, OverviewScreen
from tests.lifecycle.memory_provisioner import managed_env
from tests.tui.pilot import app_ready, make_app, settle, wait_until
from tests.tui.stage import FIXED_NOW
from tests.tui.test_overview_enter_burst import send_burst
from tui.core.lifecycle.records import EnvLifecycleState, StepSpec
from tui.messages import LifecycleUpdated


def created(name: str, state: EnvLifecycleState):
    m = managed_env(name, [StepSpec("assets", "aws", "s3-bucket", {"name": "b"})], owner="alice",
                    created_at=FIXED_NOW)
    m.state = state
    return m


def footer_keys(screen) -> dict[str, str]:
    return {ab.binding.key: ab.binding.description for ab in screen.active_bindings.values()
            if ab.binding.show and ab.enabled}


def labels(table: EnvironmentsTable) -> list[str]:
    return [str(c.label) for c in table.columns.values()]


def under_table(screen) -> str:
    return str(screen.query_one("#env-description", Static).render())


@asynccontextmanager
async def ready_at_80x24(tmp_path, stage, table_type=EnvironmentsTable, **options) -> AsyncIterator[tuple]:
    """The app (make_app's `options`: env= opens that environment's screen) at 80×24, ready:
    the pilot, the screen shown and its table of `table_type`."""
    app = make_app(tmp_path, stage, **options)
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        screen = app.screen
        yield pilot, screen, screen.query_one(table_type)


async def select(pilot, table, key: str) -> None:
    """The row `key` selected and the screen settled (footer, detail line)."""
    table.move_to_key(key)
    await settle(pilot)


async def test_the_cursor_follows_its_environment_and_a_destroyed_rows_neighbour_is_selected(tmp_path, stage):
    async with ready_at_80x24(tmp_path, stage) as (pilot, screen, table):
        app = pilot.app
        last = table.row_keys[-1]
        table.move_to_key(last)
        wide = labels(table)
        app.post_message(LifecycleUpdated("pr-6-a-long-preview-name", created("pr-6-a-long-preview-name",
                                                                               EnvLifecycleState.PROVISIONING)))
        await wait_until(pilot, lambda: "pr-6-a-long-preview-name" in app.managed and labels(table) != wide,
                         "the columns made again for the provisioning row", explain=lambda: labels(table))
        await settle(pilot)
        assert table.cursor_key == last, "the cursor stayed on its environment when the columns changed"
        assert last in under_table(screen) or table.cursor_key == last

        # the provisioning row selected, then destroyed: its neighbour (the row before it) is selected
        await select(pilot, table, "pr-6-a-long-preview-name")
        assert "D" in footer_keys(screen)
        app.post_message(LifecycleUpdated("pr-6-a-long-preview-name", created("pr-6-a-long-preview-name",
                                                                               EnvLifecycleState.DESTROYED)))
        await wait_until(pilot, lambda: "pr-6-a-long-preview-name" not in table.row_keys, "the row gone")
        await settle(pilot)
        assert labels(table) == wide
        assert table.cursor_key == last, "the neighbour of the destroyed row is selected"
        keys = footer_keys(screen)
        assert keys.get("p") == "Pause" and "D" not in keys, keys
        assert "nothing selected" not in under_table(screen)


async def test_slash_filters_the_environments_and_nothing_selected_hides_the_keys(tmp_path, stage):
    async with ready_at_80x24(tmp_path, stage) as (pilot, screen, table):
        app = pilot.app
        everyone = list(table.row_keys)
        await send_burst(pilot, "/prod", "burst")
        box = screen.query_one("#filter", Input)
        await wait_until(pilot, lambda: not app.keys.held and box.value == "prod", "'prod' in the filter box",
                         explain=lambda: (box.value, app.focused, app.screen))
        await settle(pilot)
        assert isinstance(app.screen, OverviewScreen), "p was typed into the box, not a Pause dialog"
        assert table.row_keys == ["prod"] and "staging" in everyone
        assert "/prod" in str(screen.query_one("#title", Static).render())

        await send_burst(pilot, "\x1b", "burst")  # the box closed, the filter kept
        await wait_until(pilot, lambda: not app.keys.held and app.focused is table, "the table focused")
        assert table.row_keys != everyone
        await send_burst(pilot, "/\b\b\b\bzzz\r", "burst")
        await wait_until(pilot, lambda: not app.keys.held and app.focused is table and screen.filter.text == "zzz",
                         "the filter zzz applied", explain=lambda: (screen.filter.text, app.focused))
        await settle(pilot)
        assert table.row_keys == [] and table.cursor_key is None
        assert "no environment matches" in under_table(screen)
        keys = footer_keys(screen)
        assert "p" not in keys and "enter" not in keys, keys
        await pilot.press("p", "enter")
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen)

        await pilot.press("escape")  # clears the filter
        await wait_until(pilot, lambda: table.row_keys == everyone, "every environment back")
        await pilot.press("escape")  # nothing left to clear: the overview stays
        await pilot.pause()
        assert isinstance(app.screen, OverviewScreen) and not screen.filter.active


async def test_footer_and_help_agree_with_the_keys_on_the_overview(tmp_path, stage):
    async with ready_at_80x24(tmp_path, stage) as (pilot, screen, table):
        app = pilot.app
        env = table.cursor_key
        rows = {key.split(":")[0]: cells[2].plain for key, cells in binding_rows(screen, app.palette).items()}
        for ident in ("env-destroy", "env-sleep", "env-wake"):  # a declared environment: visible at 80 columns
            assert rows[ident].endswith("(not now)") and len(rows[ident]) < 30, (ident, rows[ident])
        assert footer_keys(screen).get("p") == "Pause"

        await app.session.set_paused(env, True)
        screen.refresh_all()
        await settle(pilot)
        assert footer_keys(screen).get("p") == "Resume", footer_keys(screen)
        await pilot.press("p")
        dialog = await wait_until_dialog(pilot)
        assert "Resume repairs" in str(dialog.request.title)


async def wait_until_dialog(pilot):
    await wait_until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "the confirmation")
    return pilot.app.screen
