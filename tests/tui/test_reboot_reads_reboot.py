"""`r` on an edge node (or an EC2 instance) reboots it: the footer, `?` and the resource detail
say `r Reboot`, what the confirmation it opens asks, never `r Restart`; on a Deployment it
stays `r Restart`."""

from __future__ import annotations

from screens.confirm import ConfirmScreen
from screens.help import HelpScreen
from screens.resource_detail import ResourceDetailScreen
from tests.tui.pilot import settle, wait_until
from tests.tui.test_footer_agrees import help_rows
from tests.tui.test_overview_selection import footer_keys, ready_at_80x24, select
from tui.widgets.resource_table import ResourceTable

NODE = "edge/node/gw-01"


async def test_r_reads_reboot_where_it_reboots(tmp_path, stage):
    async with ready_at_80x24(tmp_path, stage, ResourceTable, env="staging") as (pilot, screen, table):
        app = pilot.app
        await select(pilot, table, "kubernetes/Deployment/api")
        assert footer_keys(screen).get("r") == "Restart", footer_keys(screen)
        await select(pilot, table, NODE)
        assert footer_keys(screen).get("r") == "Reboot", footer_keys(screen)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        assert help_rows(app)["restart"] == "Reboot", help_rows(app)["restart"]
        await pilot.press("escape")
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen) and app.screen.ready, "detail")
        await settle(pilot)
        assert footer_keys(app.screen).get("r") == "Reboot", footer_keys(app.screen)
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert "Reboot" in str(app.screen.request.title), app.screen.request.title
