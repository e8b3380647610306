"""envdeck's themes: built-in dark / light / high-contrast, user themes from YAML,
and the one app stylesheet (`envdeck.tcss`, theme variables only)."""

from __future__ import annotations

from pathlib import Path

from themes.builtin import ALIASES, BUILTIN, DEFAULT_THEME
from themes.user_themes import LoadedThemes, load_user_themes

STYLESHEET = Path(__file__).with_name("envdeck.tcss")

__all__ = ["ALIASES", "BUILTIN", "DEFAULT_THEME", "STYLESHEET", "LoadedThemes", "load_user_themes",
           "resolve_theme_name"]


def resolve_theme_name(name: str | None) -> str | None:
    """`dark` → `envdeck-dark`; other names unchanged."""
    if not name:
        return None
    return ALIASES.get(name, name)
