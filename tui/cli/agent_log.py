"""The agent's log: one line per record on stdout, for journald, `kubectl logs` and log
shippers. `json` (the default) is one JSON object per line: `ts` (UTC, ISO 8601 with
milliseconds), `level`, `logger`, `msg`, then the record's context (`env`, `backend`,
`resource`, ...) given as `extra={"ctx": {...}}`, and `exc` for a traceback. `text` is
`ts LEVEL logger msg key=value...` for people, the values quoted as logfmt does (`key="two words"`,
`\"` and `\\` escaped; a message holding `=` or a quote quoted too), so that outside text in a
value cannot forge a field for a log parser.

Secrets never reach it: the message and the traceback pass `tui.core.redaction.redact_text`
(the operator's `audit.redact` patterns included), as the file log does, and the context
`redact_params`, as audit parameters do (a `token` key's value is `***` whatever it is). JSON escapes every control character; the text form is sanitised
(`tui.core.sanitize.clean`), so outside text cannot act on a terminal either way.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from tui.core.redaction import redact_params, redact_text
from tui.core.sanitize import BIDI, clean

_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029" + BIDI + "]")

#: The library loggers that the file log also takes (at WARNING), sent here instead.
LIBRARY_LOGGERS = ("botocore", "boto3", "urllib3", "asyncssh", "kubernetes", "aiohttp")


def _context(record: logging.LogRecord) -> dict[str, Any]:
    """The record's context, redacted as audit parameters are: the value of a secret-looking
    name (`token`, `password`...) is `***` at any depth, every other string `redact_text`."""
    ctx = getattr(record, "ctx", None)
    return redact_params(ctx) if isinstance(ctx, dict) else {}


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"ts": _timestamp(record), "level": record.levelname.lower(),
                                "logger": record.name, "msg": redact_text(record.getMessage())}
        for key, value in _context(record).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exc"] = redact_text(self.formatException(record.exc_info))
        return json_line(line)


def json_line(data: dict[str, Any]) -> str:
    """Compact JSON on one line; non-ASCII text stays readable, and what json.dumps leaves
    as is (DEL, C1 controls, bidi overrides, line separators) is escaped as in `output.json_text`."""
    text = json.dumps(data, default=str, ensure_ascii=False, separators=(",", ":"))
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


_BARE = re.compile(r'[^\s="\\]+')
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def logfmt_value(value: Any) -> str:
    """A context value as logfmt writes it: bare when it is one plain word, else in double quotes
    with backslash, quote, newline, CR and tab escaped, so a value holding ` env=prod` or a quote
    cannot forge a field for a log parser. Lists and mappings as compact JSON; None as ""."""
    if value is None:
        text = ""
    elif isinstance(value, (list, tuple, dict)):
        text = json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))
    else:
        text = str(value)
    if _BARE.fullmatch(text):
        return text
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in text) + '"'


def _message(text: str) -> str:
    """The message stays as written for people unless it holds `=` or a quote (which a logfmt
    parser would read as a field): then it is quoted as a value is."""
    return logfmt_value(text) if "=" in text or '"' in text else text


class TextFormatter(logging.Formatter):
    """`ts LEVEL logger msg key=value...`: the values (and a message holding `=` or a quote)
    logfmt-quoted (`logfmt_value`), the whole line sanitised."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), record.levelname, record.name, _message(redact_text(record.getMessage()))]
        parts += [f"{k}={logfmt_value(v)}" for k, v in _context(record).items()]
        text = clean(" ".join(str(p) for p in parts))
        if record.exc_info:
            text += "\n" + "\n".join(clean(line) for line in redact_text(self.formatException(record.exc_info))
                                     .splitlines())
        return text


def setup_agent_logging(fmt: str, *, stream: TextIO | None = None, level: int = logging.INFO) -> None:
    """Send the `envdeck` loggers (and the libraries' warnings) to `stream` (stdout) in
    `fmt` ("json" or "text"), replacing the file handler `open_session` installed."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger("envdeck")
    root.setLevel(level)
    root.propagate = False
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    for name in LIBRARY_LOGGERS:
        lib = logging.getLogger(name)
        lib.setLevel(logging.WARNING)
        lib.propagate = False
        for old in list(lib.handlers):
            lib.removeHandler(old)
        lib.addHandler(handler)
