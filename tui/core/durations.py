"""Durations as the config writes them (`30s`, `5m`, `1h`, `250ms`, a bare number of seconds).

Its own module, without pydantic: `envdeck run` reads its nodes' connect timeouts before the
config models are built (tui/cli/fleet_early.py), and the CLI parses `--timeout`-like options."""

from __future__ import annotations

import math
import re
from typing import Any

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
# The longest duration envdeck accepts: longer ones overflow time_t or asyncio timers
# somewhere below (a `.inf` timeout), and nobody means them.
MAX_DURATION_S = 10 * 365 * 86400.0


def parse_duration(value: Any) -> float:
    """`30s`, `5m`, `1h`, `250ms` or a bare number of seconds → seconds (float)."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 30s or 5m is expected")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            raise ValueError("a duration must be at most 10 years") from None
    elif isinstance(value, str):
        m = _DURATION_RE.match(value)
        if not m:
            raise ValueError(f"{value!r} is not a duration (use e.g. 500ms, 30s, 5m, 1h)")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ValueError("a duration such as 30s or 5m is expected")
    if math.isnan(seconds):
        raise ValueError("a duration must be a number, not NaN")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    if seconds > MAX_DURATION_S:  # also .inf and 99999999999999999999h
        raise ValueError("a duration must be at most 10 years")
    return seconds
