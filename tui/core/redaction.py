"""Secrets out of everything envdeck keeps: the audit trail, the timeline and its log file.

Two rules, both applied wherever a command line or action parameters are written:

- `redact_params`: the value of a secret-looking parameter name becomes `***`
  (`password`, `db_pass`, `pwd`, `client_key`, `apiKey`, `token`, `auth_header`, ...);
  string values of the others still pass through `redact_text`.
- `redact_text`: secret-looking parts of free text or a shell command line:
  `--password=X` / `--token X`, `mysql -pX` (and the other MySQL/MariaDB tools,
  `sshpass -p X`), `NAME=X` where NAME looks secret (`PGPASSWORD=`, `token=` in a URL),
  `"password": "X"`, `Authorization:` / `Cookie:` / `X-…-Token:` header values,
  `Bearer X`, `user:X@` in URLs and `curl -u user:X`, AWS access key ids (AKIA…/ASIA…)
  and secret keys, well-known API token shapes (`sk_live_…`, `ghp_…`, `xoxb-…`),
  private-key blocks — plus the operator's own patterns (`audit: {redact: [...]}`),
  set once per process with `configure`.

Over-redacting is preferred to leaking: a value that merely looks like a secret is
hidden too. What is redacted is replaced by `***`, never stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

REDACTED = "***"

# Stems that make a name secret wherever they appear in it ("dbPassword", "x_api_key").
_STEMS = re.compile(r"secret|passw|passphrase|passcode|token|credential|private|api[_-]?key|cookie|"
                    r"signature|auth(?!or(?!iz))", re.IGNORECASE)
# Short words that make a name secret only as a whole word of it ("db_pass", "pwd", not "compass").
_WORDS = {"pwd", "pw", "pass", "pin", "otp", "jwt", "sas"}
# "…_key" is secret ("client_key", "access_key", "ssh_key"), except keys that are lookups.
_BENIGN_KEY_PREFIX = {"tag", "sort", "partition", "primary", "hash", "range", "label", "map", "cache",
                      "object", "s3", "idempotency", "foreign", "lookup", "dedup", "group"}


def _words(name: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def is_secret_name(name: object) -> bool:
    """Does a parameter, option, variable or field name look like it holds a secret?"""
    text = str(name)
    if _STEMS.search(text):
        return True
    words = _words(text)
    if any(w in _WORDS for w in words):
        return True
    return len(words) >= 2 and words[-1] in ("key", "keys") and words[-2] not in _BENIGN_KEY_PREFIX


_extra: tuple[re.Pattern[str], ...] = ()


def compile_patterns(patterns: Iterable[str]) -> tuple[re.Pattern[str], ...]:
    """Operator patterns, checked: a ValueError names the first bad one."""
    out = []
    for pattern in patterns:
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"redact pattern {pattern!r} is not a valid regular expression: {exc}") from None
        if compiled.search("") is not None:
            raise ValueError(f"redact pattern {pattern!r} matches the empty string")
        out.append(compiled)
    return tuple(out)


def configure(patterns: Iterable[str]) -> None:
    """Use the operator's extra patterns (config `audit.redact`) in this process."""
    global _extra
    _extra = compile_patterns(patterns)


def _keep_name(match: re.Match[str]) -> str:
    return match.group("name") + match.group("sep") + REDACTED if is_secret_name(match.group("key")) \
        else match.group(0)


_VALUE = r"""(?:'[^']*'|"(?:[^"\\]|\\.)*"|[^\s'"&;|]+)"""
_PRIVATE_KEY = re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)",
                          re.DOTALL)
_HEADER = re.compile(r"(?i)\b((?:proxy-)?authorization|(?:set-)?cookie|x-[a-z0-9-]*(?:token|key|secret|auth)"
                     r"[a-z0-9-]*)(\s*:\s*)([^'\"\r\n]+)")
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)([A-Za-z0-9._~+/=-]+)")
# --password=X, --token X (the value of a spaced option only when it is not another option)
_OPTION = re.compile(r"(?P<name>(?<![\w-])--?(?P<key>[A-Za-z][\w-]*))(?P<sep>=|\s+(?=[^\s-]))" + _VALUE)
# NAME=X (environment assignments, URL query parameters, key=value pairs)
_ASSIGN = re.compile(r"(?P<name>(?<![\w-])(?P<key>[A-Za-z_][\w.]*))(?P<sep>=)" + _VALUE)
# "password": "X" in JSON
_JSON = re.compile(r'(?P<name>"(?P<key>[^"\\]{1,100})")(?P<sep>\s*:\s*)"(?:[^"\\]|\\.)*"')
_MYSQL = re.compile(r"(?i)\b(mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mysqlpump|"
                    r"mariadb[a-z-]*|sshpass)\b([^;&|\n]*)")
_SHORT_P = re.compile(r"(\s-p)()(?![\s-])(\S+)")  # mysql -pX (`-p X` prompts; X is the database)
_SPACED_P = re.compile(r"(\s-p)(\s*)(?!-)(\S+)")  # sshpass -p X
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*):([^@\s/]+)@")
_CURL_USER = re.compile(r"((?:^|\s)(?:-u|--user)\s*[^\s:]+):(\S+)")
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b")
_FORTY = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_TOKENS = re.compile(r"\b(?:(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}|sk-[A-Za-z0-9_-]{16,}|"
                     r"gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}|"
                     r"glpat-[A-Za-z0-9_-]{20,}|AIza[A-Za-z0-9_-]{35})")


def _mysql(match: re.Match[str]) -> str:
    short = _SPACED_P if match.group(1).lower() == "sshpass" else _SHORT_P
    rest = short.sub(lambda m: m.group(1) + m.group(2) + REDACTED, match.group(2))
    return match.group(1) + rest


def _forty(match: re.Match[str]) -> str:
    """A 40-character base64 word with upper and lower case and a digit: an AWS secret key
    (a git sha is lowercase hex and stays)."""
    s = match.group(0)
    if re.search(r"[A-Z]", s) and re.search(r"[a-z]", s) and re.search(r"[0-9]", s):
        return REDACTED
    return s


def _extra_pattern(match: re.Match[str]) -> str:
    if match.re.groups:
        start, end = match.span(1)
        if start >= 0:
            whole_start = match.start()
            text = match.group(0)
            return text[: start - whole_start] + REDACTED + text[end - whole_start:]
    return REDACTED


def redact_text(text: str) -> str:
    """Free text or a command line with its secret-looking parts replaced by `***`."""
    if not text:
        return text
    s = _PRIVATE_KEY.sub(lambda m: f"-----BEGIN {m.group(1)}PRIVATE KEY-----{REDACTED}", text)
    s = _HEADER.sub(lambda m: m.group(1) + m.group(2) + REDACTED, s)
    s = _BEARER.sub(lambda m: m.group(1) + m.group(2) + REDACTED, s)
    s = _MYSQL.sub(_mysql, s)
    s = _OPTION.sub(_keep_name, s)
    s = _ASSIGN.sub(_keep_name, s)
    s = _JSON.sub(lambda m: m.group("name") + m.group("sep") + f'"{REDACTED}"' if is_secret_name(m.group("key"))
                  else m.group(0), s)
    s = _URL_USERINFO.sub(lambda m: f"{m.group(1)}:{REDACTED}@", s)
    s = _CURL_USER.sub(lambda m: f"{m.group(1)}:{REDACTED}", s)
    s = _AWS_KEY_ID.sub(REDACTED, s)
    s = _TOKENS.sub(REDACTED, s)
    s = _FORTY.sub(_forty, s)
    for pattern in _extra:
        s = pattern.sub(_extra_pattern, s)
    return s


def redact_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Parameters as stored: values of secret-looking names become `***`; other string
    values pass through `redact_text` (a `command` parameter is a command line)."""
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        out[str(key)] = REDACTED if is_secret_name(key) else _redact_value(value)
    return out


def _redact_value(value: Any) -> Any:
    if isinstance(value, dict):
        return redact_params(value)
    if isinstance(value, (list, tuple)):
        return [_redact_value(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
