"""Shell commands sent to edge nodes: config templates and the probe script.

Every value substituted into a template is `shlex.quote`d, and templates may use
only plain `{service}`, `{lines}` and `{file}` fields (no conversions or format
specs, which could undo the quoting). The probe is ONE POSIX sh script per
sample that prints every section the backend needs (load, memory, CPU counters,
uptime, disks, clock, kernel, reboot marker, sshd settings, and the status of
each configured service) between markers carrying a per-pass random nonce, so
that a line printed by a remote program cannot forge a section.
"""

from __future__ import annotations

import secrets
import shlex
import string
from dataclasses import dataclass

from tui.core.errors import InvalidRequest

PROBE_TAG = ": envdeck-probe v1"
SSHD_KEYS = ("permitrootlogin", "passwordauthentication")
_FORMATTER = string.Formatter()


def render(template: str, **values: str | int) -> str:
    """Fill a command template; each value is shell-quoted exactly once."""
    out: list[str] = []
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as exc:
        raise InvalidRequest(f"bad command template {template!r}: {exc}", backend="edge") from None
    for literal, field, spec, conversion in parsed:
        out.append(literal)
        if field is None:
            continue
        if spec or conversion:
            raise InvalidRequest(
                f"command template {template!r}: {{{field}}} must not carry a conversion or format spec",
                backend="edge")
        if field not in values:
            raise InvalidRequest(
                f"command template {template!r} uses {{{field}}}, which this command does not provide",
                backend="edge")
        out.append(shlex.quote(str(values[field])))
    return "".join(out)


def new_nonce() -> str:
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class ProbeRequest:
    """What one probe asks a node for (also what the simulator decodes)."""

    nonce: str
    service_commands: tuple[str, ...] = ()
    cpu_delta: bool = False  # sample /proc/stat twice (first pass: no earlier counters)


def probe_script(req: ProbeRequest) -> str:
    n = req.nonce
    lines = [
        f"{PROBE_TAG} {n} {'delta' if req.cpu_delta else 'single'}",
        "LC_ALL=C; export LC_ALL; PATH=\"$PATH:/usr/sbin:/sbin\"",
        f"m() {{ printf '\\n@@{n} %s\\n' \"$*\"; }}",
        "m loadavg; cat /proc/loadavg",
        "m meminfo; cat /proc/meminfo",
        "m stat; head -n 1 /proc/stat",
    ]
    if req.cpu_delta:
        lines.append("sleep 0.25 2>/dev/null || sleep 1; m stat2; head -n 1 /proc/stat")
    lines += [
        "m uptime; cat /proc/uptime",
        "m df; df -P 2>/dev/null",
        "m date; date +%s",
        "m uname; uname -srm; hostname 2>/dev/null",
        "m reboot; if [ -e /var/run/reboot-required ]; then echo yes; else echo no; fi",
        "m sshd-t; sshd -T 2>/dev/null | grep -Ei '^(permitrootlogin|passwordauthentication) '",
        "for f in /etc/ssh/sshd_config /etc/ssh/sshd_config.d/*.conf; do",
        "  if [ -r \"$f\" ]; then m sshd-file \"$f\"; grep -Ei "
        "'^[[:space:]]*(permitrootlogin|passwordauthentication|match|include)[[:space:]]' \"$f\"; fi",
        "done",
        "svc() { m svc \"$1\"; out=$(sh -c \"$2\" </dev/null 2>&1); rc=$?; "
        "printf '%s\\n' \"$out\"; m rc \"$1\" \"$rc\"; }",
    ]
    for i, command in enumerate(req.service_commands):
        lines.append(f"svc {i} {shlex.quote(command)}")
    lines.append("m end")
    return "\n".join(lines) + "\n"


def probe_command(req: ProbeRequest) -> str:
    """The probe as one command line, run by sh whatever the login shell is."""
    return "exec sh -c " + shlex.quote(probe_script(req))


def decode_probe_command(command: str) -> ProbeRequest | None:
    """The ProbeRequest behind a command made by probe_command (None for any other command)."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    if argv[:3] != ["exec", "sh", "-c"] or len(argv) != 4 or not argv[3].startswith(PROBE_TAG):
        return None
    script = argv[3].splitlines()
    head = script[0][len(PROBE_TAG):].split()
    if len(head) != 2:
        return None
    services: list[str] = []
    for line in script:
        if line.startswith("svc ") and not line.startswith("svc()"):
            parts = shlex.split(line)
            if len(parts) == 3:
                services.append(parts[2])
    return ProbeRequest(nonce=head[0], service_commands=tuple(services), cpu_delta=head[1] == "delta")
