"""A backend the environment's leader has not observed yet is pending, not unreachable, in
`envdeck xray` (text, JSON, exit 1 as `status`), the xray view of the TUI and the demo's
summary, as `envdeck status` says it (tests/followers/test_status_pending.py, whose leader and
held servers this test shares): the leader's AWS pass waits on a relay that forwards nothing
until the test opens it. The followers make no cloud call (counted on their own servers)."""

from __future__ import annotations

import asyncio
import json

from backends.registry import create_backends
from screens.xray import XrayScreen
from tests.followers.support import ENV, requests, until, until_published
from tests.followers.test_status_pending import LEADER, _leader, world  # noqa: F401 - `world` is a fixture
from tests.helpers import envdeck_inproc
from tests.tui.pilot import wait_until
from tui.app import AppOptions, create_app
from tui.cli.demo import observe_once, print_summary
from tui.core.config import parse_config

PENDING = f"aws pending (first pass by {LEADER} running)"


async def _xray(cli_config, state_dir, *args: str):
    return await asyncio.to_thread(envdeck_inproc, "xray", "--config", str(cli_config), "--state-dir",
                                   str(state_dir), ENV, *args)


async def test_xray_the_tui_and_the_demo_summary_say_pending_for_what_the_leader_has_not_observed(
        world, tmp_path, capsys):  # noqa: F811 - the fixture imported above
    leader_config, cli_config, leader_relay, cli_relay, cli_emu = world
    state_dir = tmp_path / "state"
    leader = await _leader(leader_config, state_dir)
    try:
        await until_published(leader)  # its Kubernetes pass published; its AWS pass is held by the server
        await until(lambda: leader_relay.accepted > 0, "the leader's AWS pass waiting on the held server")

        text = await _xray(cli_config, state_dir, "Deployment/web")
        assert text.returncode == 1, text.stdout + text.stderr  # not everything observed, as `status`
        assert "Deployment/web" in text.stdout.splitlines()[0], text.stdout
        assert "unreachable" not in (text.stdout + text.stderr).lower(), text.stdout + text.stderr
        assert f"{PENDING}: its part of the tree is not known yet" in text.stderr, text.stderr
        as_json = await _xray(cli_config, state_dir, "Deployment/web", "--json")
        body = json.loads(as_json.stdout)
        assert (body["pending_backends"], body["unreachable_backends"]) == (["aws"], []), body
        missing = await _xray(cli_config, state_dir, "staging-bastion")  # an AWS Name nobody has seen yet
        assert missing.returncode == 1 and PENDING in missing.stderr, missing.stderr
        assert "unreachable" not in missing.stderr.replace("BackendUnreachable", ""), missing.stderr

        envs = await observe_once(parse_config(cli_config.read_text()), state_dir)  # `envdeck demo --headless`
        capsys.readouterr()
        assert print_summary(envs) is False
        summary = capsys.readouterr().out
        assert PENDING in summary and "kubernetes ok" in summary and "UNREACHABLE" not in summary, summary

        options = AppOptions(backends_factory=create_backends, user="bob", testing=True)
        app = create_app(parse_config(cli_config.read_text()), state_dir, options=options)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: app.session is not None and getattr(app.screen, "ready", False),
                             "the TUI following the leader")
            app.push_screen(XrayScreen(ENV, "kubernetes/Deployment/web"))

            def hint() -> str:
                found = app.screen.query("#xray-hint") if isinstance(app.screen, XrayScreen) else ()
                return "".join(str(w.render()) for w in found)  # none while the screen is composed

            await wait_until(pilot, lambda: hint().startswith(PENDING), "the xray saying aws is pending",
                             explain=hint)
        leader_relay.open()  # the leader's first AWS pass may end now
    finally:
        await leader.close()
    assert cli_relay.accepted == 0  # the followers made no AWS call
    assert requests(cli_emu) == []

