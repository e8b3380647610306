"""`envdeck agent --log-format text` writes `ts LEVEL logger msg key=value...`: outside text in a
value (an event's message, a reason) must not forge fields for a logfmt parser. Values with a
space, `=`, a quote or a backslash are double-quoted with escapes, as logfmt does; a message
holding `=` or a quote is quoted too. Parsed here by a strict logfmt reader."""

from __future__ import annotations

import io
import logging
import re

from tui.cli.agent_log import LIBRARY_LOGGERS, setup_agent_logging

#: one logfmt token from where the last ended: a quoted string, or a word, optionally `=value`
#: (bare, or quoted with backslash escapes)
TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|([^\s="]+)(?:=(?:"((?:[^"\\]|\\.)*)"|([^\s"]*)))?)')


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), text)


def _fields(line: str) -> list[tuple[str, str]]:
    """The key=value fields of `line`, read left to right as a logfmt parser does (a quoted
    string is one token whatever it holds); fails on a line that is not logfmt."""
    out, pos = [], 0
    while pos < len(line.rstrip()):
        match = TOKEN.match(line, pos)
        assert match and match.end() > pos, f"not logfmt at {pos}: {line[pos:]!r}"
        pos = match.end()
        _quoted, word, quoted_value, bare_value = match.groups()
        if word is not None and (quoted_value is not None or bare_value is not None):
            out.append((word, _unescape(quoted_value) if quoted_value is not None else bare_value))
    return out


def test_event_text_cannot_forge_fields_in_the_text_log():
    stream = io.StringIO()
    setup_agent_logging("text", stream=stream)
    try:
        logging.getLogger("envdeck.agent").warning(
            "%s %s", "fault", 'BackOff env=prod severity=low "x"', extra={"ctx": {
                "env": "staging", "severity": "high", "resource": "kubernetes/Pod/web",
                "message": 'pulling " env=prod severity=low \\ done\nnext line', "count": 3, "note": None,
                "envs": ["a", "b c"]}})
    finally:
        for name in ("envdeck", *LIBRARY_LOGGERS):
            logger = logging.getLogger(name)
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
    (line,) = stream.getvalue().splitlines()
    fields = _fields(line)
    # only the real fields: nothing forged from the message or the reason
    assert [key for key, _ in fields] == ["env", "severity", "resource", "message", "count", "note", "envs"], line
    values = dict(fields)
    assert values["env"] == "staging" and values["severity"] == "high", line
    assert values["message"] == 'pulling " env=prod severity=low \\ done\nnext line', line
    assert values["count"] == "3" and values["note"] == "" and values["envs"] == '["a","b c"]', line
    assert line.split()[1:3] == ["WARNING", "envdeck.agent"]
    assert '"fault BackOff env=prod severity=low \\"x\\""' in line, line  # the message quoted as a value
