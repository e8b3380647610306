"""Which process owns a `pending` audit row, and whether that process still runs.

A row carries its owner: the host name, the pid namespace, the pid and the process start
time. The start time is the boot id plus field 22 of /proc/PID/stat (clock ticks since
boot), so a pid reused by another process, or the same pid after a reboot, is not mistaken
for the owner. The pid namespace (`pid:[INODE]`, the link /proc/self/ns/pid) says which
processes that pid number names: inside a container or `unshare -p` the same number is
another process. Another process marks a `pending` row `interrupted` only when its owner
is known to be gone; a row owned on another host or in another pid namespace is left
alone (nothing here can tell whether that process runs).

When /proc is missing, or is the /proc of another pid namespace (`unshare -p -f` without
`--mount-proc`: /proc/self is not our pid, and /proc/1 is the host's init), nothing /proc
says about pids can be trusted: the owner is recorded with the namespace `undecidable`,
such rows are never declared gone, and a process in that state declares no row gone.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class ProcessOwner:
    host: str
    pid: int
    start: str
    pidns: str


def _boot_id() -> str:
    try:
        return (_PROC / "sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown-boot"


def process_start(pid: int) -> str | None:
    """`BOOT_ID:STARTTIME` of a running process; None when there is no such process or it
    has exited (a zombie still has a /proc entry but will never finish its row)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # field 2 (comm) is in parentheses and may hold spaces or ')': split after the last ')'
    fields = stat[stat.rfind(")") + 2:].split()
    if len(fields) < 20 or fields[0] in ("Z", "X", "x"):
        return None
    return f"{_boot_id()}:{fields[19]}"  # fields[0] is field 3 (state), so field 22 is fields[19]


UNDECIDABLE = "undecidable"


def pid_namespace() -> str:
    """This process's pid namespace, `pid:[INODE]`; UNDECIDABLE when /proc is missing or
    belongs to another pid namespace (/proc/self is not this process)."""
    try:
        if os.readlink(_PROC / "self") != str(os.getpid()):
            return UNDECIDABLE
        return os.readlink(_PROC / "self/ns/pid")
    except OSError:
        return UNDECIDABLE


_cached: tuple[int, ProcessOwner] | None = None


def this_process() -> ProcessOwner:
    """The owner written into the rows this process begins (recomputed after a fork)."""
    global _cached
    pid = os.getpid()
    if _cached is None or _cached[0] != pid:
        _cached = (pid, ProcessOwner(socket.gethostname(), pid, process_start(pid) or f"{_boot_id()}:?",
                                     pid_namespace()))
    return _cached[1]


def owner_gone(host: str | None, pid: int | None, start: str | None, pidns: str | None = None) -> bool:
    """True when the process that began a row has surely ended. Rows written before rows
    carried an owner (pid NULL) count as gone, as they always did; a row of another host,
    or of another pid namespace (its pid names another process here, or none), is never
    declared gone from here. A row written before the namespace was recorded (pidns NULL)
    is judged by its pid, as before. A row whose owner was undecidable, or any row when
    this process's /proc is undecidable, is never declared gone."""
    if pid is None:
        return True
    if host != socket.gethostname():
        return False
    here = pid_namespace()
    if here == UNDECIDABLE or pidns == UNDECIDABLE:
        return False
    if pidns is not None and pidns != here:
        return False
    return process_start(int(pid)) != start
