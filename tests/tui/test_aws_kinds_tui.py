"""The newer AWS kinds in the TUI at 80×24 (on-call findings 6, 7, 8): rows tell two instances
of one Auto Scaling group apart and show short kinds, a failed action's toast leads with the
backend's reason and keeps all of it, the scale dialog of a group knows its min and max, `l`/`s`
are not offered where there are no logs or shell, and a log stream that cannot start says why.

The stage's AWS backend plays the kinds; which resources have logs is decided by the production
`AwsBackend.has_logs` (its config is a real AwsConfig)."""

from __future__ import annotations

from pathlib import Path

from backends.aws.backend import AwsBackend
from tests.tui.pilot import app_ready, dialog_shown, drawn_keys, make_app, settle, wait_until
from tests.tui.stage import OBSERVED, Stage, StageAws
from tui.core.config import AwsConfig
from tui.core.errors import InvalidRequest
from tui.core.model import ActionResult, ActionSpec, Health, Resource

ASG = "aws/autoscaling-group/staging-workers"
QUEUE = "aws/sqs-queue/staging-jobs"
FN_LOGGED, FN_BARE = "aws/lambda-function/staging-api", "aws/lambda-function/staging-webhook"
WORKERS = ("i-15f7e90507b4914cf", "i-2b8e11c4d0a9f7731")
REASON = "desired_capacity must be between 1 and 6 (the group's min and max size), got 99"
NO_LOG_GROUP = (f"{QUEUE} has no log group: map one under aws.logs in the config "
                "or tag the resource envdeck:log-group=GROUP")


class AwsKinds(StageAws):
    """The stage's AWS plus a group with two same-named instances, a queue and two functions."""

    def __init__(self, env: str, stage: Stage):
        super().__init__(env, stage)
        self.config = AwsConfig(region="us-east-1", tags={"env": env})
        self.calls: list[tuple[str, dict[str, str]]] = []

    has_logs = AwsBackend.has_logs

    def build(self) -> list[Resource]:
        def res(rid: str, kind: str, name: str, status: str, **attributes) -> Resource:
            return Resource(id=rid, backend="aws", kind=kind, name=name, health=Health.HEALTHY, status=status,
                            observed_at=OBSERVED, attributes=attributes)

        return super().build() + [
            res(ASG, "autoscaling-group", "staging-workers", "1/2 in service", min_size=1, max_size=6,
                desired_capacity=2),
            *(res(f"aws/ec2-instance/{i}", "ec2-instance", "staging-asg-worker", "running", state="running")
              for i in WORKERS),
            res(QUEUE, "sqs-queue", "staging-jobs", "3 in DLQ"),
            res(FN_LOGGED, "lambda-function", "staging-api", "Active", tags={"envdeck:log-group": "/aws/api"}),
            res(FN_BARE, "lambda-function", "staging-webhook", "update Failed"),
        ]

    def actions(self, resource: Resource) -> list[ActionSpec]:
        if resource.kind == "autoscaling-group":
            return [ActionSpec("set-desired-capacity", "Set desired capacity", params=("desired_capacity",))]
        if resource.kind in ("sqs-queue", "lambda-function"):
            return []
        return super().actions(resource)

    async def perform(self, resource: Resource, action: str, params: dict[str, str]) -> ActionResult:
        if resource.kind == "autoscaling-group":
            self.calls.append((action, dict(params)))
            raise InvalidRequest(REASON, backend="aws")
        return await super().perform(resource, action, params)

    async def logs(self, resource_id, *, follow=False, tail=100, container=None, previous=False):
        raise InvalidRequest(f"{resource_id} has no log group: map one under aws.logs in the config "
                             "or tag the resource envdeck:log-group=GROUP", backend="aws")
        yield  # an async generator, as the real one


def make(state_dir: Path, stage: Stage):
    return make_app(state_dir, stage, env="staging", aws=AwsKinds)


def aws_of(app) -> AwsKinds:
    return app.session.reconciler.backends["staging"]["aws"]


def footer_keys(app) -> set[str]:

    return {key.description for key in drawn_keys(app.screen)}


def row_text(table, key: str) -> str:
    return " ".join(cell.plain for cell in table.cells_for(key))


async def select(pilot, key: str):
    from tui.widgets.resource_table import ResourceTable

    table = pilot.app.screen.query_one(ResourceTable)
    await wait_until(pilot, lambda: table.move_to_key(key), key)
    await settle(pilot)
    return table


async def test_rows_tell_same_named_instances_apart_and_show_short_kinds(tmp_path, stage):
    app = make(tmp_path, stage)
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        table = await select(pilot, ASG)
        first, second = (row_text(table, f"aws/ec2-instance/{i}") for i in WORKERS)
        assert "(i-15f7e905…)" in first and "(i-2b8e11c4…)" in second, (first, second)
        assert first.split()[0] == "ec2-instance"
        asg, queue = row_text(table, ASG), row_text(table, QUEUE)
        assert asg.split()[:2] == ["asg", "staging-workers"] and "1/2 in service" in asg, asg
        assert "autoscaling" not in asg and queue.split()[0] == "sqs-queue" and "3 in DLQ" in queue
        assert row_text(table, FN_BARE).split()[0] == "lambda"
        # a name nobody shares stays as it is
        assert "staging-bastion" in row_text(table, "aws/ec2-instance/i-0abc123")
        assert "(i-0abc123)" not in row_text(table, "aws/ec2-instance/i-0abc123")


async def test_no_logs_or_shell_offered_on_a_queue_a_group_or_an_unmapped_function(tmp_path, stage):
    app = make(tmp_path, stage)
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        await select(pilot, FN_LOGGED)  # tagged envdeck:log-group: l is offered
        await wait_until(pilot, lambda: "Logs" in footer_keys(app), "l Logs on a function with a log group",
                         explain=lambda: footer_keys(app))
        for rid in (QUEUE, ASG, FN_BARE):
            await select(pilot, rid)
            await wait_until(pilot, lambda: "Logs" not in footer_keys(app), f"no l Logs on {rid}",
                             explain=lambda: footer_keys(app))
            assert app.screen.check_action("logs", ()) is False
            assert app.screen.check_action("shell", ()) is False
        await pilot.press("d")
        from screens.resource_detail import ResourceDetailScreen

        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen), "the function's detail")
        await settle(pilot)
        assert {"Logs", "Shell"}.isdisjoint(footer_keys(app)), footer_keys(app)


async def test_a_failed_scale_toast_leads_with_the_reason_and_keeps_it_whole(tmp_path, stage):
    from screens import action_flow

    app = make(tmp_path, stage)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await app_ready(pilot)
        app.run_worker(action_flow._perform(app, "staging", [(ASG, "set-desired-capacity")],
                                            {"desired_capacity": "99"}, "Set desired capacity"))

        def failed() -> list:
            return [n for n in app._notifications if n.severity == "error"]

        await wait_until(pilot, lambda: failed(), "the failure toast")
        [toast] = failed()
        assert toast.message.startswith(f"failed: {REASON}"), toast.message  # the reason first, not the id
        assert toast.message.endswith("(Set desired capacity staging-workers in staging)")
        assert toast.message.count(ASG) == 0
        from textual.widgets._toast import Toast

        await wait_until(pilot, lambda: list(app.screen.query(Toast)), "the toast on screen")
        shown = " ".join(" ".join(str(t.render()).split()) for t in app.screen.query(Toast))
        assert REASON in shown, shown  # wrapped over lines at 80 columns, not cut


async def test_the_scale_dialog_shows_min_and_max_and_refuses_out_of_range(tmp_path, stage):
    from textual.widgets import Input, Label, Static

    from screens.confirm import ConfirmScreen

    app = make(tmp_path, stage)
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        await select(pilot, ASG)
        await pilot.press("S")
        await dialog_shown(pilot, ConfirmScreen, "the scale dialog")
        dialog = app.screen
        texts = [str(w.render()) for w in dialog.query(Static)] + [str(w.render()) for w in dialog.query(Label)]
        assert any("desired_capacity (1–6):" in t for t in texts), texts
        assert any("between 1 and 6" in t for t in texts), texts
        box = dialog.query_one("#param-desired_capacity", Input)
        box.value = "99"
        await pilot.press("ctrl+y")
        await settle(pilot)
        assert app.screen is dialog  # refused before any call
        error = str(dialog.query_one("#dialog-error", Static).render())
        assert "between 1 and 6" in error and "got 99" in error, error
        assert aws_of(app).calls == []


async def test_the_detail_action_row_keeps_a_space_after_a_long_action_name(tmp_path, stage):
    from textual.widgets import OptionList

    from screens.resource_detail import ResourceDetailScreen

    app = make(tmp_path, stage)
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        await select(pilot, ASG)
        await pilot.press("d")
        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen), "the group's detail")
        options = app.screen.query_one("#actions", OptionList)
        prompt = str(options.get_option_at_index(0).prompt)
        assert "set-desired-capacity Set desired capacity" in prompt, prompt


async def test_a_log_stream_that_cannot_start_says_why_in_full(tmp_path, stage):
    from textual.widgets import Static

    from tui.widgets.logs_view import LogsView

    app = make(tmp_path, stage)
    async with app.run_test(size=(80, 24)) as pilot:
        await app_ready(pilot)
        screen = app.screen
        queue = screen.session.state("staging").resource(QUEUE)
        screen.follow_logs([queue])
        logs = screen.query_one(LogsView)
        ended = logs.query_one("#logs-ended", Static)
        await wait_until(pilot, lambda: ended.display and NO_LOG_GROUP in " ".join(str(ended.render()).split()),
                         "the whole reason", explain=lambda: str(ended.render()))
        toolbar = str(logs.query_one("#logs-toolbar", Static).render())
        assert toolbar.startswith("failed") and not toolbar.startswith("following"), toolbar
