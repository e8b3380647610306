"""`envdeck` / `envdeck tui [--env NAME]`: open the TUI on the user's config."""

from __future__ import annotations

import argparse

from tui.app import AppOptions, create_app
from tui.cli.opening import load
from tui.core.logsetup import setup_logging
from tui.core.paths import state_dir


def main_tui(args: argparse.Namespace) -> int:
    config = load(args)  # a ConfigError is reported by the CLI as PATH:LINE:COL lines
    sdir = state_dir(getattr(args, "state_dir", None))
    setup_logging(sdir)
    if getattr(args, "env", None):  # refused like every verb (exit 3, audited) before the TUI starts
        import asyncio

        from tui.core.model import Origin
        from tui.core.session import ensure_visible

        asyncio.run(ensure_visible(config, sdir, args.env, origin=Origin.TUI))
    app = create_app(config, sdir, read_only=bool(getattr(args, "read_only", False)),
                     options=AppOptions(start_env=getattr(args, "env", None)))
    app.run()
    return int(app.return_code or 0)
