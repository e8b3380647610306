"""One sanitiser for every string that comes from the outside world.

Resource names, tags, log lines, events and command output are data. Before
any widget or terminal sees them, control characters (C0 with tab, DEL, C1,
ESC), bidi overrides, the line/paragraph separators U+2028/U+2029 and the invisible
ones (zero-width space U+200B, word joiner U+2060, soft hyphen U+00AD, U+FEFF)
become visible escapes, so that nothing from outside can recolour the screen, set
the window title, write the clipboard (OSC 52), reorder text, break or push a
column, or make two names look alike. The zero-width (non-)joiners U+200C/U+200D
stay: emoji sequences and several scripts need them. A flood of combining marks on one
letter (more than two of the generic diacritics) keeps two and says how many followed. Rich markup is handled by
showing the result as `Text`, never markup.
"""

from __future__ import annotations

import re

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
INVISIBLE = "\u2028\u2029\u200b\u2060\u00ad\ufeff"
# the generic combining marks (diacritics for any letter): more than MARKS_KEPT on one letter is a
# "Zalgo" flood that terminals draw over the lines above and below; the scripts that stack more
# marks have their own blocks, not these
MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
MARKS_KEPT = 2
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f" + BIDI + INVISIBLE + "]")
_FLOOD = re.compile(f"[{MARKS}]{{{MARKS_KEPT + 1},}}")
_NAMES = {"\x1b": "␛", "\n": "␤", "\r": "␍", "\x00": "␀", "\x7f": "␡"}


def _fold(match: re.Match[str]) -> str:
    marks = match.group(0)
    return f"{marks[:MARKS_KEPT]}(+{len(marks) - MARKS_KEPT} combining marks)"


def _escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    named = _NAMES.get(ch)
    if named:
        return named
    code = ord(ch)
    if code < 0x20:
        return "^" + chr(code + 0x40)
    return f"\\u{code:04x}"


def clean(text: object, *, max_len: int | None = None) -> str:
    """Make outside text safe to display on one line."""
    s = text if isinstance(text, str) else str(text)
    if _UNSAFE.search(s):
        s = _UNSAFE.sub(_escape, s)
    if not s.isascii() and _FLOOD.search(s):  # isascii: a flag of the string, no scan
        s = _FLOOD.sub(_fold, s)
    if max_len is not None and len(s) > max_len:
        s = s[: max_len - 1] + "…"
    return s


def decode(data: bytes) -> str:
    """Bytes from a remote process → str, invalid UTF-8 shown as U+FFFD."""
    return data.decode("utf-8", errors="replace")
