"""The overview row and the line under the table of a created environment: while it is being
created its DRIFT is not `Drifted` (a half-made environment), a failed one's drift is `held` (no
repair runs on it), and the line under the table keeps the state line and the description apart,
each cut with `…` at 80 columns instead of running into the other."""

from __future__ import annotations

from screens.overview import description_text, overview_rows
from tests.lifecycle.memory_provisioner import managed_env
from tests.tui.stage import FIXED_NOW
from tui.core.env_state import EnvState
from tui.core.lifecycle.records import EnvLifecycleState, StepSpec
from tui.core.model import Health, Resource
from tui.widgets.cells import Palette

PALETTE = Palette({})


def drifted_state(name: str) -> EnvState:
    r = Resource(id="aws/s3-bucket/b", backend="aws", kind="s3-bucket", name="b", health=Health.HEALTHY,
                 observed_at=FIXED_NOW, drift="Drifted")
    return EnvState(name=name, repair="auto", description="the preview template: " + "words " * 30,
                    resources={"aws": {r.id: r}})


def managed(name: str, state: EnvLifecycleState):
    m = managed_env(name, [StepSpec("assets", "aws", "s3-bucket", {"name": "b"})], owner="alice",
                    created_at=FIXED_NOW)
    m.state = state
    if state == EnvLifecycleState.FAILED:
        m.step, m.reason = "assets", "AccessDenied: s3:CreateBucket " + "x" * 80
    return m


def test_drift_of_a_created_environment_follows_its_lifecycle():
    states = {n: drifted_state(n) for n in ("making", "broken", "ready")}
    rows = overview_rows(states, {"making": managed("making", EnvLifecycleState.PROVISIONING),
                                  "broken": managed("broken", EnvLifecycleState.FAILED),
                                  "ready": managed("ready", EnvLifecycleState.READY)}, FIXED_NOW, PALETTE)
    assert rows["making"][2].plain == "—"
    assert rows["broken"][2].plain == "held"
    assert rows["ready"][2].plain == "Drifted"


def test_the_line_under_the_table_keeps_state_and_description_apart():
    text = description_text(drifted_state("broken"), managed("broken", EnvLifecycleState.FAILED), FIXED_NOW,
                            PALETTE)
    head, desc = text.plain.split("\n")
    assert "failed" in head and "AccessDenied" in head and "preview template" not in head
    assert desc.startswith("the preview template:")


async def test_each_line_under_the_table_is_cut_with_an_ellipsis_at_80_columns():
    from pathlib import Path

    from textual.app import App
    from textual.widgets import Static

    import themes

    text = description_text(drifted_state("broken"), managed("broken", EnvLifecycleState.FAILED), FIXED_NOW,
                            PALETTE)

    class Line(App):
        CSS_PATH = str(Path(themes.__file__).parent / "envdeck.tcss")

        def compose(self):
            yield Static(text, id="env-description", classes="hint")

    app = Line()
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        w = app.query_one("#env-description")
        first, second = (strip.text.rstrip() for strip in w.render_lines(w.region.reset_offset)[:2])
        assert "failed" in first and first.endswith("…"), first
        assert second.lstrip().startswith("the preview template:") and second.endswith("…"), second
