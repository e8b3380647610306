"""The state of one simulated edge node and the commands it understands.

Nothing here runs on the local machine: every answer is computed from the
simulated state. It answers the probe the backend sends (commands.probe_command),
the command templates the simulator configures (`svc-ctl`, `svc-log`,
`file-log`, `node-reboot`) and a few harmless fleet commands (cat /proc/loadavg,
uptime, hostname, uname, date, df, free, echo, true, false, whoami, id).
Randomness comes from a seeded generator and time from an injectable clock,
so a run is reproducible.
"""

from __future__ import annotations

import itertools
import random
import re
import shlex
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from backends.edge.commands import ProbeRequest, decode_probe_command

MEM_TOTAL_KB = 4_028_416
DISK_KB = {"/": 30_832_548, "/var": 61_665_096}
# a command made of plain words (no quotes, escapes, operators, expansions, comments): split
# on blanks, the same argv shlex would give, at a fraction of its cost (1,000-node benches)
_PLAIN_WORDS = re.compile(r"[A-Za-z0-9_./:=,+@%-]+(?:[ \t]+[A-Za-z0-9_./:=,+@%-]+)*[ \t]*")
_LOG_MESSAGES = (
    "GET /api/v1/status 200 {ms}ms",
    "POST /api/v1/telemetry 202 {ms}ms",
    "client {client} connected",
    "client {client} disconnected (keepalive timeout)",
    "published 128 messages to sensors/{client}",
    "cache hit ratio 0.{ms}",
)


@dataclass(slots=True)
class Reply:
    exit_code: int
    stdout: str = ""
    stderr: str = ""


@dataclass(slots=True)
class LogFollow:
    """A never-ending log: `backlog` first, then `next_line()` for every tick."""

    source: str
    backlog: list[str]
    next_line: Callable[[], str]


@dataclass
class SimulatedNode:
    name: str
    seed: int
    services: dict[str, bool]  # name -> active
    clock: Callable[[], float]
    disks: dict[str, float] = field(default_factory=lambda: {"/": 41.0, "/var": 57.0})  # used %
    memory_percent: float = 38.0
    clock_offset_s: float = 0.0
    reboot_required: bool = False
    permit_root_login: str = "no"
    password_auth: str = "no"
    log_files: tuple[str, ...] = ("/var/log/syslog",)
    commands_seen: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed * 1_000_003 + zlib.crc32(self.name.encode()))  # noqa: S311
        self.started = self.clock()
        self.boot_uptime = self.rng.uniform(3, 40) * 86400
        self.load = self.rng.uniform(0.1, 0.8)
        self.cpu_total = self.rng.randrange(10**6, 10**7)
        self.cpu_idle = int(self.cpu_total * 0.8)
        self.log_counter: dict[str, int] = {}

    # -- dispatch ------------------------------------------------------------
    def execute(self, command: str) -> Reply | LogFollow:
        self.commands_seen.append(command)
        if command.startswith("exec sh -c "):  # only probe commands look like this
            probe = decode_probe_command(command)
            if probe is not None:
                return Reply(0, self.probe_output(probe))
        if _PLAIN_WORDS.fullmatch(command):  # no quoting, operators or expansions: words split as sh would
            argv = command.split()
        else:
            try:
                lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
                lexer.whitespace_split = True
                argv = list(lexer)
            except ValueError as exc:
                return Reply(2, stderr=f"sh: syntax error: {exc}\n")
        if not argv:
            return Reply(0)
        handler = getattr(self, "_cmd_" + argv[0].replace("-", "_").replace("/", "_"), None)
        # no shell here: operators (unquoted ; | & < > ( )) and expansions are not simulated
        operators = any(tok and set(tok) <= set(";|&<>()") for tok in argv)
        if handler is None or operators or "$" in command or "`" in command:
            return Reply(127, stderr=f"sh: {argv[0]}: not found (simulated node {self.name}: "
                                     "only simple commands are simulated)\n")
        return handler(argv[1:])

    # -- the probe -----------------------------------------------------------
    def probe_output(self, req: ProbeRequest) -> str:
        self._advance()
        out: list[str] = []

        def section(name: str, *lines: str) -> None:
            out.append(f"\n@@{req.nonce} {name}")
            out.extend(lines)

        section("loadavg", self._loadavg())
        avail = int(MEM_TOTAL_KB * (1 - self.memory_percent / 100))
        section("meminfo", f"MemTotal:       {MEM_TOTAL_KB} kB", f"MemFree:        {avail // 3} kB",
                f"MemAvailable:   {avail} kB")
        section("stat", self._stat_line())
        if req.cpu_delta:
            self._tick_cpu(50)
            section("stat2", self._stat_line())
        section("uptime", f"{self._uptime():.2f} {self._uptime() * 1.7:.2f}")
        section("df", *self._df_lines())
        section("date", str(int(self.clock() + self.clock_offset_s)))
        section("uname", "Linux 6.1.0-28-arm64 aarch64", self.name)
        section("reboot", "yes" if self.reboot_required else "no")
        section("sshd-t", f"permitrootlogin {self.permit_root_login}",
                f"passwordauthentication {self.password_auth}")
        for i, command in enumerate(req.service_commands):
            reply = self.execute(command)
            text = (reply.stdout + reply.stderr).rstrip("\n") if isinstance(reply, Reply) else ""
            section(f"svc {i}", text)
            section(f"rc {i} {reply.exit_code if isinstance(reply, Reply) else 0}")
        section("end")
        return "\n".join(out) + "\n"

    def _advance(self) -> None:
        self.load = max(0.0, self.load + self.rng.uniform(-0.15, 0.15))
        self._tick_cpu(3000)

    def _tick_cpu(self, jiffies: int) -> None:
        busy = self.rng.uniform(0.04, 0.35)
        self.cpu_total += jiffies
        self.cpu_idle += int(jiffies * (1 - busy))

    def _stat_line(self) -> str:
        busy = self.cpu_total - self.cpu_idle
        user, system = busy * 2 // 3, busy - busy * 2 // 3
        return f"cpu  {user} 0 {system} {self.cpu_idle} 0 0 0 0 0 0"

    def _loadavg(self) -> str:
        return f"{self.load:.2f} {self.load * 0.9:.2f} {self.load * 0.8:.2f} 1/212 {4000 + len(self.commands_seen)}"

    def _uptime(self) -> float:
        return self.boot_uptime + (self.clock() - self.started)

    def _df_lines(self) -> list[str]:
        lines = ["Filesystem     1024-blocks      Used Available Capacity Mounted on"]
        for i, (mount, used_pct) in enumerate(sorted(self.disks.items())):
            size = DISK_KB.get(mount, 20_000_000)
            used = int(size * used_pct / 100)
            lines.append(f"/dev/mmcblk0p{i + 1} {size} {used} {size - used} {round(used_pct)}% {mount}")
        return lines

    # -- service templates ---------------------------------------------------
    def _cmd_svc_ctl(self, args: list[str]) -> Reply:
        if len(args) != 2:
            return Reply(2, stderr="usage: svc-ctl status|start|stop|restart SERVICE\n")
        action, service = args
        if service not in self.services:
            if action == "status":
                return Reply(4, "inactive\n")
            return Reply(5, stderr=f"Failed to {action} {service}.service: Unit {service}.service not found.\n")
        if action == "status":
            return Reply(0, "active\n") if self.services[service] else Reply(3, "inactive\n")
        if action in ("start", "restart"):
            self.services[service] = True
            return Reply(0)
        if action == "stop":
            self.services[service] = False
            return Reply(0)
        return Reply(2, stderr=f"svc-ctl: unknown action {action}\n")

    def _cmd_svc_log(self, args: list[str]) -> Reply | LogFollow:
        if len(args) != 2 or not args[1].isdigit():
            return Reply(2, stderr="usage: svc-log SERVICE LINES\n")
        if args[0] not in self.services:
            return Reply(1, stderr=f"-- No entries for {args[0]}.service --\n")
        return self._follow(args[0], int(args[1]))

    def _cmd_file_log(self, args: list[str]) -> Reply | LogFollow:
        if len(args) != 2 or not args[0].isdigit():
            return Reply(2, stderr="usage: file-log LINES FILE\n")
        if args[1] not in self.log_files:
            return Reply(1, stderr=f"tail: cannot open '{args[1]}' for reading: No such file or directory\n")
        return self._follow(args[1], int(args[0]))

    def _cmd_node_reboot(self, args: list[str]) -> Reply:
        self.started, self.boot_uptime, self.reboot_required = self.clock(), 5.0, False
        return Reply(0, f"{self.name}: rebooting (simulated)\n")

    def _follow(self, source: str, backlog: int) -> LogFollow:
        history = self.log_counter.setdefault(source, 20)  # a fresh node already has some lines
        lines = [self._log_line(source, n) for n in range(max(1, history - backlog + 1), history + 1)]
        counter = itertools.count(history + 1)

        def next_line() -> str:
            n = next(counter)
            self.log_counter[source] = max(self.log_counter[source], n)
            return self._log_line(source, n)

        return LogFollow(source, lines, next_line)

    def _log_line(self, source: str, n: int) -> str:
        r = random.Random(zlib.crc32(f"{self.seed}:{self.name}:{source}:{n}".encode()))  # noqa: S311
        message = r.choice(_LOG_MESSAGES).format(ms=r.randrange(2, 400), client=f"sensor-{r.randrange(1, 64):02d}")
        program = source.rsplit("/", 1)[-1]
        return f"{self.name} {program}[{1000 + zlib.crc32(source.encode()) % 30000}]: #{n} {message}"

    # -- harmless fleet commands ---------------------------------------------
    def _cmd_cat(self, args: list[str]) -> Reply:
        files = {"/proc/loadavg": self._loadavg() + "\n", "/etc/hostname": self.name + "\n"}
        missing = [a for a in args if a not in files]
        if missing or not args:
            return Reply(1, stderr="".join(f"cat: {a}: No such file or directory\n" for a in missing))
        return Reply(0, "".join(files[a] for a in args))

    def _cmd_uptime(self, args: list[str]) -> Reply:
        days = int(self._uptime() // 86400)
        return Reply(0, f" up {days} days,  1 user,  load average: {self.load:.2f}, {self.load * 0.9:.2f}, "
                        f"{self.load * 0.8:.2f}\n")

    def _cmd_hostname(self, args: list[str]) -> Reply:
        return Reply(0, self.name + "\n")

    def _cmd_uname(self, args: list[str]) -> Reply:
        full = f"Linux {self.name} 6.1.0-28-arm64 #1 SMP Debian 6.1.119-1 aarch64 GNU/Linux"
        return Reply(0, (full if "-a" in args else "Linux") + "\n")

    def _cmd_date(self, args: list[str]) -> Reply:
        now = int(self.clock() + self.clock_offset_s)
        return Reply(0, f"{now}\n")

    def _cmd_df(self, args: list[str]) -> Reply:
        return Reply(0, "\n".join(self._df_lines()) + "\n")

    def _cmd_free(self, args: list[str]) -> Reply:
        used = int(MEM_TOTAL_KB * self.memory_percent / 100)
        return Reply(0, "               total        used        free\n"
                        f"Mem:      {MEM_TOTAL_KB:>10} {used:>11} {MEM_TOTAL_KB - used:>11}\n")

    def _cmd_echo(self, args: list[str]) -> Reply:
        return Reply(0, " ".join(args) + "\n")

    def _cmd_true(self, args: list[str]) -> Reply:
        return Reply(0)

    def _cmd_false(self, args: list[str]) -> Reply:
        return Reply(1)

    def _cmd_whoami(self, args: list[str]) -> Reply:
        return Reply(0, "envdeck\n")

    def _cmd_id(self, args: list[str]) -> Reply:
        return Reply(0, "uid=1000(envdeck) gid=1000(envdeck) groups=1000(envdeck)\n")


def lines_forever(follow: LogFollow) -> Iterator[str]:
    yield from follow.backlog
    while True:
        yield follow.next_line()
