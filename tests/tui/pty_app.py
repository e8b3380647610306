"""Run the TUI on a real terminal (a pty made by test_terminal_bytes.py) with hostile
names, statuses and log lines; shows the resources, then the hostile pod's logs,
then prints nothing more until the test presses q."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tests.tui.stage import FIXED_NOW, Stage, stage_config, stage_factory
from tui.app import AppOptions, create_app


def main() -> int:
    stage = Stage()
    stage.hostile = True
    state = Path(tempfile.mkdtemp(prefix="envdeck-pty-"))
    app = create_app(stage_config(), state, options=AppOptions(
        clock=lambda: FIXED_NOW, backends_factory=stage_factory(stage), start_reconciler=False,
        start_env="staging", user="alice"))

    def show_logs_when_ready() -> None:
        from screens.environment import EnvironmentScreen

        screen = app.screen
        if isinstance(screen, EnvironmentScreen):
            hostile = screen.state.resource("kubernetes/Pod/hostile")
            api = screen.state.resource("kubernetes/Pod/api-5c8b-xyz12")
            screen.follow_logs([r for r in (hostile, api) if r is not None])
        else:
            app.set_timer(0.2, show_logs_when_ready)

    app.call_later(lambda: app.set_timer(1.5, show_logs_when_ready))
    app.run()
    return int(app.return_code or 0)


if __name__ == "__main__":
    sys.exit(main())
