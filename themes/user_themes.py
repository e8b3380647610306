"""User themes: one YAML file per theme in `$XDG_CONFIG_HOME/envdeck/themes/`.

    name: solarized-night
    primary: "#268bd2"
    background: "#002b36"
    dark: true
    variables: {footer-key-foreground: "#b58900"}

Files are validated with pydantic; an invalid file is reported (as a toast by
the app) and skipped, never a crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from textual.color import Color, ColorParseError
from textual.theme import Theme

from tui.core.sanitize import clean

MAX_THEME_FILE_BYTES = 64 * 1024


def _colour(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        Color.parse(value)
    except ColorParseError:
        raise ValueError(f"{value!r} is not a colour (use #rrggbb, rgb(...) or a colour name)") from None
    return value


class UserTheme(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    primary: str
    secondary: str | None = None
    accent: str | None = None
    warning: str | None = None
    error: str | None = None
    success: str | None = None
    foreground: str | None = None
    background: str | None = None
    surface: str | None = None
    panel: str | None = None
    boost: str | None = None
    dark: bool = True
    variables: dict[str, str] = Field(default_factory=dict)

    @field_validator("primary", "secondary", "accent", "warning", "error", "success", "foreground",
                     "background", "surface", "panel", "boost")
    @classmethod
    def _check_colour(cls, value: str | None) -> str | None:
        return _colour(value)

    def to_theme(self) -> Theme:
        data = self.model_dump()
        return Theme(**data)


@dataclass
class LoadedThemes:
    themes: list[Theme] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def load_user_themes(directory: Path) -> LoadedThemes:
    """Every *.yaml / *.yml theme in `directory`; problems are collected, not raised."""
    out = LoadedThemes()
    if not directory.is_dir():
        return out
    for path in sorted(list(directory.glob("*.yaml")) + list(directory.glob("*.yml"))):
        where = clean(path.name)
        try:
            if path.stat().st_size > MAX_THEME_FILE_BYTES:
                out.errors.append(f"theme {where}: larger than {MAX_THEME_FILE_BYTES // 1024} KiB, skipped")
                continue
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            theme = UserTheme.model_validate(data).to_theme()
        except (OSError, UnicodeDecodeError) as exc:
            out.errors.append(f"theme {where}: cannot read: {clean(exc)}")
        except yaml.YAMLError as exc:
            out.errors.append(f"theme {where}: not valid YAML: {clean(str(exc).splitlines()[0])}")
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first.get("loc", ())) or "(top level)"
            out.errors.append(f"theme {where}: {loc}: {clean(first.get('msg', 'invalid'))}")
        except Exception as exc:  # noqa: BLE001 - a bad theme never stops the app
            out.errors.append(f"theme {where}: {clean(exc)}")
        else:
            out.themes.append(theme)
    return out
