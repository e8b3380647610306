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
from tui.core.text_cut import cell_width, cut_end, cut_middle
from tui.core.text_cut import cut_start as cut_start  # the CLI's tables take their cuts from here


def terminal_width() -> int | None:
    """The terminal's columns when stdout is one (COLUMNS wins, as for every tool), else None."""
    try:
        if not sys.stdout.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    import shutil  # here: `run` piped (benchmarked start-up) never needs it

    return max(20, shutil.get_terminal_size((80, 24)).columns)


def cut_id(text: str, width: int) -> str:
    """A resource id (`aws/ec2-instance/i-0abc…`, `kubernetes/ConfigMap/app-config`) in `width`
    columns: the kind in the middle is cut first, the backend and the last part (the name or
    native id, what tells resources apart) stay whole while they fit."""
    if cell_width(text) <= width:
        return text
    head, sep, rest = text.partition("/")
    kind, sep2, last = rest.rpartition("/")
    if not sep or not sep2:
        return cut_middle(text, width)
    room = width - cell_width(head) - cell_width(last) - 2  # the two `/`
    if room >= 3:  # two cells of the kind and its `…`
        return f"{head}/{cut_end(kind, room)}/{last}"
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
