"""The lifecycle of a managed (template-created) environment on screen: its state as a
cell (the overview's HEALTH column while it is not `ready`), the "expires in" mark, and
the steps view (a table of the steps, a progress bar healthy/total, a header with state,
owner, template and expiry), live from `LifecycleChanged`.

`LifecycleScreen` shows the steps of a managed environment the reconciler does not
observe yet (provisioning, failed before it was ready): the environment screen needs an
observed environment; once it is observed, its Steps view shows the same."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import ProgressBar, Static

from screens.base import EnvdeckScreen
from tui.core.lifecycle.records import EnvLifecycleState, ManagedEnvironment, StepRecord, StepState
from tui.core.model import Resource, resource_id
from tui.core.sanitize import clean
from tui.widgets.cells import Palette, format_age, muted, safe
from tui.widgets.keyed_table import Cells
from tui.widgets.record_views import SEP, RecordTable
from tui.widgets.status_bar import StatusBar, status_text
from tui.widgets.steady_footer import SteadyFooter

EXPIRING_WITHIN_S = 3600.0  # the overview and the headers flag environments expiring within the hour

_STATE_LOOK = {  # lifecycle state -> (glyph, theme variable)
    EnvLifecycleState.PLANNED: ("○", "text-muted"),
    EnvLifecycleState.PROVISIONING: ("◐", "primary"),
    EnvLifecycleState.READY: ("●", "success"),
    EnvLifecycleState.SLEEPING: ("‖", "secondary"),
    EnvLifecycleState.DESTROYING: ("◐", "warning"),
    EnvLifecycleState.DESTROYED: ("○", "text-muted"),
    EnvLifecycleState.FAILED: ("✖", "error"),
}
_STEP_VAR = {StepState.PENDING: "text-muted", StepState.CREATING: "primary", StepState.WAITING: "primary",
             StepState.HEALTHY: "success", StepState.FAILED: "error", StepState.DELETING: "warning",
             StepState.DELETED: "text-muted"}


def progress(managed: ManagedEnvironment) -> tuple[int, int]:
    """(done, total) steps of the operation under way: deleted ones while destroying,
    healthy ones otherwise."""
    total = len(managed.steps) or len(managed.spec.steps)
    done_state = StepState.DELETED if managed.state == EnvLifecycleState.DESTROYING else StepState.HEALTHY
    return sum(1 for s in managed.steps if s.state == done_state), total


def state_label(managed: ManagedEnvironment) -> str:
    """`provisioning 2/5`, `destroying 1/5`, `sleeping`, `failed`, … (`planned 0/5`: created,
    the reconciler has not started on it yet)"""
    state = managed.state
    if state in (EnvLifecycleState.PROVISIONING, EnvLifecycleState.DESTROYING) or \
            (state == EnvLifecycleState.PLANNED and managed.operation is not None):
        done, total = progress(managed)
        return f"{state} {done}/{total}"
    return str(state)


# The overview's short words at 80 columns: a cell no wider than `✖ Degraded` (the line under
# the table and the Steps header say the whole state).
_SHORT_WORD = {EnvLifecycleState.PLANNED: "planned", EnvLifecycleState.PROVISIONING: "prov",
               EnvLifecycleState.DESTROYING: "del", EnvLifecycleState.DESTROYED: "gone"}


def short_state_label(managed: ManagedEnvironment) -> str:
    """`prov 2/5`, `del 1/5`, `plan 0/5` (created, not started on yet), `sleeping`, `failed`,
    `gone`: at most 10 cells with the glyph for up to 9 steps."""
    state = managed.state
    word = _SHORT_WORD.get(state, str(state))
    if state in (EnvLifecycleState.PROVISIONING, EnvLifecycleState.DESTROYING) or \
            (state == EnvLifecycleState.PLANNED and managed.operation is not None):
        done, total = progress(managed)
        return f"{'plan' if state == EnvLifecycleState.PLANNED else word} {done}/{total}"
    return word


def lifecycle_cell(managed: ManagedEnvironment, palette: Palette, *, short: bool = False) -> Text:
    """`◐ provisioning 2/5`; `short`: `◐ prov 2/5` (short_state_label)."""
    glyph, variable = _STATE_LOOK.get(managed.state, ("?", "foreground"))
    label = short_state_label(managed) if short else state_label(managed)
    return Text(f"{glyph} {label}", end="",
                style=palette.style(variable, bold=managed.state == EnvLifecycleState.FAILED))


def expires_in_s(managed: ManagedEnvironment, now: datetime) -> float | None:
    if managed.expires_at is None:
        return None
    return (managed.expires_at - now).total_seconds()


def remaining_text(seconds: float) -> str:
    """Time left, rounded down to the minute: `42m`, `3h59m`, `4h`, `2d5h` (a fresh 4h TTL reads
    `3h59m` or `4h`, never `3h`); under a minute `42s`."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    days, rest = divmod(s, 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"


def expiry_text(managed: ManagedEnvironment, now: datetime) -> str:
    """`expires in 3h59m`, `expired` or "" (no TTL)."""
    left = expires_in_s(managed, now)
    if left is None:
        return ""
    return "expired" if left <= 0 else f"expires in {remaining_text(left)}"


def expiry_mark(managed: ManagedEnvironment, now: datetime, palette: Palette) -> Text | None:
    """The mark of an environment expiring within the hour (None otherwise)."""
    left = expires_in_s(managed, now)
    if left is None or left > EXPIRING_WITHIN_S:
        return None
    return Text(f"⌛{'expired' if left <= 0 else remaining_text(left)}", end="",
                style=palette.style("error" if left <= 0 else "warning", bold=True))


_ACTIVE = (StepState.FAILED, StepState.CREATING, StepState.WAITING, StepState.DELETING)


def current_step(managed: ManagedEnvironment) -> tuple[str, str]:
    """(step id, reason): the environment's own, else the first step under way (a failed one first)."""
    if managed.step or managed.reason:
        return managed.step, managed.reason
    for state in _ACTIVE:
        for s in managed.steps:
            if s.state == state:
                return s.id, s.message
    return "", ""


def header_text(managed: ManagedEnvironment, now: datetime, palette: Palette) -> Text:
    """State, owner, template, expiry, then the current or failed step and its reason."""
    t = Text(end="")
    t.append_text(lifecycle_cell(managed, palette))
    t.append(f"  owner {clean(managed.owner, max_len=40)}", style=palette.style("foreground"))
    t.append(f"  template {clean(managed.template, max_len=40)}", style=palette.style("foreground"))
    expiry = expiry_text(managed, now)
    if expiry:
        soon = (expires_in_s(managed, now) or 0) <= EXPIRING_WITHIN_S
        t.append(f"  {expiry}", style=palette.style("warning" if soon else "text-muted", bold=soon))
    step, reason = current_step(managed)
    if step or reason:
        what = f"  step {clean(step, max_len=60)}" if step else " "
        t.append(what + (f": {clean(reason, max_len=300)}" if reason else ""),
                 style=palette.style("error" if managed.state == EnvLifecycleState.FAILED else "text-muted"))
    if managed.orphans:
        t.append(f"  {len(managed.orphans)} orphan(s)", style=palette.style("error", bold=True))
    return t


def step_resource_id(step: StepRecord, resources: Iterable[Resource]) -> str | None:
    """The observed resource a step made, from its native id: AWS `aws/KIND/ID`, Kubernetes
    `kubernetes/KIND/NAME` (the native id is `namespace/Kind/name`), edge `edge/node/NAME` (the
    native id lists the nodes: the first); else the step backend's resource of that name."""
    native = step.native_id
    if not native:
        return None
    found = list(resources)
    ids = {r.id for r in found}
    name = native.rsplit("/", 1)[-1]
    if step.backend == "edge":
        candidates = [resource_id("edge", "node", n.strip()) for n in native.split(",") if n.strip()]
    else:
        candidates = [resource_id(step.backend, step.kind, native), resource_id(step.backend, step.kind, name)]
    for candidate in candidates:
        if candidate in ids:
            return candidate
    for r in found:
        if r.backend == step.backend and (r.name in (native, name) or r.id.endswith("/" + native)):
            return r.id
    return None


def elapsed(step: StepRecord, now: datetime) -> str:
    if step.started_at is None:
        return "—"
    end = step.finished_at or now
    return format_age((end - step.started_at).total_seconds())


class StepsTable(RecordTable):
    """One row per step: the message column takes the width the others leave; below 110
    columns BACKEND and KIND go (the step id names the kind: `Deployment/web`)."""

    COLUMNS = (("resource", "STEP"), ("backend", "BACKEND"), ("kind", "KIND"), ("state", "STATE"),
               ("elapsed", "ELAPSED"), ("message", "LAST MESSAGE"))
    NARROW_COLUMNS = ("resource", "state", "elapsed", "message")
    NARROW_CAPS = {"resource": 22}
    CAPS = {"resource": 30, "kind": 18}

    def show(self, managed: ManagedEnvironment | None, now: datetime, palette: Palette) -> None:
        rows: dict[str, Cells] = {}
        if managed is not None:
            for step in managed.steps:
                rows[f"{managed.name}/{step.id}{SEP}"] = (
                    safe(step.id, max_len=80, style=palette.style("primary")),
                    safe(step.backend, max_len=20), safe(step.kind, max_len=40),
                    Text(str(step.state), style=palette.style(_STEP_VAR.get(step.state, "foreground"),
                                                              bold=step.state == StepState.FAILED), end=""),
                    Text(elapsed(step, now), end=""),
                    safe(step.message, max_len=500) if step.message else muted("", palette))
        self.sync(rows, list(rows))

    def step_for_cursor(self, managed: ManagedEnvironment | None) -> StepRecord | None:
        key = self.resource_for_cursor()
        if managed is None or key is None:
            return None
        step_id = key.removeprefix(f"{managed.name}/")
        return next((s for s in managed.steps if s.id == step_id), None)


class StepsView(Vertical):
    """Header, progress bar and the steps table of one managed environment."""

    DEFAULT_CSS = """
    StepsView { height: 1fr; }
    StepsView > #steps-header { height: auto; max-height: 3; padding: 0 1; }
    StepsView > #steps-progress { height: 1; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        yield Static(id="steps-header")
        yield ProgressBar(total=None, show_eta=False, id="steps-progress")
        yield StepsTable(id="steps-table")

    def show(self, managed: ManagedEnvironment | None, now: datetime, palette: Palette) -> None:
        header = self.query_one("#steps-header", Static)
        bar = self.query_one(ProgressBar)
        if managed is None:
            header.update(muted("not an environment created from a template: no lifecycle steps", palette))
            bar.update(total=None, progress=0)
        else:
            header.update(header_text(managed, now, palette))
            done, total = progress(managed)
            bar.update(total=max(total, 1), progress=done)
        self.query_one(StepsTable).show(managed, now, palette)


class LifecycleScreen(EnvdeckScreen):
    """The steps of a managed environment that is not observed yet (see the module doc)."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="back"),
        Binding("D", "env_destroy", "Destroy", id="env-destroy", tooltip="Destroy this environment (admin; type its name)"),
        Binding("Z", "env_sleep", "Sleep", id="env-sleep", show=False, tooltip="Sleep this environment (admin)"),
        Binding("W", "env_wake", "Wake", id="env-wake", show=False, tooltip="Wake this environment (admin)"),
    ]

    def __init__(self, env: str) -> None:
        super().__init__()
        self.env = env

    def compose(self) -> ComposeResult:
        yield Static(id="title", classes="title-bar")
        yield StepsView(id="steps-view")
        yield StatusBar(id="status")
        yield SteadyFooter(compact=True)

    def on_mount(self) -> None:
        self.ready = True
        self.refresh_all()
        self.query_one(StepsTable).focus()

    @property
    def managed(self) -> ManagedEnvironment | None:
        return self.envdeck.managed.get(self.env)

    def refresh_all(self) -> None:
        app = self.envdeck
        title = Text(f" {clean(self.env)}", style=app.palette.style("primary", bold=True), end="")
        title.append(" › Steps (not observed yet)", style=app.palette.style("text-muted"))
        self.query_one("#title", Static).update(title)
        self.query_one(StepsView).show(self.managed, app.now(), app.palette)
        self.tick()

    def lifecycle_changed(self, env: str | None, _managed: Any) -> None:
        if env is not None and env != self.env:
            return
        if self.managed is None:  # destroyed (or no longer visible): nothing left to show
            self.envdeck.open_overview()
            self.envdeck.toast(f"{self.env} is gone (destroyed)")
            return
        self.refresh_all()

    def tick(self) -> None:
        if not self.app.is_running:
            return
        self.query_one(StatusBar).update(status_text(
            user=self.session.user, role=None, read_only=self.session.policy.read_only, state=None,
            now=self.envdeck.now(), palette=self.envdeck.palette, activity=self.envdeck.activity_label()))

    def action_back(self) -> None:
        self.envdeck.open_overview()

    def action_env_destroy(self) -> None:
        from screens.lifecycle_flow import destroy

        destroy(self.envdeck, self.env)

    def action_env_sleep(self) -> None:
        from screens.lifecycle_flow import sleep_or_wake

        sleep_or_wake(self.envdeck, self.env, sleep=True)

    def action_env_wake(self) -> None:
        from screens.lifecycle_flow import sleep_or_wake

        sleep_or_wake(self.envdeck, self.env, sleep=False)
