"""The action keys of the environment screen (drill in, YAML, diff, restart, scale,
stop, start, delete, shell, console, port-forward, repair, pause), as a mixin: each resolves its
target from the screen's selection and hands it to `screens.action_flow`.

Enter drills in and never acts: on a workload (Deployment, StatefulSet, …) it lists
the pods the workload runs, like k9s; on anything else it opens the detail screen."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from rich.cells import cell_len
from textual.actions import parse as parse_action
from textual.binding import ActiveBinding
from textual.css.query import NoMatches
from textual.widgets import Footer

from screens import action_flow, port_forward_flow
from tui.core.lifecycle.records import EnvLifecycleState
from tui.core.policy import PAUSE
from tui.core.sanitize import clean
from tui.widgets.record_views import DriftTable
from tui.widgets.steady_footer import FOOTER_KEEPS

if TYPE_CHECKING:
    from tui.app import EnvdeckApp
    from tui.core.model import Resource

# Kinds whose Enter lists their pods (pods name their controller in the `owner`
# attribute, "Kind/name"; a Deployment's pods through its ReplicaSets).
WORKLOAD_KINDS = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"})
# The action keys the footer hides when the selected resource has no such action.
MAX_CHECKED = 50  # marked resources asked about (beyond, the key stays: the action says what it skips)
# Keys bound with show=False that the footer offers where they can act and the footer has room
# (`S Scale` on an Auto Scaling group, `D Destroy env` on the Steps view), in this order.
FOOTER_WHEN_ABLE = ("scale", "stop", "start")  # then D and Z or W on a created environment
# Resource keys off on the Steps view (the environment screen's STEPS_VIEW_HIDES): said when pressed.
STEPS_VIEW_KEYS_OFF = frozenset({"restart", "scale", "stop", "start", "delete", "repair", "shell", "logs"})
FOOTER_RESERVED = 12  # the docked `▏^p Palette` and a cell of slack
# What a key does, for "Pods cannot be restarted".
PAST = {"restart": "restarted", "scale": "scaled", "stop": "stopped", "start": "started", "delete": "deleted"}


def footer_cells(display: str, description: str, compact: bool) -> int:
    """The cells a footer key takes: `r Restart` and the space (compact) or two after it."""
    return cell_len(display) + cell_len(description) + (2 if compact else 3)


def lifecycle_keys_for(managed) -> tuple[str, ...]:
    """The lifecycle keys worth a place in the footer for a created environment: destroy, and
    wake when it sleeps or sleep when it is ready (pressed elsewhere, they say why they do nothing:
    a failed or provisioning environment cannot sleep)."""
    if managed is None:
        return ()
    if managed.state == EnvLifecycleState.SLEEPING:
        return ("env_destroy", "env_wake")
    return ("env_destroy", "env_sleep") if managed.state == EnvLifecycleState.READY else ("env_destroy",)


def described_as(bindings: dict[str, ActiveBinding], action: str, description: str,
                 show: bool | None = None) -> dict[str, ActiveBinding]:
    """`bindings` (changed in place) with the keys bound to `action` described as `description`
    (the footer, `?` and Textual's keys panel all read the active bindings), and shown in the
    footer or not when `show` says."""
    for key, ab in list(bindings.items()):
        if ab.binding.action == action:
            binding = replace(ab.binding, description=description,
                              show=ab.binding.show if show is None else show)
            bindings[key] = ActiveBinding(ab.node, binding, ab.enabled, ab.tooltip)
    return bindings


def pause_reads_resume(bindings: dict[str, ActiveBinding], paused: bool) -> dict[str, ActiveBinding]:
    """`bindings` with `p` described as what it does: `Resume` where the environment's repairs
    are paused."""
    return described_as(bindings, "pause", "Resume") if paused else bindings


def may_pause(session, env: str | None) -> bool:
    """Whether this user's role may pause or resume `env`'s repairs (the PAUSE permission): the
    policy alone, no backend asked; a footer offers `p` only then."""
    return session is not None and env is not None and session.policy.check(env, PAUSE).allowed


def pause_hidden(bindings: dict[str, ActiveBinding]) -> dict[str, ActiveBinding]:
    """`bindings` (changed in place) with the `p` key out of the footer (still bound: pressed, it
    is refused and explained; `?` lists it)."""
    for key, ab in list(bindings.items()):
        if ab.binding.action == "pause" and ab.binding.show:
            bindings[key] = ActiveBinding(ab.node, replace(ab.binding, show=False), ab.enabled, ab.tooltip)
    return bindings


def restart_reads_reboot(bindings: dict[str, ActiveBinding], reboots: bool) -> dict[str, ActiveBinding]:
    """`bindings` with `r` described as what it does: `Reboot` where it reboots (an edge node: the
    confirmation it opens says "Reboot node"), in the footer, `?` and the keys panel alike."""
    return described_as(bindings, "restart", "Reboot") if reboots else bindings


def runs_reboot(session, env: str, resources: list[Resource]) -> bool:
    """`r` on these resources reboots each (edge nodes) rather than restarting anything."""
    picks = [action_flow.pick(session.actions_for(env, r), action_flow.RESTART_ACTIONS) for r in resources]
    return bool(picks) and all(p is not None and p.spec.name == "reboot" for p in picks)


def promote_to_footer(screen, bindings: dict[str, ActiveBinding], actions: Iterable[str],
                      leaving: tuple[str, ...] = ()) -> dict[str, ActiveBinding]:
    """`bindings` (the screen's active ones) with the enabled keys of `actions` shown in the
    footer, in that order, while they fit the screen's width beside the keys shown already (but
    those of `leaving`, which leave the footer for them). The keys stay where they were bound."""
    app = screen.app
    try:
        compact = screen.query_one(Footer).compact
    except NoMatches:
        return bindings
    used = sum(footer_cells(app.get_key_display(ab.binding), ab.binding.description, compact)
               for ab in bindings.values() if ab.binding.show and ab.binding.action not in leaving)
    room = screen.size.width - FOOTER_RESERVED - used
    by_action = {ab.binding.action: key for key, ab in bindings.items()}
    for action in actions:
        key = by_action.get(action)
        ab = bindings.get(key) if key is not None else None
        if ab is None or ab.binding.show or not ab.enabled:
            continue
        cells = footer_cells(app.get_key_display(ab.binding), ab.binding.description, compact)
        if cells > room:
            continue
        room -= cells
        bindings[key] = ActiveBinding(ab.node, replace(ab.binding, show=True), ab.enabled, ab.tooltip)
    return bindings


# Keys that leave the footer (still in `?`) when the footer's keys would not all fit, in this
# order: at 80 columns the Logs view's toggles cut it to `l Logs q Qui`.
FOOTER_GIVES_WAY = ("toggle_timestamps", "toggle_json", "logs", "toggle_wrap")


def fit_footer(screen, bindings: dict[str, ActiveBinding],
               gives_way: tuple[str, ...] = FOOTER_GIVES_WAY) -> dict[str, ActiveBinding]:
    """`bindings` with `gives_way`'s keys hidden, as few as it takes, so that the footer
    shows its keys whole (`q Quit`, `? Help`, `: Command` at its end), none cut at the right."""
    app = screen.app
    try:
        compact = screen.query_one(Footer).compact
    except NoMatches:
        return bindings

    def used() -> int:
        return sum(footer_cells(app.get_key_display(ab.binding), ab.binding.description, compact)
                   for ab in bindings.values() if ab.binding.show)

    room = screen.size.width - FOOTER_RESERVED
    for action in gives_way:
        if used() <= room:
            break
        for key, ab in list(bindings.items()):
            if ab.binding.action == action and ab.binding.show:
                bindings[key] = ActiveBinding(ab.node, replace(ab.binding, show=False), ab.enabled, ab.tooltip)
    return bindings


def top_controller(resources: Iterable[Resource], r: Resource) -> str | None:
    """The kind of what runs `r` at the top of its `owner` links (a Pod's Deployment, via its
    ReplicaSet), or None when nothing owns it."""
    owners = {f"{x.kind}/{x.name}": x.attributes.get("owner") for x in resources if x.backend == r.backend}
    owner, seen = r.attributes.get("owner"), set()
    top = None
    while isinstance(owner, str) and owner not in seen:
        seen.add(owner)
        top = owner
        owner = owners.get(owner)
    return top.split("/", 1)[0] if top else None


def has_pods(r: Resource) -> bool:
    return r.backend == "kubernetes" and r.kind in WORKLOAD_KINDS


def pods_of(resources: Iterable[Resource], workload: Resource) -> list[Resource]:
    """The pods `workload` runs, following `owner` links down (Deployment → ReplicaSet → Pod)."""
    children: dict[str, list[Resource]] = {}
    for r in resources:
        owner = r.attributes.get("owner") if r.backend == workload.backend else None
        if isinstance(owner, str):
            children.setdefault(owner, []).append(r)
    pods: list[Resource] = []
    todo, seen = [f"{workload.kind}/{workload.name}"], set()
    while todo:
        key = todo.pop()
        if key in seen:
            continue
        seen.add(key)
        for child in children.get(key, ()):
            if child.kind == "Pod":
                pods.append(child)
            else:
                todo.append(f"{child.kind}/{child.name}")
    return pods


def cannot_be(action: str, targets: list[Resource], resources: Iterable[Resource]) -> str:
    """Why an action key (`r`, `S`, `X`, `u`, `ctrl+d`) does nothing on `targets`: `Pods cannot be
    restarted; restart their Deployment`. `resources`: the environment's, to find a pod's owner."""
    kinds = sorted({r.kind for r in targets})
    line = f"{', '.join(clean(k) + 's' for k in kinds)} cannot be {PAST[action]}"
    if action == "restart" and kinds == ["Pod"]:
        top = top_controller(resources, targets[0])
        line += f"; restart their {clean(top)}" if top is not None else "; restart the workload that runs them"
    return line


def short_scope(resource_id: str) -> str:
    """`kubernetes/Deployment/api` → `Deployment/api`."""
    parts = resource_id.split("/", 1)
    return parts[1] if len(parts) == 2 else resource_id


class EnvironmentActions:
    env: str

    if TYPE_CHECKING:
        envdeck: EnvdeckApp
        active_view: str

        def selected_id(self) -> str | None: ...
        def targets(self) -> list[Resource]: ...
        def _need_one(self) -> Resource | None: ...
        def query_one(self, *args, **kwargs): ...
        def enter_scope(self, workload: Resource) -> None: ...

    # -- drilling ------------------------------------------------------------------
    def action_drill(self, tab: str | None = None) -> None:
        """Enter: a workload's pods (resources view), else the details. Never an action."""
        r = self._need_one()
        if r is None:
            return
        if tab is None and self.active_view == "resources" and has_pods(r):
            self.enter_scope(r)
            return
        self.open_detail(r, tab)

    def open_detail(self, r: Resource, tab: str | None = None) -> None:
        from screens.resource_detail import ResourceDetailScreen

        self.envdeck.push_screen(ResourceDetailScreen(self.env, r.id, tab=tab))

    def action_describe(self) -> None:
        r = self._need_one()
        if r is not None:
            self.open_detail(r)

    def action_xray(self) -> None:
        r = self._need_one()
        if r is not None:
            from screens.xray import XrayScreen

            self.envdeck.push_screen(XrayScreen(self.env, r.id))

    def action_yaml(self) -> None:
        r = self._need_one()
        if r is not None:
            self.open_detail(r, "yaml")

    def action_drift_diff(self) -> None:
        r = self._need_one()
        if r is not None:
            self.open_detail(r, "drift")

    # -- actions -----------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The footer offers an action key only when the selected resource (or one of the
        marked ones) has that action (`r Restart` is hidden on a Pod); with none selected (an
        empty view, an audit row, the Logs view before a source) it is hidden too: nothing to
        act on; with very many marked it stays. `R Repair` shows only where the selected resource
        has drift to repair (not on the Logs view before a source: its own keys fill the footer)."""
        session = getattr(self.envdeck, "session", None)
        if action == "repair" and session is not None and getattr(self, "ready", False):
            rid = self.selected_id()
            return rid is not None and any(d.resource == rid for d in self.env_state(self.env).all_drifts())  # type: ignore[attr-defined]
        if (action not in action_flow.KEY_ACTIONS and action not in action_flow.UI_ACTIONS) or session is None \
                or not getattr(self, "ready", False):
            return super().check_action(action, parameters)  # type: ignore[misc]
        targets = self.targets()
        if not targets:
            return False
        if len(targets) > MAX_CHECKED:
            return super().check_action(action, parameters)  # type: ignore[misc]
        if action in action_flow.UI_ACTIONS:  # no `l Logs` / `s Shell` on a queue or a group
            return action_flow.has_ui_action(session, self.env, targets, action)
        return any(action_flow.has_key_action(session.actions_for(self.env, r), action) for r in targets)

    # The footer reads the bindings again when the selection or the rows changed (cursor moved,
    # filter typed or applied, rows updated): once per frame however many changes came in it
    # (each keystroke of a filter refreshes the rows; the footer's check runs once after them).
    _bindings_queued = False

    def selection_changed(self) -> None:
        if not self._bindings_queued:
            self._bindings_queued = True
            self.call_after_refresh(self._refresh_bindings_once)  # type: ignore[attr-defined]

    def _refresh_bindings_once(self) -> None:
        self._bindings_queued = False
        self.refresh_bindings()  # type: ignore[attr-defined]

    def on_data_table_row_highlighted(self) -> None:
        self.selection_changed()

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """Textual's, with the keys of FOOTER_WHEN_ABLE shown where they can act and fit."""
        paused = self._repairs_paused()
        # paused: `p Resume` first (how to leave the state the status bar flags), then the others;
        # only to a role that may resume (a viewer's `p` is still refused and explained when pressed)
        resume = paused and may_pause(self.envdeck.session, self.env)  # type: ignore[attr-defined]
        self._resume_shown = resume
        actions = FOOTER_WHEN_ABLE + lifecycle_keys_for(getattr(self, "managed", None))
        bindings = pause_reads_resume(self._shown_as_focused(super().active_bindings), paused)  # type: ignore[misc]
        if resume:  # shown whatever the room: the footer makes room by leaving out other keys (footer_keeps)
            bindings = described_as(bindings, "pause", "Resume", show=True)
        bindings = restart_reads_reboot(bindings, self._restart_reboots())
        shown = promote_to_footer(self, bindings, actions)
        return fit_footer(self, shown)

    _resume_shown = False

    def footer_leaves_first(self) -> tuple[str, ...]:
        """The keys the footer leaves out first when it is too narrow, in this order: the Logs
        view's toggles, then the actions an on-call reaches for last; `R Repair` (the manual
        repair, what is left while automatic repairs are paused) after the others."""
        return FOOTER_GIVES_WAY + ("open_console", "shell", "start", "stop", "scale", "restart", "delete")

    def footer_keeps(self) -> frozenset[str]:
        """The keys the footer leaves out last when it is too narrow: `p Resume` with the usual three."""
        return FOOTER_KEEPS | {"pause"} if self._resume_shown else FOOTER_KEEPS

    def _restart_reboots(self) -> bool:
        """`r` reboots what it acts on (the selected or marked edge nodes): its key reads `Reboot`."""
        session = getattr(self.envdeck, "session", None)
        if session is None or not getattr(self, "ready", False) or self.env not in session.states():  # type: ignore[attr-defined]
            return False  # destroyed: no actions to ask about (actions_for raised PolicyDenied as the footer redrew)
        targets = self.targets()
        return len(targets) <= MAX_CHECKED and runs_reboot(session, self.env, targets)  # type: ignore[attr-defined]

    def _repairs_paused(self) -> bool:
        """This environment's repairs are paused (`p` resumes them; a paused one's footer offers
        `p Resume` where it has room): False while the screen is built or once the environment is gone."""
        session = getattr(self.envdeck, "session", None)
        if session is None or not getattr(self, "ready", False) or self.env not in session.states():  # type: ignore[attr-defined]
            return False
        return session.state(self.env).paused  # type: ignore[attr-defined]

    def _shown_as_focused(self, bindings: dict[str, ActiveBinding]) -> dict[str, ActiveBinding]:
        """A key this screen binds with priority (`/`, so that the keys typed after it go into the
        box) hands its press to the focused widget's own binding of it where it has one (`/` on
        the Logs view searches the logs): the footer and `?` show that one, as it is what runs."""
        for key, ab in list(bindings.items()):
            if ab.node is not self or not ab.binding.priority:
                continue
            for namespace, chain in self._modal_binding_chain:  # type: ignore[attr-defined]
                if namespace is self:
                    break
                found = next((b for k, b in chain if k == key and not b.priority), None)
                if found is not None and self.envdeck._check_action_state(found.action, namespace) is not False:
                    bindings[key] = ActiveBinding(namespace, found, True, found.tooltip)
                    break
        return bindings

    def why_not(self, action: str, parameters: tuple[object, ...] = ()) -> str | None:
        """One line saying why `action`'s key, off here (check_action False), does nothing;
        None for keys this does not explain."""
        if action == "show_view" and parameters:
            return f"{clean(self.env)} was not created from a template: it has no lifecycle steps"
        if self.active_view == "steps" and action in STEPS_VIEW_KEYS_OFF:
            return "a step is not a resource: Enter opens the resource it made"
        if action == "repair":
            rid = self.selected_id()
            return "nothing selected" if rid is None else f"no drift to repair on {clean(short_scope(rid), max_len=60)}"
        if action not in action_flow.KEY_ACTIONS and action not in action_flow.UI_ACTIONS:
            return None
        targets = self.targets()
        if not targets:
            return "nothing selected"
        if action in action_flow.UI_ACTIONS:
            return None  # action_flow.explain_ui_key says which resources have no logs or shell
        return cannot_be(action, targets, self.env_state(self.env).all_resources())  # type: ignore[attr-defined]

    def explain_key(self, key: str) -> bool:
        """A key of this screen pressed where its binding is off (nothing runs): say why in one
        line. True when it did."""
        for b in self._bindings.key_to_bindings.get(key, ()):  # type: ignore[attr-defined]
            _, name, parameters = parse_action(b.action)
            if self.check_action(name, parameters) is not False:
                continue
            line = self.why_not(name, parameters)
            if line is not None:
                self.envdeck.notify(line, severity="warning", markup=False, timeout=3)
                return True
        return False

    def action_restart(self) -> None:
        action_flow.run_action(self.envdeck, self.env, self.targets(), action_flow.RESTART_ACTIONS, "restart")

    def action_scale(self) -> None:
        action_flow.run_action(self.envdeck, self.env, self.targets(), action_flow.SCALE_ACTIONS, "scale")

    def action_stop(self) -> None:
        action_flow.run_action(self.envdeck, self.env, self.targets(), action_flow.STOP_ACTIONS, "stop")

    def action_start(self) -> None:
        action_flow.run_action(self.envdeck, self.env, self.targets(), action_flow.START_ACTIONS, "start")

    def action_delete(self) -> None:
        action_flow.run_action(self.envdeck, self.env, self.targets(), action_flow.DELETE_ACTIONS,
                               "delete/terminate", destructive_fallback=True)

    def action_shell(self) -> None:
        r = self._need_one()
        if r is not None:
            action_flow.open_shell(self.envdeck, self.env, r)

    def action_open_console(self) -> None:
        r = self._need_one()
        if r is not None:
            action_flow.open_console(self.envdeck, r)

    def action_port_forward(self) -> None:
        r = self._need_one()
        if r is not None:
            port_forward_flow.start_port_forward(self.envdeck, self.env, r)

    def action_port_forwards(self) -> None:
        port_forward_flow.open_panel(self.envdeck)

    def action_repair(self) -> None:
        field = None
        if self.active_view == "drift":
            field = self.query_one(DriftTable).detail_for_cursor()
        rid = self.selected_id()
        action_flow.repair(self.envdeck, self.env, rid, field)

    def action_pause(self) -> None:
        action_flow.toggle_pause(self.envdeck, self.env)
