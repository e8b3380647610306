"""Resource detail: summary, available actions (disabled ones with the reason),
what `kubectl describe` shows (conditions, current faults with their whole message,
recent events: tui/widgets/describe.py), native attributes as YAML (secret-looking
keys removed), drift diff and compliance findings."""

from __future__ import annotations

from typing import Any

import yaml
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import VerticalScroll
from textual.widgets import OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from screens import action_flow, port_forward_flow
from screens.base import EnvdeckScreen
from screens.environment_actions import (
    FOOTER_WHEN_ABLE,
    cannot_be,
    fit_footer,
    promote_to_footer,
    restart_reads_reboot,
    runs_reboot,
    short_scope,
)
from tui.core.model import Resource, iso
from tui.core.sanitize import clean
from tui.core.store import redact_params
from tui.messages import DRIFTS, FAULTS, RESOURCES, TIMELINE
from tui.widgets.cells import Palette, age_between, drift_cell, health_cell, severity_cell
from tui.widgets.describe import conditions_text, events_text, faults_text, resource_events, resource_faults
from tui.widgets.record_views import show_value
from tui.widgets.status_bar import StatusBar, status_text
from tui.widgets.steady_footer import SteadyFooter

TABS = ("overview", "yaml", "drift", "findings")
# Keys that leave the footer (still in `?`) when its keys would not all fit: the tabs show y/d's views.
FOOTER_GIVES_WAY = ("tab('drift')", "tab('yaml')", "open_console")


def attributes_yaml(attributes: dict[str, Any]) -> Text:
    """Attributes as YAML, secret-looking keys redacted, every line cleaned."""
    try:
        dumped = yaml.safe_dump(redact_params(attributes), sort_keys=True, allow_unicode=True,
                                default_flow_style=False, width=100)
    except yaml.YAMLError as exc:
        dumped = f"# cannot show attributes: {exc}"
    return Text("\n".join(clean(line) for line in dumped.splitlines()) or "{}", end="")


def summary_text(r: Resource, env: str, now, palette: Palette, backend_observed_at=None) -> Text:
    """`backend_observed_at`: the backend's last good observation. A watched object that has not
    changed since is as fresh as that observation, so "observed" is the later of the two and
    "changed" keeps the object's own last change (a watch only sends an object when it changes)."""
    t = Text(end="")

    def row(label: str, value: Text | str) -> None:
        t.append(f"{label:<10}", style=palette.style("text-muted"))
        if isinstance(value, Text):
            t.append_text(value)
        else:
            t.append(clean(value, max_len=300))
        t.append("\n")

    row("id", r.id)
    row("env", env)
    row("health", health_cell(str(r.health), palette))
    if r.health_reason:
        row("why", r.health_reason)
    if r.status:
        row("status", r.status)
    row("drift", drift_cell(None if r.drift is None else str(r.drift), palette))
    observed = r.observed_at
    if backend_observed_at is not None and (observed is None or backend_observed_at > observed):
        observed = backend_observed_at
    row("observed", f"{iso(observed) or '—'} ({age_between(now, observed)} ago)")
    if r.observed_at is not None and observed != r.observed_at:
        row("changed", f"{iso(r.observed_at)} ({age_between(now, r.observed_at)} ago)")
    if r.created_at:
        row("created", f"{iso(r.created_at)} ({age_between(now, r.created_at)} old)")
    if r.metrics:
        row("metrics", ", ".join(f"{clean(k)}={v:g}" for k, v in r.metrics.items()))
    row("console", r.console_url or "—")
    t.rstrip()
    return t


class ResourceDetailScreen(EnvdeckScreen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="detail-back"),
        Binding("l", "logs", "Logs", id="logs"),
        Binding("s", "shell", "Shell", id="shell"),
        Binding("r", "restart", "Restart", id="restart"),
        Binding("S", "scale", "Scale", id="scale", show=False),
        Binding("X", "stop", "Stop", id="stop", show=False),
        Binding("u", "start", "Start", id="start", show=False),
        Binding("x", "xray", "Xray", id="xray", show=False,
                tooltip="What this resource depends on and what depends on it"),
        Binding("o", "open_console", "Console", id="open-console"),
        Binding("y", "tab('yaml')", "YAML", id="yaml"),
        Binding("d", "tab('drift')", "Diff", id="drift-diff"),
        Binding("R", "repair", "Repair", id="repair"),
        Binding("ctrl+d", "delete", "Delete", id="delete", show=False),
        Binding("F", "port_forward", "Port-forward", id="port-forward", show=False,
                tooltip="Forward a local port to this pod or service (operator)"),
        Binding("P", "port_forwards", "Forwards", id="port-forwards", show=False,
                tooltip="The open port-forwards; c closes one"),
    ]

    def __init__(self, env: str, resource_id: str, *, tab: str | None = None) -> None:
        super().__init__()
        self.env = env
        self.resource_id = resource_id
        self.initial_tab = tab if tab in TABS else "overview"
        self._shown: Resource | None = None
        self._events: list[dict[str, Any]] | None = None  # None: not loaded yet

    @property
    def resource(self) -> Resource | None:
        return self.env_state(self.env).resource(self.resource_id)

    def compose(self) -> ComposeResult:
        yield Static(id="title", classes="title-bar")
        with TabbedContent(initial=self.initial_tab, id="detail-tabs"):
            with TabPane("Overview", id="overview"), VerticalScroll(id="overview-scroll"):
                yield Static(id="summary")
                yield Static(Text("Actions", end=""), classes="section")
                yield OptionList(id="actions")
                yield Static(Text("Faults", end=""), classes="section")
                yield Static(id="faults")
                yield Static(Text("Conditions", end=""), classes="section")
                yield Static(id="conditions")
                yield Static(Text("Events", end=""), classes="section")
                yield Static(id="events")
            with TabPane("YAML", id="yaml"), VerticalScroll(id="yaml-scroll"):
                yield Static(id="yaml-text")
            with TabPane("Drift", id="drift"), VerticalScroll():
                yield Static(id="drift-text")
            with TabPane("Findings", id="findings"), VerticalScroll():
                yield Static(id="findings-text")
        yield StatusBar(id="status")
        yield SteadyFooter(compact=True)

    def on_mount(self) -> None:
        self.ready = True
        self.refresh_all()
        self._load_events()
        if self.initial_tab == "overview":
            # Not the Actions list: an Enter pressed once too often must not start an action.
            self.query_one("#overview-scroll", VerticalScroll).focus()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def env_updated(self, env: str, kinds: set[str]) -> None:
        if env == self.env and kinds & {RESOURCES, DRIFTS} and self.resource is not self._shown:
            self.refresh_all()
        elif env == self.env and DRIFTS in kinds:
            self._show_drift()
            self.refresh_bindings()  # `R Repair` follows the drift as it comes and goes
        if env == self.env and FAULTS in kinds and self._shown is not None:
            self._show_faults()
        if env == self.env and kinds & {TIMELINE, FAULTS, RESOURCES}:
            self._load_events()
        self.tick()

    def tick(self) -> None:
        if not self.app.is_running:  # the interval can fire while the app prunes this screen's widgets
            return
        session = self.session
        role = session.policy.role(self.env)
        self.query_one(StatusBar).update(status_text(
            user=session.user, role=role.label if role else None, read_only=session.policy.read_only,
            state=self.env_state(self.env), now=self.envdeck.now(), palette=self.envdeck.palette,
            activity=self.envdeck.activity_label(), verbose=self.size.width >= 100))
        if self._shown is not None:  # its ages ("observed … (8s ago)") tick while the screen is open
            self.query_one("#summary", Static).update(
                summary_text(self._shown, self.env, self.envdeck.now(), self.envdeck.palette,
                             self._backend_observed_at(self._shown)))

    def _backend_observed_at(self, r: Resource):
        """The last good observation of the resource's backend, while it is reachable."""
        backend = self.env_state(self.env).backends.get(r.backend)
        return backend.observed_at if backend is not None and backend.reachable is True else None

    def refresh_all(self) -> None:
        app = self.envdeck
        palette = app.palette
        r = self.resource
        self._shown = r
        title = Text(no_wrap=True, overflow="ellipsis", end="")
        title.append(f" {clean(self.env)}", style=palette.style("primary", bold=True))
        if r is None:
            title.append(f" › {clean(self.resource_id)} is gone (no longer observed)",
                         style=palette.style("warning", bold=True))
            self.query_one("#title", Static).update(title)
            self.refresh_bindings()  # its action keys are off now (said when pressed)
            return
        title.append(f" › {clean(r.kind)} ", style=palette.style("text-muted"))
        title.append(clean(r.name, max_len=80), style=palette.style("foreground", bold=True))
        title.append("  ")
        title.append_text(health_cell(str(r.health), palette))
        self.query_one("#title", Static).update(title)
        self.query_one("#summary", Static).update(summary_text(r, self.env, app.now(), palette,
                                                               self._backend_observed_at(r)))
        self.refresh_bindings()  # the footer's action keys follow what this resource can do
        self.query_one("#conditions", Static).update(conditions_text(r, palette))
        self._show_faults()
        self._show_events()
        self.query_one("#yaml-text", Static).update(attributes_yaml(r.attributes))
        self._show_actions(r, palette)
        self._show_drift()
        self._show_findings(r, palette)
        self.tick()

    def _show_faults(self) -> None:
        state = self.env_state(self.env)
        self.query_one("#faults", Static).update(faults_text(
            resource_faults(state.all_faults(), self.resource_id), self.envdeck.now(), self.envdeck.palette))

    def _load_events(self) -> None:
        self.run_worker(self._read_events(), group="detail-events", exclusive=True, exit_on_error=False)

    async def _read_events(self) -> None:
        from tui.core import audit_scope

        entries = await self.session.store.timeline(self.env, limit=500)
        # not an earlier environment's of the same name (a created environment's rows are its instance's)
        entries, _ = await audit_scope.of_current_instance(self.session.store, self.env,
                                                           self.session.config.environments, entries, [])
        self._events = resource_events(entries, self.resource_id)
        if self.is_attached:
            self._show_events()

    def _show_events(self) -> None:
        self.query_one("#events", Static).update(events_text(self._events, self.envdeck.now(), self.envdeck.palette))

    def _show_actions(self, r: Resource, palette: Palette) -> None:
        options = self.query_one("#actions", OptionList)
        highlighted = options.highlighted
        options.clear_options()
        try:
            choices = self.session.actions_for(self.env, r)
        except Exception as exc:  # noqa: BLE001 - a backend bug must not break the detail view
            choices = []
            options.add_option(Option(Text(f"cannot list actions: {clean(exc)}"), disabled=True))
        for c in choices:
            prompt = Text(end="")
            if c.decision.allowed:  # a name longer than the column keeps a space before its title
                prompt.append(f"{c.spec.name:<15} ", style=palette.style("accent", bold=True))
                prompt.append(clean(c.spec.title))
                prompt.append(f"  ({c.spec.role.label}{', destructive' if c.spec.destructive else ''})",
                              style=palette.style("text-muted"))
            else:
                prompt.append(f"✗ {c.spec.name:<13} ", style=palette.style("text-muted"))
                prompt.append(f"{clean(c.spec.title)} — {clean(c.decision.reason)}", style=palette.style("text-muted"))
            options.add_option(Option(prompt, id=c.spec.name, disabled=not c.decision.allowed))
        if not choices:
            options.add_option(Option(Text("no actions for this kind"), disabled=True))
        if highlighted is not None and highlighted < options.option_count:
            options.highlighted = highlighted
        elif any(c.decision.allowed for c in choices):
            options.highlighted = next(i for i, c in enumerate(choices) if c.decision.allowed)

    def _show_drift(self) -> None:
        palette = self.envdeck.palette
        state = self.env_state(self.env)
        drifts = [d for d in state.all_drifts() if d.resource == self.resource_id]
        t = Text(end="")
        if not drifts:
            r = self.resource
            t.append("in sync with the desired state" if r is not None and r.drift is not None
                     else "no desired state for this resource", style=palette.style("text-muted"))
        for d in drifts:
            t.append(f"{clean(d.field)}\n", style=palette.style("accent", bold=True))
            t.append(f"  - desired: {clean(show_value(d.desired), max_len=300)}\n", style=palette.style("success"))
            t.append(f"  + actual:  {clean(show_value(d.actual), max_len=300)}\n", style=palette.style("error"))
        if drifts:
            t.append(f"\nrepair mode: {state.repair} · R repairs", style=palette.style("text-muted"))
        # the desired state's overlays (values kept from manual actions) and a held repair
        for (rid, field), o in sorted(state.overlays.items()):
            if rid == self.resource_id:
                t.append(f"\n{clean(field)} desired {clean(show_value(o['value']), max_len=80)} is an overlay by "
                         f"{clean(o['user'])} at {clean(o['at'])}" + (f" ({clean(o['reason'], max_len=80)})"
                                                                      if o["reason"] else ""),
                         style=palette.style("warning"))
        hold = state.holds.get(self.resource_id)
        if hold is not None:
            t.append(f"\nautomatic repair held until {iso(hold['until'])} by {clean(hold['user'])}",
                     style=palette.style("warning"))
        self.query_one("#drift-text", Static).update(t)

    def _show_findings(self, r: Resource, palette: Palette) -> None:
        t = Text(end="")
        if not r.findings:
            t.append("no compliance findings", style=palette.style("text-muted"))
        for f in r.findings:
            t.append_text(severity_cell(str(f.severity), palette))
            t.append(f"  {clean(f.rule, max_len=60)}\n", style=palette.style("foreground", bold=True))
            t.append(f"  {clean(f.message, max_len=300)}\n")
        self.query_one("#findings-text", Static).update(t)

    # -- actions -----------------------------------------------------------------
    @on(OptionList.OptionSelected, "#actions")
    def _action_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        r = self.resource
        name = event.option.id
        if r is None or name is None:
            return
        if name == "logs":
            self.action_logs()
            return
        choice = action_flow.pick(self.session.actions_for(self.env, r), (name,))
        if choice is not None:
            action_flow.start_action(self.envdeck, self.env, [(r, choice)])

    # Keys that act on the resource shown: off (footer hidden, `?` "not now", said when pressed)
    # once it is gone.
    RESOURCE_KEYS = frozenset(action_flow.KEY_ACTIONS) | action_flow.UI_ACTIONS | {
        "port_forward", "repair", "open_console"}

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """Textual's, with `r` reading `Reboot` on an edge node (what it opens), and the keys of
        FOOTER_GIVES_WAY hidden from the footer, as few as it takes, where they would not all fit
        (80 columns on an EC2 instance cut `? Help` to `? He`; they stay in `?`)."""
        r = self._shown if self.ready and self.env in self.session.states() else None  # none asked of one destroyed
        bindings = restart_reads_reboot(super().active_bindings,
                                        r is not None and runs_reboot(self.session, self.env, [r]))
        # `X Stop` / `u Start` / `S Scale` where they act, before the tabs' keys (recheck finding,
        # session 12: `?` offered X Stop, the footer kept y YAML and o Console instead)
        bindings = promote_to_footer(self, bindings, FOOTER_WHEN_ABLE, leaving=FOOTER_GIVES_WAY)
        return fit_footer(self, bindings, FOOTER_GIVES_WAY)

    def footer_leaves_first(self) -> tuple[str, ...]:
        return FOOTER_GIVES_WAY

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The footer offers an action key only when this resource has that action (no
        `r Restart` on a Pod), like the resources table; `R Repair` only while it has drift,
        `o Console` only when it has a console link; none of them once it is gone."""
        if not self.ready:
            return super().check_action(action, parameters)
        r = self._shown
        if action in self.RESOURCE_KEYS and (r is None or self.env not in self.session.states()):
            return False  # gone, or its environment destroyed: nothing to act on (nor to ask actions of)
        if r is not None and action in action_flow.KEY_ACTIONS:
            return action_flow.has_key_action(self.session.actions_for(self.env, r), action)
        if r is not None and action in action_flow.UI_ACTIONS:  # no `l`/`s` on a queue, a group, a table
            return action_flow.has_ui_action(self.session, self.env, [r], action)
        if r is not None and action == "port_forward":  # `F` only where a forward can open (help: "not now")
            return port_forward_flow.can_forward(r)
        if action == "repair":
            return any(d.resource == self.resource_id for d in self.env_state(self.env).all_drifts())
        if r is not None and action == "open_console":
            return bool(r.console_url)
        return super().check_action(action, parameters)

    def why_not(self, action: str) -> str | None:
        """One line saying why `action`'s key, off here, does nothing (None: not explained here)."""
        r = self._shown
        if action not in self.RESOURCE_KEYS:
            return None
        if r is None:
            return f"{clean(short_scope(self.resource_id), max_len=80)} is gone (no longer observed): nothing to act on"
        if action in action_flow.KEY_ACTIONS:
            return cannot_be(action, [r], self.env_state(self.env).all_resources())
        if action == "repair":
            return f"no drift to repair on {clean(short_scope(self.resource_id), max_len=60)}"
        if action == "open_console":
            return f"no console link for {clean(r.kind)} {clean(r.name, max_len=60)}"
        return None  # l, s: explain_ui_key; F: the port-forward flow says what it works on

    def on_key(self, event: events.Key) -> None:
        """A key whose binding is off here (nothing would run): say why in one line."""
        r = self._shown
        if r is not None and action_flow.explain_ui_key(self, event.key, [r]):
            event.stop()
            return
        for b in self._bindings.key_to_bindings.get(event.key, ()):
            if self.check_action(b.action, ()) is not False:
                continue
            if b.action == "port_forward" and r is not None:
                port_forward_flow.start_port_forward(self.envdeck, self.env, r)  # says what it works on
                event.stop()
                return
            line = self.why_not(b.action)
            if line is not None:
                self.envdeck.notify(line, severity="warning", markup=False, timeout=3)
                event.stop()
                return

    def _run(self, names: tuple[str, ...], label: str, **kw) -> None:
        r = self.resource
        if r is not None:
            action_flow.run_action(self.envdeck, self.env, [r], names, label, **kw)

    def action_restart(self) -> None:
        self._run(action_flow.RESTART_ACTIONS, "restart")

    def action_scale(self) -> None:
        self._run(action_flow.SCALE_ACTIONS, "scale")

    def action_stop(self) -> None:
        self._run(action_flow.STOP_ACTIONS, "stop")

    def action_start(self) -> None:
        self._run(action_flow.START_ACTIONS, "start")

    def action_delete(self) -> None:
        self._run(action_flow.DELETE_ACTIONS, "delete/terminate", destructive_fallback=True)

    def action_shell(self) -> None:
        if self.resource is not None:
            action_flow.open_shell(self.envdeck, self.env, self.resource)

    def action_open_console(self) -> None:
        if self.resource is not None:
            action_flow.open_console(self.envdeck, self.resource)

    def action_port_forward(self) -> None:
        if self.resource is not None:
            port_forward_flow.start_port_forward(self.envdeck, self.env, self.resource)

    def action_port_forwards(self) -> None:
        port_forward_flow.open_panel(self.envdeck)

    def action_repair(self) -> None:
        action_flow.repair(self.envdeck, self.env, self.resource_id)

    def action_logs(self) -> None:
        from screens.environment import EnvironmentScreen

        r = self.resource
        if r is None:
            return
        self.app.pop_screen()
        below = self.app.screen
        if isinstance(below, EnvironmentScreen):
            below.follow_logs([r])

    def action_xray(self) -> None:
        from screens.xray import XrayScreen

        self.envdeck.push_screen(XrayScreen(self.env, self.resource_id))

    def action_back(self) -> None:
        self.app.pop_screen()
