"""Strict host key checking against known_hosts, with refusals that say why.

asyncssh does the verification (hashed hosts, patterns, `[host]:port`, revoked
keys); a client hook only records the key the server presented when asyncssh
found it untrusted, so that the refusal can name its fingerprint and tell an
unknown host from a CHANGED key. There is no trust-on-first-use: only the
admin action `trust-host-key` appends a key, and only for an unknown host.
"""

from __future__ import annotations

import asyncio
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

import asyncssh

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
GLOBAL_KNOWN_HOSTS = Path("/etc/ssh/ssh_known_hosts")
_append_lock = threading.Lock()
_cache_lock = threading.Lock()
#: parsed known_hosts per tuple of paths, with the (path, mtime_ns, size, inode) stamp it was read at
_parsed: dict[tuple[Path, ...], tuple[tuple[tuple[str, int, int, int], ...], asyncssh.SSHKnownHosts]] = {}


def known_hosts_files(configured: str | None) -> tuple[Path, ...]:
    """`edge.known_hosts` alone when set; else OpenSSH's user and global files. The first
    is where trust-host-key writes."""
    if configured:
        return (Path(configured).expanduser(),)
    return (Path(DEFAULT_KNOWN_HOSTS).expanduser(), GLOBAL_KNOWN_HOSTS)


def known_hosts_arg(paths: tuple[Path, ...]) -> asyncssh.SSHKnownHosts | bytes:
    """What asyncssh's `known_hosts=` gets: never None (None would disable checking);
    an empty list of keys when no file exists (every host is then unknown).

    The files are parsed once and kept while none of them changes (size, mtime, inode):
    given file names, asyncssh would read and parse every line again for every connect,
    which is O(nodes) per connect and O(nodes²) for a fleet (1,000 nodes: 1,000 parses of
    1,000 lines). trust-host-key's append changes the stamp, so the next connect re-reads."""
    stamp: list[tuple[str, int, int, int]] = []
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            stamp.append((str(p), st.st_mtime_ns, st.st_size, st.st_ino))
    if not stamp:
        return b""
    key = tuple(stamp)
    with _cache_lock:
        cached = _parsed.get(paths)
        if cached is not None and cached[0] == key:
            return cached[1]
    parsed = asyncssh.read_known_hosts([name for name, *_ in stamp])
    with _cache_lock:
        _parsed[paths] = (key, parsed)
    return parsed


def host_pattern(host: str, port: int | None) -> str:
    return host if port in (None, 22) else f"[{host}]:{port}"


@dataclass(frozen=True, slots=True)
class PresentedKey:
    host: str  # the name asyncssh matched (HostKeyAlias or resolved HostName)
    addr: str
    port: int
    key: asyncssh.SSHKey

    @property
    def fingerprint(self) -> str:
        return self.key.get_fingerprint("sha256")

    @property
    def algorithm(self) -> str:
        return self.key.get_algorithm()


@dataclass(frozen=True, slots=True)
class HostKeyRefusal:
    node: str
    presented: PresentedKey
    known_hosts: Path
    known_fingerprints: tuple[str, ...]  # keys known_hosts has for this host (empty: unknown host)

    @property
    def changed(self) -> bool:
        return bool(self.known_fingerprints)

    @property
    def status(self) -> str:
        return "changed" if self.changed else "unknown"

    def message(self) -> str:
        p = self.presented
        where = host_pattern(p.host, p.port)
        if self.changed:
            return (f"node {self.node}: HOST KEY CHANGED for {where}: it presented {p.algorithm} "
                    f"{p.fingerprint}, but {self.known_hosts} has {', '.join(self.known_fingerprints)}. "
                    "Someone may be intercepting the connection; refusing. If the change is expected, "
                    f"remove the old entry (ssh-keygen -R '{where}' -f {self.known_hosts}) and verify again.")
        missing = "" if self.known_hosts.exists() else f"; {self.known_hosts} does not exist yet"
        return (f"node {self.node}: host key of {where} is not in {self.known_hosts} (unknown host{missing}); "
                f"it presented {p.algorithm} {p.fingerprint}. Verify this fingerprint out of band, then "
                "add it (admin action trust-host-key, or ssh-keyscan into known_hosts).")


def classify(node: str, presented: PresentedKey, paths: tuple[Path, ...]) -> HostKeyRefusal:
    known: tuple[str, ...] = ()
    files = known_hosts_arg(paths)
    if files:
        port = None if presented.port == 22 else presented.port
        trusted = asyncssh.match_known_hosts(files, presented.host, presented.addr, port)[0]
        # one per key: asyncssh returns a key once per pattern it matched (name and address
        # both, a line written twice), and the message names each known key once
        known = tuple(dict.fromkeys(k.get_fingerprint("sha256") for k in trusted))
    return HostKeyRefusal(node, presented, paths[0], known)


async def append_known_host(path: Path, presented: PresentedKey) -> str:
    """Append the presented key for its host to known_hosts; return the line written."""
    keytype, blob = presented.key.export_public_key("openssh").decode().split()[:2]
    line = f"{host_pattern(presented.host, presented.port)} {keytype} {blob}\n"
    await asyncio.to_thread(_append, path, line)
    return line.strip()


def _append(path: Path, line: str) -> None:
    with _append_lock:
        _append_locked(path, line)


def _append_locked(path: Path, line: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(fd, "a+b") as fh:
        fh.seek(0, os.SEEK_END)
        if fh.tell() > 0:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                line = "\n" + line
        fh.write(line.encode())
