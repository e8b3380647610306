"""tui/core/sanitize.py clean(): outside text shown on one line, every character that moves,
hides or breaks text made a visible escape; ordinary text (and emoji sequences) unchanged."""

from __future__ import annotations

import pytest

from tui.core.sanitize import clean


@pytest.mark.parametrize(("text", "expected"), [
    ("web\tDegraded", "web^IDegraded"),  # a tab pushes the next column
    ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),  # line and paragraph separators break the line
    ("ad\u200bmin", "ad\\u200bmin"),  # zero-width space: two names that look alike
    ("ad\u2060min", "ad\\u2060min"),  # word joiner, invisible too
    ("pay\u00admentbot", "pay\\u00admentbot"),  # soft hyphen, invisible
    ("\ufeffname", "\\ufeffname"),  # byte order mark / zero-width no-break space
    ("evil\x1b[31mred\n", "evil␛[31mred␤"),  # as before
    ("\u202eevil", "\\u202eevil"),
])
def test_invisible_and_layout_characters_are_escaped_visibly(text, expected):
    assert clean(text) == expected


@pytest.mark.parametrize("text", ["staging-web-1", "naïve café", "日本語", "👨\u200d👩\u200d👧 family",
                                  "فارسی\u200cزبان", "[bold]not markup[/]", "Vie\u0323\u0302t"])
def test_ordinary_text_is_unchanged(text):
    assert clean(text) == text


def test_a_flood_of_combining_marks_keeps_two_and_says_how_many_followed():
    """A member's hand-written `u` + 5,000 U+0301 (terminals draw such marks over the lines
    above and below): two kept, the rest counted; a letter with two marks is a letter."""
    assert clean("u" + "\u0301" * 5000 + "ser") == "u\u0301\u0301(+4998 combining marks)ser"
    assert clean("a\u0300\u0301\u0302\x1b") == "a\u0300\u0301(+1 combining marks)␛"


def test_a_log_lines_tabs_are_spaces_not_escapes():
    """In the logs view a tab is layout (a stack trace's `\\tat ...`): expanded, never `^I`."""
    from tui.core.model import LogLine
    from tui.widgets.logs_view import render_line

    shown = render_line(LogLine("\tat com.example.Main(Main.java:3)\u200b"), prefix="", timestamps=False,
                        pretty_json=False, wrap=None)
    assert shown == ["        at com.example.Main(Main.java:3)\\u200b"]


def test_json_text_escapes_every_invisible_character():
    import json

    from tui.cli.output import json_text
    from tui.core.sanitize import BIDI, INVISIBLE

    hostile = "a" + "".join(INVISIBLE) + "\x7f\x9b" + BIDI + "z"
    text = json_text({"name": hostile})
    assert not [c for c in text if c in INVISIBLE + BIDI + "\x7f\x9b"], text
    assert json.loads(text)["name"] == hostile  # the exact text for scripts
