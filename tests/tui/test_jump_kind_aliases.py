"""Every short kind the Resources table shows in KIND (`sg`, `ebs`, `pvc`, …) is a word `:`
jumps to, as the table's comment promises."""

from __future__ import annotations

from screens.jump import parse_jump
from tui.widgets.resource_table import SHORT_KIND


def test_every_short_kind_shown_is_a_jump_word():
    for kind, short in SHORT_KIND.items():
        jump = parse_jump(short, ["staging"], {kind})
        assert jump.error is None and jump.kind == kind, (short, jump)


def test_sg_jumps_to_security_groups_even_before_one_is_seen():
    jump = parse_jump("sg", ["staging"], set())
    assert jump.error is None and jump.kind == "security-group", jump
