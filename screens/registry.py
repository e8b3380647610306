"""The screens and widgets whose bindings users may remap by id (`ui.keymap`).

The app adds itself (`tui.app.keymap_classes`, `known_binding_ids`), so this module
never imports the app."""

from __future__ import annotations


def screen_keymap_classes() -> tuple[type, ...]:
    from screens.confirm import ConfirmScreen
    from screens.desired_conflict import DesiredConflictScreen
    from screens.environment import EnvironmentScreen
    from screens.help import HelpScreen
    from screens.jump import CommandLineScreen
    from screens.lifecycle_steps import LifecycleScreen
    from screens.new_environment import NewEnvironmentScreen
    from screens.overview import OverviewScreen
    from screens.port_choice import PortChoiceScreen
    from screens.port_forwards import PortForwardsScreen
    from screens.resource_detail import ResourceDetailScreen
    from tui.widgets.keyed_table import KeyedTable
    from tui.widgets.line_table import LineTable
    from tui.widgets.logs_view import LogsView
    from tui.widgets.metrics_view import MetricsView

    return (OverviewScreen, EnvironmentScreen, ResourceDetailScreen, ConfirmScreen, DesiredConflictScreen,
            HelpScreen, CommandLineScreen, NewEnvironmentScreen, LifecycleScreen, LogsView, MetricsView, LineTable, KeyedTable,
            PortChoiceScreen, PortForwardsScreen)
