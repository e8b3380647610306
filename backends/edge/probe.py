"""Parse the output of one probe (see commands.probe_script) into a HostSample.

Parsing is tolerant: a section that is missing or unreadable is recorded in
`problems` and leaves its fields None, so one odd node (busybox df, no
MemAvailable, no sshd) never hides the rest of its sample.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from backends.edge.commands import SSHD_KEYS

_PSEUDO_FS = {"tmpfs", "devtmpfs", "udev", "shm", "none", "proc", "sysfs", "cgroup", "cgroup2"}
_PSEUDO_MOUNTS = ("/dev", "/proc", "/sys", "/run")
_MIN_FS_KB = 1024  # smaller file systems (sentinels, bind stubs) are not worth a disk alarm


@dataclass(slots=True)
class CpuCounters:
    total: int
    idle: int  # idle + iowait


@dataclass(slots=True)
class ServiceStatus:
    exit_code: int | None
    output: str

    @property
    def active(self) -> bool:
        return self.exit_code == 0

    @property
    def first_line(self) -> str:
        return next((ln.strip() for ln in self.output.splitlines() if ln.strip()), "")


@dataclass(slots=True)
class HostSample:
    load1: float | None = None
    load5: float | None = None
    load15: float | None = None
    memory_percent: float | None = None
    memory_total_kb: int | None = None
    cpu: CpuCounters | None = None
    cpu_next: CpuCounters | None = None  # second in-command reading, when asked for
    uptime_s: float | None = None
    disks: dict[str, float] = field(default_factory=dict)  # mount -> used %
    remote_time: int | None = None
    kernel: str = ""
    hostname: str = ""
    reboot_required: bool | None = None
    sshd: dict[str, str] = field(default_factory=dict)  # permitrootlogin/passwordauthentication
    sshd_source: str = ""  # "sshd -T" | "config files" | ""
    services: dict[int, ServiceStatus] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    complete: bool = False  # the end marker arrived


def split_sections(output: str, nonce: str) -> list[tuple[str, list[str], list[str]]]:
    """(name, args, lines) for each marked section, in order."""
    marker = f"@@{nonce} "
    sections: list[tuple[str, list[str], list[str]]] = []
    current: list[str] | None = None
    for line in output.split("\n"):
        if line.startswith(marker):
            if current is not None and current and current[-1] == "":
                current.pop()
            words = line[len(marker):].split(" ")
            current = []
            sections.append((words[0], words[1:], current))
        elif current is not None:
            current.append(line)
    if current and current[-1] == "":
        current.pop()
    return sections


def parse_probe(output: str, nonce: str) -> HostSample:
    s = HostSample()
    file_lines: list[tuple[str, list[str]]] = []
    pending_services: dict[int, str] = {}
    for name, args, lines in split_sections(output, nonce):
        try:
            if name == "loadavg":
                s.load1, s.load5, s.load15 = (float(x) for x in lines[0].split()[:3])
            elif name == "meminfo":
                s.memory_total_kb, s.memory_percent = _memory(lines)
            elif name == "stat":
                s.cpu = _cpu(lines)
            elif name == "stat2":
                s.cpu_next = _cpu(lines)
            elif name == "uptime":
                s.uptime_s = float(lines[0].split()[0])
            elif name == "df":
                s.disks = _disks(lines)
            elif name == "date":
                s.remote_time = int(lines[0].strip())
            elif name == "uname":
                s.kernel = lines[0].strip() if lines else ""
                s.hostname = lines[1].strip() if len(lines) > 1 else ""
            elif name == "reboot":
                s.reboot_required = lines[0].strip() == "yes"
            elif name == "sshd-t":
                s.sshd = _sshd_t(lines)
                if s.sshd:
                    s.sshd_source = "sshd -T"
            elif name == "sshd-file":
                file_lines.append((" ".join(args), lines))
            elif name == "svc":
                pending_services[int(args[0])] = "\n".join(lines)
            elif name == "rc":
                idx, rc = int(args[0]), int(args[1])
                s.services[idx] = ServiceStatus(rc, pending_services.pop(idx, ""))
            elif name == "end":
                s.complete = True
        except (IndexError, ValueError) as exc:
            s.problems.append(f"{name}: unreadable ({exc.__class__.__name__}: {exc})")
    for idx, text in pending_services.items():  # started but no exit code
        s.services[idx] = ServiceStatus(None, text)
    if not s.sshd and file_lines:
        s.sshd = _sshd_files(file_lines)
        if s.sshd:
            s.sshd_source = "config files"
    if s.sshd.get("permitrootlogin") == "without-password":  # the old name sshd -T still prints
        s.sshd["permitrootlogin"] = "prohibit-password"
    for label, value in (("loadavg", s.load1), ("meminfo", s.memory_percent), ("stat", s.cpu),
                         ("uptime", s.uptime_s)):
        if value is None and not any(p.startswith(label) for p in s.problems):
            s.problems.append(f"{label}: missing")
    return s


def cpu_percent(before: CpuCounters | None, after: CpuCounters | None) -> float | None:
    if before is None or after is None:
        return None
    total = after.total - before.total
    idle = after.idle - before.idle
    if total <= 0 or idle < 0 or idle > total:
        return None  # counters went backwards (reboot) or no time passed
    return round(100.0 * (total - idle) / total, 1)


def _memory(lines: list[str]) -> tuple[int, float]:
    info: dict[str, int] = {}
    for line in lines:
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            info[key.strip()] = int(parts[0])
    total = info["MemTotal"]
    available = info.get("MemAvailable")
    if available is None:  # kernels before 3.14
        available = info.get("MemFree", 0) + info.get("Buffers", 0) + info.get("Cached", 0)
    if total <= 0:
        raise ValueError("MemTotal is 0")
    return total, round(100.0 * (total - available) / total, 1)


def _cpu(lines: list[str]) -> CpuCounters:
    parts = lines[0].split()
    if parts[0] != "cpu":
        raise ValueError(f"not a cpu line: {lines[0][:40]!r}")
    values = [int(x) for x in parts[1:]]
    # user nice system idle iowait irq softirq steal guest guest_nice; guests are already in user/nice
    total = sum(values[:8])
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return CpuCounters(total, idle)


def _disks(lines: list[str]) -> dict[str, float]:
    disks: dict[str, float] = {}
    for line in lines[1:]:
        parts = line.split()
        if len(parts) < 6 or not parts[1].isdigit():
            continue
        source, total, used, avail = parts[0], int(parts[1]), parts[2], parts[3]
        mount = " ".join(parts[5:])
        if source in _PSEUDO_FS or total < _MIN_FS_KB:
            continue
        if any(mount == p or mount.startswith(p + "/") for p in _PSEUDO_MOUNTS):
            continue
        if used.isdigit() and avail.isdigit() and int(used) + int(avail) > 0:
            disks[mount] = round(100.0 * int(used) / (int(used) + int(avail)), 1)
        elif parts[4].rstrip("%").isdigit():
            disks[mount] = float(parts[4].rstrip("%"))
    return disks


def _sshd_t(lines: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in lines:
        parts = line.lower().split()
        if len(parts) >= 2 and parts[0] in SSHD_KEYS:
            found.setdefault(parts[0], parts[1])
    return found


_DIRECTIVE = re.compile(r"^\s*(\w+)\s*=?\s*(\S+)", re.ASCII)


def _sshd_files(files: list[tuple[str, list[str]]]) -> dict[str, str]:
    """sshd's first-value-wins over /etc/ssh/sshd_config, with `Include` lines
    expanded in place to the sshd_config.d/*.conf files (sorted, as sshd does);
    settings inside `Match` blocks are conditional and ignored."""
    main = next((lines for path, lines in files if path == "/etc/ssh/sshd_config"), [])
    dropins = [(p, lines) for p, lines in files if p != "/etc/ssh/sshd_config"]
    ordered: list[str] = []
    for line in main:
        m = _DIRECTIVE.match(line)
        if m and m.group(1).lower() == "include":
            for _, lines in dropins:
                ordered.extend(_outside_match(lines))
        else:
            ordered.append(line)
        if m and m.group(1).lower() == "match":
            break
    found: dict[str, str] = {}
    for line in ordered:
        m = _DIRECTIVE.match(line)
        if m and m.group(1).lower() in SSHD_KEYS:
            found.setdefault(m.group(1).lower(), m.group(2).lower())
    # OpenSSH's compiled-in defaults for what the files leave unset
    found.setdefault("permitrootlogin", "prohibit-password")
    found.setdefault("passwordauthentication", "yes")
    return found


def _outside_match(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        m = _DIRECTIVE.match(line)
        if m and m.group(1).lower() == "match":
            break
        out.append(line)
    return out
