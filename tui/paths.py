"""Where envdeck finds its config and keeps its state (XDG base directories)."""

from __future__ import annotations

import os
from pathlib import Path


def config_home() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "envdeck"


def state_home() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "envdeck"


def config_path(cli_value: str | None = None) -> Path:
    """`--config PATH`, else `$ENVDECK_CONFIG`, else `$XDG_CONFIG_HOME/envdeck/envdeck.yaml`."""
    if cli_value:
        return Path(cli_value).expanduser()
    env = os.environ.get("ENVDECK_CONFIG")
    if env:
        return Path(env).expanduser()
    return config_home() / "envdeck.yaml"


def state_dir(cli_value: str | None = None) -> Path:
    """`--state-dir`, else `$ENVDECK_STATE_DIR`, else `$XDG_STATE_HOME/envdeck/`."""
    if cli_value:
        return Path(cli_value).expanduser()
    env = os.environ.get("ENVDECK_STATE_DIR")
    if env:
        return Path(env).expanduser()
    return state_home()


def themes_dir() -> Path:
    return config_home() / "themes"
