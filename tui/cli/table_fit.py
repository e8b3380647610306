"""Tables and lines for people sized to the terminal (on-call finding, session 9: at 80 columns
every `status` row, `audit` row and `run` line wrapped inside words and numbers).

On a terminal (stdout a tty) the width is the terminal's (`COLUMNS` when set, as
shutil.get_terminal_size reads it); piped or redirected, `terminal_width()` is None and the
callers print what they always printed (scripts and pipes rely on it). A table fitted to a
width leaves out the columns another column repeats (e.g. BACKEND and KIND, which the ID
holds), then cuts the long cells of the columns that may be cut in the middle (`cut_middle`:
names told apart by start and end), never inside a word of free text (`fold_words`)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tui.core.sanitize import clean


def terminal_width() -> int | None:
    """The terminal's columns when stdout is one (COLUMNS wins, as for every tool), else None."""
    try:
        if not sys.stdout.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    import shutil  # here: `run` piped (benchmarked start-up) never needs it

    return max(20, shutil.get_terminal_size((80, 24)).columns)


def cut_middle(text: str, width: int) -> str:
    """`text` in `width` columns, its middle cut with `…` (names told apart by start and end)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    keep = width - 1
    return text[:(keep + 1) // 2] + "…" + text[len(text) - keep // 2:]


def cut_end(text: str, width: int) -> str:
    """`text` in `width` columns, its end cut with `…` (a status or a sentence: read from its start)."""
    if len(text) <= width:
        return text
    return text[:max(width - 1, 0)] + "…"[:width]


def cut_start(text: str, width: int) -> str:
    """`text` in `width` columns, its start cut with `…` (an image keeps its name and tag)."""
    if len(text) <= width:
        return text
    return "…"[:width] + text[len(text) - max(width - 1, 0):] if width > 1 else "…"[:width]


def cut_id(text: str, width: int) -> str:
    """A resource id (`aws/ec2-instance/i-0abc…`, `kubernetes/ConfigMap/app-config`) in `width`
    columns: the kind in the middle is cut first, the backend and the last part (the name or
    native id, what tells resources apart) stay whole while they fit."""
    if len(text) <= width:
        return text
    head, sep, rest = text.partition("/")
    kind, sep2, last = rest.rpartition("/")
    if not sep or not sep2:
        return cut_middle(text, width)
    room = width - len(head) - len(last) - 3  # `/`, `…/`
    if room >= 2:
        return f"{head}/{kind[:room]}…/{last}"
    return cut_middle(text, width)


def fold_words(text: str, width: int | None, indent: str = "  ") -> list[str]:
    """`text` folded at spaces into lines of at most `width` columns (the lines after the first
    start with `indent`); a word longer than a line is never split (the terminal wraps it).
    None: the one line, as it is."""
    if width is None or len(text) <= width:
        return [text]
    import textwrap

    return textwrap.wrap(text, width, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False) or [text]


def fold_parts(parts: Sequence[str], width: int | None, indent: str = "    ", sep: str = "  ") -> list[str]:
    """The parts joined by `sep`, on as many lines as `width` needs, broken between parts first
    (`(staging: ID` / `prod: ID)` stay whole), a part longer than a line folded at its spaces.
    None: the one line."""
    if width is None or len(sep.join(parts)) <= width:
        return [sep.join(parts)]
    lines: list[str] = []
    line = ""
    for part in parts:
        if not line:
            line = (indent if lines else "") + part
        elif len(line) + len(sep) + len(part) <= width:
            line += sep + part
        else:
            lines.append(line)
            line = indent + part
    lines.append(line)
    return [folded.rstrip() for one in lines for folded in fold_words(one.rstrip(), width, indent=indent)]


@dataclass(frozen=True)
class Column:
    header: str
    min_width: int = 0   # a cell may be cut in the middle down to this width; 0: never cut
    drop: int = 0        # > 0: left out on a narrow terminal when even the cut columns do not fit (1 first)
    right: bool = False  # numbers: aligned right
    cut: Callable[[str, int], str] = cut_middle  # how a cell is cut to the column's width
    give: int = 0        # the columns that give more are cut to their minimum before the others
    keep: int = 0        # cut below this only once every other column is at its minimum (what matters most)


def fit_table(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int | None,
              gap: str = "  ") -> list[str]:
    """The header and the rows as lines. `width` None: every column whole (as printed when piped);
    else the lines fit `width` as far as the columns' minimum widths allow."""
    cells = [[clean(c.header) for c in columns]] + [[clean(str(cell)) for cell in row] for row in rows]
    shown = list(range(len(columns)))
    widths = [max(len(r[i]) for r in cells) for i in shown]

    def total(which: list[int], sizes: list[int]) -> int:
        return sum(sizes[i] for i in which) + len(gap) * (len(which) - 1)

    if width is not None:
        floor = [min(widths[i], columns[i].min_width) if columns[i].min_width
                 else widths[i] for i in shown]
        # what a column keeps (`keep`) counts as its minimum here: a column another one repeats
        # goes before the one that matters most is cut under its room
        soft = [max(floor[i], min(widths[i], columns[i].keep)) for i in shown]
        for i in sorted((i for i in shown if columns[i].drop), key=lambda i: columns[i].drop):
            if total(shown, soft) <= width:
                break
            shown.remove(i)
        while total(shown, widths) > width:
            cuttable = [i for i in shown if widths[i] > soft[i]]
            base = soft if cuttable else floor  # the columns that keep room give it last
            cuttable = cuttable or [i for i in shown if widths[i] > floor[i]]
            if not cuttable:
                break
            widest = max(cuttable, key=lambda i: (columns[i].give, widths[i] - base[i]))
            widths[widest] -= 1
    lines = []
    for row in cells:
        parts = []
        for i in shown:
            cell = columns[i].cut(row[i], widths[i])
            parts.append(cell.rjust(widths[i]) if columns[i].right else cell.ljust(widths[i]))
        lines.append(gap.join(parts).rstrip())
    return lines
