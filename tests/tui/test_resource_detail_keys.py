"""The resource detail's footer, `?` and keys agree, as on the other screens: an action key is
offered only where it can act (`r` not on a Pod, `R` only with drift, `o` only with a console
link, none once the resource is gone), and pressed where it cannot act it says why in one line
instead of nothing. Nothing reaches the stage's backends."""

from __future__ import annotations

from screens.confirm import ConfirmScreen
from screens.help import HelpScreen
from screens.resource_detail import ResourceDetailScreen
from tests.tui.pilot import app_ready, drawn_keys, make_app, settle, wait_until
from tests.tui.stage import LIVE_CONFIG
from tests.tui.test_footer_agrees import footer_actions, help_rows, press_says
from tests.tui.test_lifecycle_tui import SMALL

POD = "kubernetes/Pod/api-5c8b-xyz12"


async def open_detail(pilot, resource_id: str) -> ResourceDetailScreen:
    app = pilot.app
    app.push_screen(ResourceDetailScreen("staging", resource_id))
    await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen) and app.screen.ready, "the detail")
    await settle(pilot)
    return app.screen


async def test_keys_a_pod_has_not_say_why_and_the_footer_and_help_leave_them_out(tmp_path, stage):
    stage.replica_sets = True  # the pod names its ReplicaSet, which names its Deployment
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        detail = await open_detail(pilot, POD)
        shown = footer_actions(detail)
        assert not {"restart", "repair", "open_console", "scale", "stop", "start"} & shown, shown
        assert {"back", "logs", "shell"} <= shown, shown
        assert await press_says(pilot, "r") == ["Pods cannot be restarted; restart their Deployment"]
        assert await press_says(pilot, "S") == ["Pods cannot be scaled"]
        assert await press_says(pilot, "R") == ["no drift to repair on Pod/api-5c8b-xyz12"]
        assert await press_says(pilot, "o") == ["no console link for Pod api-5c8b-xyz12"]
        assert app.screen is detail and stage.performed == []
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        rows = help_rows(app)
        for ident in ("restart", "repair", "open-console"):
            assert rows[ident].endswith("(not now)"), (ident, rows[ident])
        assert not rows["logs"].endswith("(not now)")


async def test_repair_is_offered_with_drift_and_every_action_key_goes_when_the_resource_is_gone(tmp_path, stage):
    stage.hostile = True  # a pod that can go away: the next pass without it leaves the detail on a gone resource
    app = make_app(tmp_path, stage, env="staging", live=True, config_text=LIVE_CONFIG)
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        api = await open_detail(pilot, "kubernetes/Deployment/api")  # 1 replica where 2 are desired
        await wait_until(pilot, lambda: "repair" in footer_actions(api), "R Repair on the drifted Deployment")
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the repair confirmation")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is api, "back on the detail")
        await pilot.press("escape")

        detail = await open_detail(pilot, "kubernetes/Pod/hostile")
        assert "logs" in footer_actions(detail)
        stage.hostile = False
        await wait_until(pilot, lambda: detail._shown is None, "the pod gone from the observation")
        await settle(pilot)
        assert not {"logs", "shell", "restart", "delete", "repair"} & footer_actions(detail)
        said = await press_says(pilot, "l")
        assert said == ["Pod/hostile is gone (no longer observed): nothing to act on"], said
        assert app.screen is detail and stage.performed == []


async def test_the_footer_shows_its_keys_whole_at_80_columns(tmp_path, stage):
    """An EC2 instance and an edge node have several of l, s, r Reboot, o, y, d: at 80 columns the footer cut
    `? Help` to `? He` and lost `: Command` (found in tmux); the tabs' y and d give way, then o."""

    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        for rid in ("aws/ec2-instance/i-0abc123", "edge/node/gw-01"):
            detail = await open_detail(pilot, rid)
            keys = [k for k in drawn_keys(detail) if k.key != "ctrl+p"]
            palette = next(k for k in drawn_keys(detail) if k.key == "ctrl+p")  # docked at the right
            assert {"help", "command_line", "quit"} <= footer_actions(detail), (rid, keys)
            assert max(k.region.right for k in keys) <= palette.region.x, \
                (rid, [(k.description, k.region.x, k.region.right) for k in keys], palette.region.x)
            await pilot.press("escape")
            await wait_until(pilot, lambda d=detail: app.screen is not d, "back")


async def test_an_instance_detail_offers_stop_before_the_tabs_keys_at_80_columns(tmp_path, stage):
    """Recheck finding, session 12: `?` offered `X Stop` on an EC2 instance's detail, the footer kept
    `y YAML` and `o Console` instead. Where it acts, Stop is offered; the tabs' keys give way."""
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SMALL) as pilot:
        await app_ready(pilot)
        detail = await open_detail(pilot, "aws/ec2-instance/i-0abc123")
        keys = [(k.key, k.description) for k in drawn_keys(detail)]
        assert ("X", "Stop") in keys and ("q", "Quit") in keys and ("colon", "Command") in keys, keys
