"""Every binding id of envdeck (for validating `ui.keymap`)."""

from __future__ import annotations


def known_binding_ids() -> set[str]:
    from textual.app import App
    from textual.binding import Binding

    from screens.confirm import ConfirmScreen
    from screens.desired_conflict import DesiredConflictScreen
    from screens.environment import EnvironmentScreen
    from screens.help import HelpScreen
    from screens.jump import CommandLineScreen
    from screens.overview import OverviewScreen
    from screens.resource_detail import ResourceDetailScreen
    from tui.app import EnvdeckApp
    from tui.widgets.keyed_table import KeyedTable
    from tui.widgets.line_table import LineTable
    from tui.widgets.logs_view import LogsView
    from tui.widgets.metrics_view import MetricsView

    ids: set[str] = set()
    for cls in (EnvdeckApp, OverviewScreen, EnvironmentScreen, ResourceDetailScreen, ConfirmScreen,
                DesiredConflictScreen, HelpScreen,
                CommandLineScreen, LogsView, MetricsView, LineTable, KeyedTable, App):
        for b in cls.BINDINGS:
            if isinstance(b, Binding) and b.id:
                ids.add(b.id)
    return ids
