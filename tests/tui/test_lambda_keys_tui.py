"""A Lambda's set-concurrency runs from `S` (it was listed under Actions but no key ran it); `?`
on a Lambda lists `F port-forward` as "not now"; `l`/`s` on an SQS queue (not offered) say why
in one line instead of nothing."""

from __future__ import annotations

from backends.aws.actions import specs_for
from tests.tui.pilot import app_ready, make_app, settle, wait_until
from tests.tui.stage import Stage
from tests.tui.test_aws_kinds_tui import FN_BARE, QUEUE, AwsKinds, select
from tui.core.model import ActionSpec, Resource


class AwsLambda(AwsKinds):
    """AwsKinds with the production action list of a function and a queue."""

    def actions(self, resource: Resource) -> list[ActionSpec]:
        if resource.kind in ("lambda-function", "sqs-queue"):
            return specs_for(resource)
        return super().actions(resource)


def make(state_dir, stage: Stage):
    return make_app(state_dir, stage, env="staging", aws=AwsLambda)


async def test_S_on_a_lambda_asks_for_its_reserved_concurrency(tmp_path, stage):
    from textual.widgets import Input

    from screens.confirm import ConfirmScreen

    app = make(tmp_path, stage)
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        await select(pilot, FN_BARE)
        assert app.screen.check_action("scale", ()) is True
        await pilot.press("S")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the set-concurrency dialog")
        assert app.screen.query_one("#param-reserved_concurrency", Input) is not None


async def test_help_on_a_lambda_says_port_forward_not_now(tmp_path, stage):
    from screens.help import binding_rows
    from screens.resource_detail import ResourceDetailScreen

    app = make(tmp_path, stage)
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        await select(pilot, FN_BARE)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen), "the function's detail")
        await settle(pilot)
        rows = binding_rows(app.screen, app.palette)
        [forward] = [cells for key, cells in rows.items() if key.startswith("port-forward:")]
        assert forward[2].plain.endswith("(not now)"), forward[2].plain
        [scale] = [cells for key, cells in rows.items() if key.startswith("scale:")]
        assert not scale[2].plain.endswith("(not now)"), scale[2].plain


async def word_on(pilot, key: str) -> str:
    """The message of the notification `key` raised (counted by identity: an earlier one expiring
    meanwhile shrinks the list, so its length says nothing under load)."""
    app = pilot.app
    seen = {n.identity for n in app._notifications}
    await pilot.press(key)
    await wait_until(pilot, lambda: any(n.identity not in seen for n in app._notifications), f"a word on {key}")
    return next(n for n in app._notifications if n.identity not in seen).message


async def test_l_and_s_on_a_queue_say_why_nothing_opens(tmp_path, stage):
    app = make(tmp_path, stage)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await app_ready(pilot)
        await select(pilot, QUEUE)
        for key, words in (("l", "no logs"), ("s", "no shell")):
            message = await word_on(pilot, key)
            assert words in message and "\n" not in message, message


async def test_keys_off_in_a_queue_detail_still_say_why(tmp_path, stage):
    from screens.resource_detail import ResourceDetailScreen

    app = make(tmp_path, stage)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await app_ready(pilot)
        await select(pilot, QUEUE)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen), "the queue's detail")
        await settle(pilot)
        for key, words in (("l", "no logs"), ("s", "no shell"), ("F", "port-forward works on")):
            message = await word_on(pilot, key)
            assert words in message and "\n" not in message, message
