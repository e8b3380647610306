"""`envdeck env extend --help` says what extend does (expiry = now + DURATION, never earlier),
and a bad TTL/extend duration suggests durations an environment would use."""

from __future__ import annotations

import pytest

from tui.cli import build_parser
from tui.cli.env_cmd import Usage, parse_ttl


def test_extend_help_says_now_plus_duration(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["env", "extend", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "further" not in out
    assert "now + DURATION" in out


@pytest.mark.parametrize("option", ["--ttl", "DURATION"])
def test_bad_duration_suggests_environment_durations(option):
    with pytest.raises(Usage) as exc:
        parse_ttl(option, "soon")
    text = str(exc.value)
    assert text.startswith(f"{option} 'soon'")
    assert "30m, 4h, 2d" in text and "500ms" not in text
