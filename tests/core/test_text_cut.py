"""The one rule for cutting text to terminal cells (tui/core/text_cut.py), which the CLI's tables,
the overview's names, the compare and versions screens and the port-forward panel all use: wide
characters count two cells and are never split, marks stay with their letter, `…` is one cell,
and a cut in the middle gives the odd cell to the end."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.cells import cell_len

from tui.core.text_cut import cell_width, clusters, cut_end, cut_middle, cut_start

E_ACUTE = "e\u0301"          # e + a combining acute accent: one cell
FAMILY = "👩\u200d💻"         # a zero-width-joiner sequence: one emoji, two cells
FLAG = "🇯🇵"                  # two regional indicators: one flag, two cells
THUMB = "👍🏽"                # an emoji with its skin-tone modifier
HEART = "❤\ufe0f"            # a narrow symbol drawn as an emoji by its variation selector 16
CUTS = (cut_start, cut_middle, cut_end)


@pytest.mark.parametrize(("text", "cells"), [
    ("", 0), ("api-7d9f", 8), ("…", 1), ("日本語", 6), ("ｱｲ", 2), (E_ACUTE * 3, 3), ("a\u0301\u0302b", 2),
    (FAMILY, 2), (FLAG, 2), (FLAG + "🇯", 3), (THUMB, 2), (HEART, 2), ("1\ufe0f\u20e3", 2), ("한", 2),
    ("\u1100\u1161", 2), ("\u0e01\u0e34", 1), ("\u3000", 2), ("\u0301", 0),
])
def test_cell_width_is_the_terminals_and_riches(text, cells):
    # Rich draws the TUI: a name measured otherwise would overflow its column or leave a gap
    assert cell_width(text) == cells == cell_len(text), (text, cell_width(text), cell_len(text))


def test_marks_joiners_and_flags_stay_with_what_they_belong_to():
    assert clusters(E_ACUTE + "x") == [(E_ACUTE, 1), ("x", 1)]
    assert clusters(FAMILY + FLAG + THUMB) == [(FAMILY, 2), (FLAG, 2), (THUMB, 2)]


@pytest.mark.parametrize("cut", CUTS)
def test_widths_zero_one_and_two(cut):
    assert cut("abcdef", 0) == "" and cut("", 0) == ""
    assert cut("abcdef", 1) == "…" and cut("a", 1) == "a"
    assert cut("日本語", 2) == "…"            # the one cell beside `…` cannot hold half a wide character
    assert cut("日本語", 1) == "…" and cut("日", 2) == "日"


@pytest.mark.parametrize("cut", CUTS)
def test_text_that_fits_exactly_is_not_cut(cut):
    for text in ("pr-12345", "日本語", E_ACUTE * 4, FAMILY + "x"):
        width = cell_width(text)
        assert cut(text, width) == text and cut(text, width + 3) == text
        assert cut(text, width - 1) != text and "…" in cut(text, width - 1)


def test_the_middle_cut_gives_the_odd_cell_to_the_end():
    # pod names differ at their hash: `web-7d9f8b6c5d-x2x4q` and `web-7d9f8b6c5d-k8m2p`
    assert cut_middle("web-7d9f8b6c5d-x2x4q", 12) == "web-7…-x2x4q"   # 11 cells: 5 at the start, 6 at the end
    assert cut_middle("web-7d9f8b6c5d-x2x4q", 13) == "web-7d…-x2x4q"  # 12 cells: 6 and 6
    assert cut_middle("abcdefghij", 6) == "ab…hij" and cut_middle("abcdefghij", 2) == "…j"
    assert cut_middle("adv7-b-staging", 8) == "adv…ging" and cut_middle("pr-feature-12345", 8) == "pr-…2345"


def test_wide_characters_are_never_split():
    assert cut_middle("日本語のなまえ", 4) == "…え"       # the start's one cell holds no wide character: the end takes it
    assert cut_middle("日本語のなまえ", 5) == "日…え"
    assert cut_middle("ab日本語のcd", 7) == "ab…のcd"
    assert cut_start("日本語のなまえ", 6) == "…まえ" and cut_start("日本語のなまえ", 5) == "…まえ"
    assert cut_end("日本語のなまえ", 6) == "日本…" and cut_end("日本語のなまえ", 7) == "日本語…"
    assert cut_end("svc-" + FAMILY + FLAG, 7) == "svc-" + FAMILY + "…"


def test_combining_marks_stay_with_their_letter():
    name = "caf" + E_ACUTE + "-r" + E_ACUTE + "sum" + E_ACUTE   # `café-résumé`, decomposed
    assert cut_end(name, 5) == "caf" + E_ACUTE + "…"
    assert cut_start(name, 3) == "…m" + E_ACUTE
    assert cut_middle(name, 8) == "caf…sum" + E_ACUTE
    assert cut_middle(E_ACUTE * 6, 4) == E_ACUTE + "…" + E_ACUTE * 2


@pytest.mark.parametrize(("text", "width", "shown"), [
    ("ghcr.io/acme/api:2.4.1", 11, "…/api:2.4.1"), ("ghcr.io/acme/api:2.4.1", 22, "ghcr.io/acme/api:2.4.1"),
    ("ghcr.io/acme/api:2.4.1", 14, "…cme/api:2.4.1"),   # the image's name and tag stay
    ("short", 10, "short")])
def test_values_are_cut_at_their_start(text, width, shown):
    assert cut_start(text, width) == shown and cell_width(shown) <= width


def test_the_end_cut_reads_from_the_start():
    assert cut_end("CrashLoopBackOff", 8) == "CrashLo…" and cut_end("Running", 7) == "Running"


_TEXT = st.lists(st.sampled_from(["a", "Z", "-", "7", "日", "え", "ｱ", E_ACUTE, "a\u0301\u0302", FAMILY, FLAG,
                                  THUMB, HEART, "…"]), max_size=14).map("".join)


@given(_TEXT, st.integers(min_value=0, max_value=30))
def test_every_cut_fits_and_keeps_whole_characters(text, width):
    parts = [chars for chars, _ in clusters(text)]
    for cut in CUTS:
        shown = cut(text, width)
        assert cell_width(shown) <= width and cell_len(shown) <= width, (cut, text, width, shown)
        if cell_width(text) <= width:
            assert shown == text
            continue
        if width == 0:
            assert shown == ""
            continue
        assert cell_width(shown) >= width - 1, (cut, text, width, shown)   # a cell short at most (a wide character)
        # what stays is whole characters: a start of the text's clusters, `…`, an end of them
        heads = [0] if cut is cut_start else range(len(parts) + 1)
        tails = [0] if cut is cut_end else range(len(parts) + 1)
        assert any(shown == "".join(parts[:h]) + "…" + "".join(parts[len(parts) - t:])
                   for h in heads for t in tails if h + t < len(parts)), (cut, text, width, shown)
