"""Text cut to a number of terminal cells with `…`: the one rule of the CLI's tables and the TUI.

A cell is a column of the terminal. A wide character (CJK, most emoji) takes two cells and is
never split; a combining mark, a variation selector, a zero-width joiner and what it joins stay
with the character they belong to and take no cell of their own, so a cut may be a cell
narrower than asked rather than a cell wider. The ellipsis `…` takes one cell.

Where to cut: `cut_middle` for names (start and end tell them apart; the end gets the odd
cell, since that is where names differ most: a pod's hash, a branch's number), `cut_start` for
values read from their end (an image's tag), `cut_end` for text read from its start.

Widths are Unicode's East Asian Width as Python's `unicodedata` has it, as Rich (which draws
the TUI) measures them; where the two could differ (a variation selector 16 after a narrow
character), the wider count: a name a cell shorter, never a line that overflows. The text is
expected to be cleaned already (tui/core/sanitize.clean: no control characters)."""

from __future__ import annotations

import unicodedata

ELLIPSIS = "…"
_ZWJ = "\u200d"
_VS16 = "\ufe0f"
_NO_CELL = frozenset({"Mn", "Me", "Mc", "Cf"})  # marks, and the format characters (joiners, selectors)


def _regional(ch: str) -> bool:
    """A regional indicator: two make a flag (two cells), one alone takes one."""
    return "\U0001f1e6" <= ch <= "\U0001f1ff"


def _joins(ch: str) -> bool:
    """Drawn together with the character before it: a mark, a joiner, a selector, a Hangul vowel
    or final consonant of a decomposed syllable, a skin-tone modifier."""
    return (unicodedata.category(ch) in _NO_CELL or "\u1160" <= ch <= "\u11ff" or "\ud7b0" <= ch <= "\ud7ff"
            or "\U0001f3fb" <= ch <= "\U0001f3ff")


def _cells_of(ch: str) -> int:
    """The cells of a character standing at the start of a cluster."""
    if unicodedata.category(ch) in _NO_CELL or "\u1160" <= ch <= "\u11ff" or "\ud7b0" <= ch <= "\ud7ff":
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def clusters(text: str) -> list[tuple[str, int]]:
    """`text` as what the terminal draws one by one: each character with the ones drawn with it,
    and the cells it takes."""
    out: list[tuple[str, int]] = []
    after_zwj = False
    flag_open = False  # the last cluster is one regional indicator, waiting for its pair
    for ch in text:
        pairs = flag_open and _regional(ch)
        if out and (after_zwj or pairs or _joins(ch)):
            chars, cells = out[-1]
            if pairs or (ch == _VS16 and cells == 1):
                cells = 2
            out[-1] = (chars + ch, cells)
            flag_open = False
        else:
            out.append((ch, _cells_of(ch)))
            flag_open = _regional(ch)
        after_zwj = ch == _ZWJ
    return out


def cell_width(text: str) -> int:
    """The cells `text` takes on a terminal."""
    if text.isascii():
        return len(text)
    return sum(cells for _, cells in clusters(text))


def _from_start(parts: list[tuple[str, int]], room: int) -> int:
    """How many of `parts`, from the start, fit `room` cells."""
    used = 0
    for i, (_, cells) in enumerate(parts):
        if used + cells > room:
            return i
        used += cells
    return len(parts)


def _from_end(parts: list[tuple[str, int]], room: int) -> int:
    """How many of `parts`, from the end, fit `room` cells."""
    return _from_start(parts[::-1], room)


def _joined(parts: list[tuple[str, int]]) -> str:
    return "".join(chars for chars, _ in parts)


def _cells(parts: list[tuple[str, int]]) -> int:
    return sum(cells for _, cells in parts)


def cut_end(text: str, width: int) -> str:
    """`text` in `width` cells, its end cut with `…` (a status or a sentence: read from its start)."""
    if cell_width(text) <= width:
        return text
    if width <= 0:
        return ""
    parts = clusters(text)
    return _joined(parts[:_from_start(parts, width - 1)]) + ELLIPSIS


def cut_start(text: str, width: int) -> str:
    """`text` in `width` cells, its start cut with `…` (`…/api:2.4.1`: a tag, a revision or a
    version at the end is what differs)."""
    if cell_width(text) <= width:
        return text
    if width <= 0:
        return ""
    parts = clusters(text)
    return ELLIPSIS + _joined(parts[len(parts) - _from_end(parts, width - 1):])


def cut_middle(text: str, width: int) -> str:
    """`text` in `width` cells, its middle cut with `…`: start and end stay (`adv7-b` and `adv7-c`
    stay apart, `pr…12345` keeps a branch's number). The start gets half the cells left beside
    the `…`, rounded down; the end gets the rest: the odd cell, and a cell a wide character
    leaves over at the start."""
    if cell_width(text) <= width:
        return text
    if width <= 0:
        return ""
    parts = clusters(text)
    keep = width - 1
    head = parts[:_from_start(parts, keep // 2)]
    tail = parts[len(parts) - _from_end(parts, keep - _cells(head)):]
    return _joined(head) + ELLIPSIS + _joined(tail)
