"""Secrets out of everything envdeck keeps: the audit trail, the timeline and its log file.

Two rules, both applied wherever a command line or action parameters are written:

- `redact_params`: the value of a secret-looking parameter name becomes `***`
  (`password`, `db_pass`, `pwd`, `client_key`, `apiKey`, `token`, `auth_header`, run-together
  `dbpass`/`SMTPPass`/`rootpw`/`userpwd`/`pgpass`, `pswd`, `dsn`, ...; not `bypass`, `compass`);
  a name that is itself secret-looking text (`AKIA…`, `sk_live_…`) becomes `***` too,
  with its value; string values of the others still pass through `redact_text`.
- `redact_text`: secret-looking parts of free text or a shell command line:
  `--password=X` / `--token X`, `mysql -pX` (and the other MySQL/MariaDB tools,
  `sshpass -p X`), `NAME=X` where NAME looks secret (`PGPASSWORD=`, `token=` in a URL),
  `"password": "X"`, `Authorization:` / `Cookie:` / `X-…-Token:` header values,
  `Bearer X`, `user:X@` in URLs and `curl -u user:X`, AWS access key ids (AKIA…/ASIA…)
  and secret keys, well-known API token shapes (`sk_live_…`, `ghp_…`, `xoxb-…`),
  private-key blocks (PEM and PGP), quoted `-p'a b'` values whole, `docker … login -p X`,
  `redis-cli -a X`, `ldapsearch -w X`, `openssl -passin pass:X` / `enc -k X`, URL
  signatures (`X-Amz-Signature=`, `sig=`), bare JWTs, `password: X` in YAML-ish text,
  `echo X | sudo -S` / `| chpasswd` / `| passwd --stdin` / `| kinit` and the same fed by
  `<<< X`, Vault tokens (`hvs.…`, `s.…`), `password = X` (INI/TOML), `{'password': 'X'}`,
  `?password%3DX`, `curl -b X`, `aws ssm put-parameter --value X`, `az login -p X`,
  `mongo -p X`, `ipmitool -P X`, `keytool -storepass X`, `smbclient -U user%X`,
  `lftp -u user,X`, `htpasswd -b FILE USER X`, `npm config set …:_authToken X`, `npm_…`
  tokens, Slack/Discord webhook URLs
  — plus the operator's own patterns (`audit: {redact: [...]}`), set once per process
  with `configure`.

Over-redacting is preferred to leaking: a value that merely looks like a secret is
hidden too. What is redacted is replaced by `***`, never stored.

Workload text (a Kubernetes Event's message, a condition's message, a timeline row's text) is
outside data of any size: `cap_text` keeps at most a few KiB of it, redacted before it is cut
(a text up to WHOLE_REDACT_MAX whole; a longer one its kept piece and REDACT_MARGIN characters
past it, the word at the cut then left out) and marked `… (cut: N characters)`. `redact_text` remembers its last
answers for short texts: the same message passing the store, the feed and the screens is
redacted once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

REDACTED = "***"
TEXT_MAX = 4_096        # characters kept of one workload message (event, condition, status, timeline row)
NAME_MAX = 256          # characters kept of a reason, a label value
REDACT_MARGIN = 1_024   # characters redacted past a cut, so that a secret across it is hidden whole
WHOLE_REDACT_MAX = 16_384  # a longer text is redacted only REDACT_MARGIN past its cut (cap_text)
_CACHED_MAX = TEXT_MAX + REDACT_MARGIN  # texts up to this long are remembered (a capped text, its piece)

# Stems that make a name secret wherever they appear in it ("dbPassword", "x_api_key").
_STEMS = re.compile(r"secret|passw|passphrase|passcode|token|credential|private|api[_-]?key|cookie|"
                    r"signature|auth(?!or(?!iz))|(?:store|key|src|dest|srcstore|deststore|srckey|destkey|new|old)pass(?![a-z])",
                    re.IGNORECASE)
# Short words that make a name secret only as a whole word of it ("db_pass", "pwd", not "compass").
_WORDS = {"pwd", "pw", "pass", "pin", "otp", "jwt", "sas", "sig", "session", "cred", "creds", "salt", "pswd",
          "dsn"}
# A run-together word ending in one of these is a password ("dbpass", "SMTPPass", "rootpw", "userpwd",
# "pgpass"), except the ordinary words below ("bypass", "compass", "lowpass").
_RUN_TOGETHER = re.compile(r"[a-z0-9]{2,}(?:pass|pw|pwd|pswd|dsn)")
_ORDINARY_PASS = {"bypass", "compass", "encompass", "overpass", "underpass", "surpass", "trespass", "flypass",
                  "repass", "multipass", "onepass", "twopass", "singlepass", "firstpass", "secondpass",
                  "highpass", "lowpass", "bandpass", "allpass", "notchpass", "subpass", "renderpass"}
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
    # "DBPass", "SMTPPass" are one word to the camelCase split: look at the plain words too
    plain = [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]
    if any(w in _WORDS or (_RUN_TOGETHER.fullmatch(w) and w not in _ORDINARY_PASS) for w in {*words, *plain}):
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
    _redact_remembered.cache_clear()


def _keep_name(match: re.Match[str]) -> str:
    return match.group("name") + match.group("sep") + REDACTED if is_secret_name(match.group("key")) \
        else match.group(0)


_VALUE = r"""(?:'[^']*'|"(?:[^"\\]|\\.)*"|[^\s'"&;|]+)"""
# PEM (`-----BEGIN RSA PRIVATE KEY-----`) and PGP (`-----BEGIN PGP PRIVATE KEY BLOCK-----`)
_PRIVATE_KEY = re.compile(r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY[A-Z0-9 ]*)-----.*?(?:-----END \1-----|\Z)",
                          re.DOTALL)
_HEADER = re.compile(r"(?i)\b((?:proxy-)?authorization|(?:set-)?cookie|x-[a-z0-9-]*(?:token|key|secret|auth)"
                     r"[a-z0-9-]*)(\s*:\s*)([^'\"\r\n]+)")
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)([A-Za-z0-9._~+/=-]+)")
# --password=X, --token X (the value of a spaced option only when it is not another option)
_OPTION = re.compile(r"(?P<name>(?<![\w-])--?(?P<key>[A-Za-z][\w-]*))(?P<sep>=|\s+(?=[^\s-]))" + _VALUE)
# NAME=X (environment assignments, URL query parameters, key=value pairs)
_ASSIGN = re.compile(r"(?P<name>(?<![\w-])(?P<key>[A-Za-z_][\w.-]*))(?P<sep>=)" + _VALUE)
# `password: X`, `api-key: X` in YAML-ish text: to the end of the line at its start, else one word
_YAML_LINE = re.compile(r"(?m)(?P<name>^[ \t]*(?:-[ \t]+)?(?P<key>[A-Za-z_][\w.-]*))(?P<sep>:[ \t]+)"
                        r"(?=[^\s#])[^\r\n]*")
_COLON = re.compile(r"(?P<name>(?<![\w-])(?P<key>[A-Za-z_][\w.-]*))(?P<sep>:[ \t]+)" + _VALUE)
# "password": "X" in JSON, {'password': 'X'} in a Python repr
_JSON = re.compile(r'(?P<name>"(?P<key>[^"\\]{1,100})")(?P<sep>\s*:\s*)"(?:[^"\\]|\\.)*"')
_REPR = re.compile(r"(?P<name>'(?P<key>[^'\\]{1,100})')(?P<sep>\s*:\s*)(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")
# `password = X` (INI/TOML): to the end of the line at its start, else one word
_INI_LINE = re.compile(r"(?m)(?P<name>^[ \t]*(?P<key>[A-Za-z_][\w.-]*))(?P<sep>[ \t]+=(?!=)[ \t]*|=[ \t]+)(?=[^\s#;])[^\r\n]*")
_SPACED_ASSIGN = re.compile(r"(?P<name>(?<![\w-])(?P<key>[A-Za-z_][\w.-]*))(?P<sep>[ \t]+=(?!=)[ \t]*|=[ \t]+)"
                            + _VALUE)
# `?password%3DX` (URL-encoded key=value): the value to the next (encoded) `&`
_ENCODED_ASSIGN = re.compile(r"(?P<name>(?:(?<![\w%-])|(?<=%26)|(?<=%3[Ff]))(?P<key>[A-Za-z_][\w.-]*))"
                             r"(?P<sep>%3[Dd])(?:%(?!26)[0-9A-Fa-f]{2}|[^\s'\"&;|%<>])+")
_ARG = r"""(?:'[^']*'|"(?:[^"\\]|\\.)*"|[^\s'"|;&<>])+"""  # one shell word, quotes and all
_REST = r"""((?:'[^']*'|"(?:[^"\\]|\\.)*"|[^;&|\n'"])*)"""  # a tool's arguments, to the end of its command
_MYSQL = re.compile(r"(?i)\b(mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlshow|mysqlpump|"
                    r"mariadb[a-z-]*|sshpass)\b" + _REST)
_SHORT_P = re.compile(r"(\s-p)()(?![\s-])" + _ARG)  # mysql -pX, -p'a b' (`-p X` prompts; X is the database)
_SPACED_P = re.compile(r"(\s-p)(\s*)(?!-)" + _ARG)  # sshpass -p X, docker login -p X
# tools whose option (spaced or not) is a password: docker/podman/... login -p, redis-cli -a,
# the OpenLDAP tools -w (ldappasswd also -a old, -s new), openssl enc -k
_LOGIN = re.compile(r"(?i)\b((?:docker|podman|buildah|nerdctl|skopeo|oc|az)\s+login|helm\s+registry\s+login|"
                    r"mongo|mongosh|mongodump|mongorestore|mongoexport|mongoimport|mongostat|mongotop)\b" + _REST)
_IPMI = re.compile(r"\b(ipmitool)\b" + _REST)
_IPMI_OPT = re.compile(r"(\s-P)(\s*)(?!-)" + _ARG)
_CURL = re.compile(r"\b(curl)\b" + _REST)
_CURL_COOKIE = re.compile(r"(\s-b)(\s*)(?!-)" + _ARG)
# `aws ssm put-parameter --value X` (a SecureString's value; every value, to be safe)
_SSM = re.compile(r"\b(aws\s+ssm\s+put-parameter)\b" + _REST)
_SSM_OPT = re.compile(r"(\s--value)(=|\s+)" + _ARG)
# Samba tools `-U user%X`, lftp `-u user,X`: the user kept
_SMB = re.compile(r"\b(smbclient|rpcclient|smbcacls|smbget|smbmap|smbtree|smbstatus|net)\b" + _REST)
_SMB_OPT = re.compile(r"(\s(?:-U|--user(?:name)?)(?:=|\s*)['\"]?[^\s%'\"]*%)()[^\s'\"]+")
_LFTP = re.compile(r"\b(lftp)\b" + _REST)
_LFTP_OPT = re.compile(r"(\s(?:-u|--user)\s+['\"]?[^\s,'\"]*,)()[^\s'\"]+")
_HTPASSWD = re.compile(r"\b(htpasswd)\b" + _REST)
# `npm config set //registry/:_authToken X` (spaced key and value)
_NPM_SET = re.compile(r"\b(npm\s+config\s+set\s+\S*(?:_auth|_password|token)\S*\s+)" + _ARG, re.IGNORECASE)
# Slack (and Discord) webhook URLs: the path is the secret
_WEBHOOK = re.compile(r"(?i)(hooks\.slack\.com/(?:services|workflows|triggers)/|"
                      r"discord(?:app)?\.com/api/webhooks/)[^\s'\"<>?#]+")
# a here-string to a reader of a secret: `sudo -S cmd <<< X`, `chpasswd <<< 'user:X'`, `kinit <<< X`;
# the reader is looked for in the command before the `<<<` (at most 512 characters back: linear time)
_HERESTRING = re.compile(r"(?P<op><<<[ \t]*)(?P<value>" + _ARG + ")")
_SUDO_STDIN = re.compile(r"-[a-zA-Z]*S[a-zA-Z]*|--stdin")


def _reads_a_secret(words: list[str]) -> bool:
    """Does this command read a secret on its standard input?"""
    return ("sudo" in words and any(_SUDO_STDIN.fullmatch(w) for w in words)) or "chpasswd" in words \
        or "kinit" in words or ("passwd" in words and "--stdin" in words) \
        or ("login" in words and "--password-stdin" in words)
_REDIS_A = re.compile(r"\b(redis-cli)\b" + _REST)
_REDIS_OPT = re.compile(r"(\s-a)(\s*)(?!-)" + _ARG)
_LDAP = re.compile(r"\b(ldap(?:search|modify|add|delete|modrdn|passwd|whoami|compare|exop|vc))\b" + _REST)
_LDAP_OPT = re.compile(r"(\s-w)(\s*)(?!-)" + _ARG)
_LDAPPASSWD_OPT = re.compile(r"(\s-[was])(\s*)(?!-)" + _ARG)
_OPENSSL = re.compile(r"\b(openssl)\b" + _REST)
_OPENSSL_K = re.compile(r"(\s-k)(\s+)(?!-)" + _ARG)
# openssl (and others) -passin pass:X / -passout / -pass (env:, file:, fd: name where it is: kept)
_PASS_ARG = re.compile(r"(?<![\w-])(?P<opt>-pass(?:in|out)?\s+)"
                       r"(?:(?P<q>['\"])pass:(?:(?!(?P=q)).)*(?P=q)|pass:(?:'[^']*'|\"[^\"]*\"|[^\s'\"])+)")
# `echo X | sudo -S`, `| passwd --stdin`, `| chpasswd` (user:X, the user kept), `| docker login --password-stdin`
_STDIN_SECRET = re.compile(
    r"\b(?P<echo>(?:echo|printf)(?:\s+-[a-zA-Z]+)*\s+)(?P<value>" + _ARG + r"(?:[ \t]+" + _ARG + r"){0,7})"
    r"(?P<pipe>\s*\|\s*)"
    r"(?P<reader>(?:sudo\s+(?:-\S+\s+)*)?(?:chpasswd\b|kinit\b|passwd\s+--stdin\b|sudo\s+(?:-\S+\s+)*?"
    r"(?:-[a-zA-Z]*S[a-zA-Z]*|--stdin)\b|[\w-]+\s+login\b[^;&|\n]*--password-stdin\b))")
_CURL_USER = re.compile(r"((?:^|\s)(?:-u|--user)\s*[^\s:]+):(?!//)(\S+)")
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b")
# the same lower-cased (a log that lower-cased it): with a digit, so no word of 20 letters is taken
_AWS_KEY_ID_LOWER = re.compile(r"\b(?:akia|asia)(?=[a-z0-9]{0,15}[0-9])[a-z0-9]{16}\b")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
# HashiCorp Vault tokens: hvs./hvb./hvr. and the older s./b. with 24 characters
_VAULT = re.compile(r"(?<![\w.])(?:hv[sbr]\.[A-Za-z0-9_-]{20,}|[sb]\.(?=[a-z0-9]*[A-Z])(?=[A-Za-z]*[0-9])"
                    r"[A-Za-z0-9]{24})(?![\w.])")
_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+")
_FORTY = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_TOKENS = re.compile(r"\b(?:(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}|sk-[A-Za-z0-9_-]{16,}|"
                     r"gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|"
                     r"glpat-[A-Za-z0-9_-]{20,}|AIza[A-Za-z0-9_-]{35}|npm_[A-Za-z0-9]{20,})")


def _hide_option(option: re.Pattern[str]):
    """A tool's command (`tool ARGS`) with the value of its password option hidden."""
    def sub(match: re.Match[str]) -> str:
        return match.group(1) + option.sub(lambda m: m.group(1) + m.group(2) + REDACTED, match.group(2))
    return sub


def _mysql(match: re.Match[str]) -> str:
    return _hide_option(_SPACED_P if match.group(1).lower() == "sshpass" else _SHORT_P)(match)


def _ldap(match: re.Match[str]) -> str:
    return _hide_option(_LDAPPASSWD_OPT if match.group(1) == "ldappasswd" else _LDAP_OPT)(match)


def _stdin_secret(match: re.Match[str]) -> str:
    """`echo X | sudo -S ...`: X hidden; for chpasswd (`user:X`) the user stays."""
    value = match.group("value")
    kept = ""
    if "chpasswd" in match.group("reader") and ":" in value.split()[0]:
        kept = value.split(":", 1)[0] + ":"
    quote = value[0] if value[0] in "'\"" and kept else ""
    return match.group("echo") + kept + REDACTED + quote + match.group("pipe") + match.group("reader")


def _herestring(match: re.Match[str]) -> str:
    """`chpasswd <<< 'user:X'`: X hidden, the user kept (and the quotes)."""
    before = match.string[max(0, match.start() - 512):match.start()]
    command = re.split(r"[;&|\n]", before)[-1]
    words = command.split()
    if not _reads_a_secret(words):
        return match.group(0)
    value = match.group("value")
    quote = value[0] if value[0] in "'\"" else ""
    kept = ""
    if "chpasswd" in words and ":" in value:
        kept = value[len(quote):].split(":", 1)[0] + ":"
    return match.group("op") + quote + kept + REDACTED + quote


_HT_WORD = re.compile(_ARG)


def _htpasswd(match: re.Match[str]) -> str:
    """`htpasswd -b FILE USER X` (batch mode takes the password as the third argument)."""
    rest = match.group(2)
    words = list(_HT_WORD.finditer(rest))
    if not any(re.fullmatch(r"-[a-zA-Z]*b[a-zA-Z]*", w.group(0)) for w in words):
        return match.group(0)
    positional, skip = [], False
    for w in words:
        if skip:
            skip = False
        elif w.group(0).startswith("-"):
            skip = w.group(0) in ("-C", "-r")
        else:
            positional.append(w)
    if len(positional) < 3:
        return match.group(0)
    start, end = positional[2].span()
    return match.group(1) + rest[:start] + REDACTED + rest[end:]


def _url(match: re.Match[str]) -> str:
    """`scheme://user:password@host...` with the password hidden. The userinfo ends at the
    last `@` before the path (as urllib reads it: a password may hold `@`); a password
    holding `/` is found too, unless what follows the `:` is a port (`host:8080/...`)."""
    url = match.group(0)
    scheme, _, rest = url.partition("://")
    end = min([i for i in (rest.find(c) for c in "/?#") if i >= 0], default=len(rest))
    if "@" in rest[:end]:
        userinfo, _, host = rest[:end].rpartition("@")
        tail = host + rest[end:]
    else:
        colon = rest.find(":")
        at = rest.find("@", colon + 1)
        if colon < 0 or at < 0 or colon > end or re.fullmatch(r"[0-9]*", rest[colon + 1:end]):
            return url
        userinfo, tail = rest[:at], rest[at + 1:]
    user, sep, password = userinfo.partition(":")
    if not sep or not password:
        return url
    return f"{scheme}://{user}:{REDACTED}@{tail}"


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
    if len(text) <= _CACHED_MAX:
        return _redact_remembered(text, _extra)
    return _redact(text, _extra)


def cap_text(text: str, limit: int = TEXT_MAX, length: int | None = None) -> str:
    """`text` if it has at most `limit` characters; else its start, redacted before it is cut,
    with `… (cut: N characters)` at its end, N the length of the whole: at most `limit`
    characters in all. A text of at most WHOLE_REDACT_MAX characters is redacted whole before
    the cut (the context that makes a secret a secret may be far past it: `| sudo -S`, a URL's
    `@host`, a JSON string's closing quote); a longer one only REDACT_MARGIN characters past the
    cut, and the last whitespace-delimited word before the cut is left out too (a secret across
    the cut is not shown half). `length`: the whole length when `text` is only the start of it
    (read_piece)."""
    if not isinstance(text, str):
        return text
    whole = len(text) if length is None else length
    if whole <= limit:
        return text
    marker = f"… (cut: {whole} characters)"
    shown = max(0, limit - len(marker))
    if whole <= WHOLE_REDACT_MAX and len(text) == whole:
        return redact_text(text)[:shown] + marker
    redacted = redact_text(text[:limit + REDACT_MARGIN])
    kept = redacted[:shown]
    return kept[:max(kept.rfind(" "), kept.rfind("\n"), kept.rfind("\t"), 0)] + marker


def read_piece(text: str) -> str:
    """What cap_text needs of `text` (with its length): the whole of it up to WHOLE_REDACT_MAX
    characters, else its first TEXT_MAX + REDACT_MARGIN (a reader keeps this, not megabytes)."""
    return text if len(text) <= WHOLE_REDACT_MAX else text[:TEXT_MAX + REDACT_MARGIN]


@lru_cache(maxsize=512)  # at most ~2.5 MiB of ASCII text (plus the answers)
def _redact_remembered(text: str, extra: tuple[re.Pattern[str], ...]) -> str:
    """The answer for `text` with the operator's patterns `extra` (part of the key: set otherwise, another answer)."""
    return _redact(text, extra)


def _redact(text: str, extra: tuple[re.Pattern[str], ...]) -> str:
    s = _PRIVATE_KEY.sub(lambda m: f"-----BEGIN {m.group(1)}-----{REDACTED}", text)
    s = _JWT.sub(REDACTED, s)
    s = _HEADER.sub(lambda m: m.group(1) + m.group(2) + REDACTED, s)
    s = _BEARER.sub(lambda m: m.group(1) + m.group(2) + REDACTED, s)
    s = _STDIN_SECRET.sub(_stdin_secret, s)
    s = _HERESTRING.sub(_herestring, s)
    s = _WEBHOOK.sub(lambda m: m.group(1) + REDACTED, s)
    s = _NPM_SET.sub(lambda m: m.group(1) + REDACTED, s)
    s = _IPMI.sub(_hide_option(_IPMI_OPT), s)
    s = _CURL.sub(_hide_option(_CURL_COOKIE), s)
    s = _SSM.sub(_hide_option(_SSM_OPT), s)
    s = _SMB.sub(_hide_option(_SMB_OPT), s)
    s = _LFTP.sub(_hide_option(_LFTP_OPT), s)
    s = _HTPASSWD.sub(_htpasswd, s)
    s = _MYSQL.sub(_mysql, s)
    s = _LOGIN.sub(_hide_option(_SPACED_P), s)
    s = _REDIS_A.sub(_hide_option(_REDIS_OPT), s)
    s = _LDAP.sub(_ldap, s)
    s = _OPENSSL.sub(_hide_option(_OPENSSL_K), s)
    s = _PASS_ARG.sub(lambda m: m.group("opt") + (m.group("q") or "") + "pass:" + REDACTED + (m.group("q") or ""), s)
    s = _OPTION.sub(_keep_name, s)
    s = _ASSIGN.sub(_keep_name, s)
    s = _ENCODED_ASSIGN.sub(_keep_name, s)
    s = _INI_LINE.sub(_keep_name, s)
    s = _SPACED_ASSIGN.sub(_keep_name, s)
    s = _JSON.sub(lambda m: m.group("name") + m.group("sep") + f'"{REDACTED}"' if is_secret_name(m.group("key"))
                  else m.group(0), s)
    s = _REPR.sub(lambda m: m.group("name") + m.group("sep") + f"'{REDACTED}'" if is_secret_name(m.group("key"))
                  else m.group(0), s)
    s = _YAML_LINE.sub(_keep_name, s)
    s = _COLON.sub(_keep_name, s)
    s = _URL.sub(_url, s)
    s = _CURL_USER.sub(lambda m: f"{m.group(1)}:{REDACTED}", s)
    s = _AWS_KEY_ID.sub(REDACTED, s)
    s = _AWS_KEY_ID_LOWER.sub(REDACTED, s)
    s = _VAULT.sub(REDACTED, s)
    s = _TOKENS.sub(REDACTED, s)
    s = _FORTY.sub(_forty, s)
    for pattern in extra:
        s = pattern.sub(_extra_pattern, s)
    return s


def redact_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Parameters as stored: values of secret-looking names become `***`; other string
    values pass through `redact_text` (a `command` parameter is a command line)."""
    out: dict[str, Any] = {}
    for key, value in (params or {}).items():
        name = str(key)
        shown = redact_text(name)
        if shown != name:  # the name itself looks like a secret (`--param AKIA…=1`): hidden, and its value
            name, number = shown, 1
            while name in out or name in (params or {}):
                number += 1
                name = f"{shown}#{number}"
            out[name] = REDACTED
            continue
        out[name] = REDACTED if is_secret_name(key) else _redact_value(value)
    return out


def _redact_value(value: Any) -> Any:
    if isinstance(value, dict):
        return redact_params(value)
    if isinstance(value, (list, tuple)):
        return [_redact_value(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
