"""What every command does first: load the config (warnings sanitised) and open a Session on
the state directory with the production backends. Its own module so that the commands
(`commands`, `desired`, `fleet`, `serve`, `app_main`) share it without importing each other."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tui.cli.output import warn
from tui.core.config import EnvdeckConfig, file_warnings, load_config
from tui.core.model import Origin
from tui.core.paths import config_path, state_dir

if TYPE_CHECKING:
    from pathlib import Path

    from tui.core.reconciler import BackendFactory
    from tui.core.session import Session


def load(args: argparse.Namespace) -> EnvdeckConfig:
    path = config_path(args.config)
    cfg = load_config(path)
    warn_about(path)
    return cfg


def warn_about(path: str | Path) -> None:
    """The config file's risky properties (a symlink, writable by others), one warning each."""
    for warning in file_warnings(path):
        warn(warning)  # the path (or a symlink's target) is outside text: sanitised


async def open_session(args: argparse.Namespace, cfg: EnvdeckConfig, env: str | None = None,
                       origin: str = Origin.CLI, *, envs: list[str] | None = None,
                       backends_factory: BackendFactory | None = None) -> Session:
    """`env`: only that environment; `envs`: only these (`envdeck agent --env GLOB`).
    `backends_factory`: in place of the production one (`run` hands over a backend that is
    already connecting). The session and the store are imported here, not with the module:
    `run` loads the config and starts connecting while they load (tui/cli/fleet.py)."""
    from backends.registry import create_backends, create_provisioner
    from tui.core.logsetup import setup_logging
    from tui.core.session import Session

    sdir = state_dir(args.state_dir)
    setup_logging(sdir)
    return await Session.open(cfg, sdir, origin=origin, read_only=args.read_only,
                              envs=[env] if env else envs, backends_factory=backends_factory or create_backends,
                              provisioners=create_provisioner)
