"""How values become table cells: outside text through `clean()` and always as
`rich.text.Text` (never markup), vocabulary values coloured from the *current
theme's variables* (success / warning / error / ...), plus age and sparkline text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from rich.style import Style
from rich.text import Text
from textual.color import Color, ColorParseError

from tui.core.sanitize import clean

HEALTH_GLYPH = {"Healthy": "●", "Progressing": "◐", "Degraded": "✖", "Suspended": "‖", "Missing": "○",
                "Unknown": "?"}
_HEALTH_VAR = {"Healthy": "success", "Progressing": "primary", "Degraded": "error", "Suspended": "secondary",
               "Missing": "warning", "Unknown": "warning"}
_DRIFT_VAR = {"InSync": "success", "Drifted": "warning", "Unknown": "text-muted"}
_SEVERITY_VAR = {"critical": "error", "high": "error", "medium": "warning", "low": "primary", "info": "text-muted"}
_RESULT_VAR = {"succeeded": "success", "failed": "error", "denied": "error", "pending": "primary",
               "interrupted": "warning"}
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"


class Palette:
    """Rich styles resolved from the app's theme variables (rebuilt on theme change)."""

    def __init__(self, variables: Mapping[str, str]):
        self._variables = dict(variables)
        self._cache: dict[tuple[str, bool], Style] = {}

    def style(self, variable: str, *, bold: bool = False) -> Style:
        key = (variable, bold)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        colour = self._resolve(self._variables.get(variable) or self._variables.get("foreground") or "")
        style = Style(color=None if colour is None else colour.rich_color, bold=bold or None)
        self._cache[key] = style
        return style


    def _parse(self, value: str) -> Color | None:
        try:
            return Color.parse(value)
        except ColorParseError:
            return None

    def _resolve(self, value: str) -> Color | None:
        """A theme value: a colour, or `COLOUR N%` / `auto N%` (blended towards the background)."""
        value = value.strip()
        if not value:
            return None
        base, _, percent = value.partition(" ")
        if not percent.endswith("%"):
            return self._parse(value)
        if base == "auto":
            base = self._variables.get("foreground", "")
        colour = self._parse(base)
        if colour is None or colour.ansi is not None:
            return colour
        background = self._parse(self._variables.get("background", ""))
        try:
            amount = float(percent.rstrip("%")) / 100
        except ValueError:
            return colour
        if background is None or background.ansi is not None:
            return colour
        return background.blend(colour, amount)


PLAIN = Palette({})


def safe(value: object, *, max_len: int | None = None, style: Style | str = "") -> Text:
    """Outside text as a single-line, escape-free, markup-free Text."""
    if value is None:
        return Text("")
    return Text(clean(value, max_len=max_len), style=style, no_wrap=True, end="")


def health_cell(health: str, palette: Palette, reason: str = "") -> Text:
    glyph = HEALTH_GLYPH.get(health, "?")
    return Text(f"{glyph} {health}", style=palette.style(_HEALTH_VAR.get(health, "foreground"),
                                                          bold=health in ("Degraded", "Unknown")), end="")


def drift_cell(drift: str | None, palette: Palette) -> Text:
    if drift is None:
        return Text("—", style=palette.style("text-muted"), end="")
    return Text(drift, style=palette.style(_DRIFT_VAR.get(drift, "foreground"), bold=drift == "Drifted"),
                end="")


def severity_cell(severity: str, palette: Palette) -> Text:
    return Text(clean(severity), style=palette.style(_SEVERITY_VAR.get(severity, "foreground"),
                                                     bold=severity in ("critical", "high")), end="")


def result_cell(result: str, palette: Palette) -> Text:
    return Text(clean(result), style=palette.style(_RESULT_VAR.get(result, "foreground")), end="")


def muted(text: str, palette: Palette) -> Text:
    return Text(text, style=palette.style("text-muted"), end="")


def format_age(seconds: float | None) -> str:
    """k9s-like compact age: 42s, 5m, 3h, 2d."""
    if seconds is None:
        return "—"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def age_between(now: datetime, then: datetime | None) -> str:
    if then is None:
        return "—"
    return format_age((now - then).total_seconds())


def sparkline_text(values: Iterable[float], width: int = 8) -> str:
    """The last `width` values as block characters (empty when there are none)."""
    data = list(values)[-width:]
    if not data:
        return ""
    lo, hi = min(data), max(data)
    span = hi - lo
    if span <= 0:
        return SPARK_BLOCKS[3] * len(data)
    top = len(SPARK_BLOCKS) - 1
    return "".join(SPARK_BLOCKS[round((v - lo) / span * top)] for v in data)


def format_number(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 10_000:
        return f"{value / 1000:.0f}k"
    if abs(value) >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.1f}"
