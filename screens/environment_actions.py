"""The action keys of the environment screen (drill in, YAML, diff, restart, scale,
stop, start, delete, shell, console, port-forward, repair, pause), as a mixin: each resolves its
target from the screen's selection and hands it to `screens.action_flow`.

Enter drills in and never acts: on a workload (Deployment, StatefulSet, …) it lists
the pods the workload runs, like k9s; on anything else it opens the detail screen."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from screens import action_flow, port_forward_flow
from tui.widgets.record_views import DriftTable

if TYPE_CHECKING:
    from tui.app import EnvdeckApp
    from tui.core.model import Resource

# Kinds whose Enter lists their pods (pods name their controller in the `owner`
# attribute, "Kind/name"; a Deployment's pods through its ReplicaSets).
WORKLOAD_KINDS = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"})
# The action keys the footer hides when the selected resource has no such action.
MAX_CHECKED = 50  # marked resources asked about (beyond, the key stays: the action says what it skips)


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
            return rid is not None and any(d.resource == rid for d in session.state(self.env).all_drifts())
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

    def on_data_table_row_highlighted(self) -> None:
        self.refresh_bindings()  # type: ignore[attr-defined]

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
