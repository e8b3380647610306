"""The action keys of the environment screen (drill in, YAML, diff, restart, scale,
delete, shell, console, repair, pause), as a mixin: each resolves its target from the
screen's selection and hands it to `screens.action_flow`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from screens import action_flow
from tui.widgets.record_views import DriftTable

if TYPE_CHECKING:
    from tui.app import EnvdeckApp
    from tui.model import Resource


class EnvironmentActions:
    env: str

    if TYPE_CHECKING:
        envdeck: EnvdeckApp
        active_view: str

        def selected_id(self) -> str | None: ...
        def targets(self) -> list[Resource]: ...
        def _need_one(self) -> Resource | None: ...
        def query_one(self, *args, **kwargs): ...

    # -- drilling ------------------------------------------------------------------
    def action_drill(self, tab: str | None = None) -> None:
        r = self._need_one()
        if r is not None:
            from screens.resource_detail import ResourceDetailScreen

            self.envdeck.push_screen(ResourceDetailScreen(self.env, r.id, tab=tab))

    def action_yaml(self) -> None:
        self.action_drill(tab="yaml")

    def action_drift_diff(self) -> None:
        self.action_drill(tab="drift")

    # -- actions -----------------------------------------------------------------
    def action_restart(self) -> None:
        action_flow.run_action(self.envdeck, self.env, self.targets(), action_flow.RESTART_ACTIONS, "restart")

    def action_scale(self) -> None:
        action_flow.run_action(self.envdeck, self.env, self.targets(), action_flow.SCALE_ACTIONS, "scale")

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

    def action_repair(self) -> None:
        field = None
        if self.active_view == "drift":
            field = self.query_one(DriftTable).detail_for_cursor()
        rid = self.selected_id()
        action_flow.repair(self.envdeck, self.env, rid, field)

    def action_pause(self) -> None:
        action_flow.toggle_pause(self.envdeck, self.env)
