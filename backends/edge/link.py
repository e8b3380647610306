"""One multiplexed SSH connection per node, opened the way OpenSSH would.

asyncssh reads ~/.ssh/config (or `edge.ssh_config`: Host aliases, HostName,
User, Port, IdentityFile, ProxyJump), uses ssh-agent and the node's
identity_file, and verifies the host key against known_hosts (never None, so
checking cannot be switched off by a `UserKnownHostsFile none`). Every command
and log stream of a node shares its connection as separate channels; keepalives
notice a dead peer; a failed connect backs off exponentially (with jitter) for
the observe loop, while explicit actions try again at once. Every wait has a
deadline (connect_timeout, command_timeout), so one dead node never holds up
the others.

A connect runs as a task the link owns: at most one per node, every caller
waits for that same attempt. observe() waits for a reconnect only a short
budget (`ConnectPending` after it: the attempt goes on in the background and
the next pass picks the connection up); close() cancels it. `on_connected` is
called when a connect succeeds (the backend asks the reconciler for an early pass).
An attempt that fails to reach the node (refused, no answer) is followed, while the
link is in use (from its first connect until close()), by another one of its own after
the node's backoff, so a node that comes back is reconnected without waiting for a pass.

Given a `LoopThread` (the backend's), the connection lives on that loop: connection(),
run(), open_stream() and close() called from any other loop run there (backends/edge/
loop_thread.py), so the caller's loop never parses an SSH packet.
"""

from __future__ import annotations

import asyncio
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import asyncssh

from backends.edge.hostkeys import HostKeyRefusal, PresentedKey, classify, known_hosts_arg
from backends.edge.loop_thread import LoopThread
from tui.core.config_files import run_time_refusal
from tui.core.errors import BackendDenied, BackendUnreachable
from tui.core.model import now_utc

if TYPE_CHECKING:  # a link needs only its node's address (envdeck run connects before the models exist)
    from tui.core.config import EdgeNode

OUTPUT_CAP = 1 << 20  # characters kept per stream of a command (the rest is drained)
_KEEPALIVE_COUNT = 3
_MIN_RETRY_S = 1.0  # a background retry never follows a failure sooner, however small max_backoff is


# AES-GCM first (then asyncssh's own order, so that a server without it still connects):
# asyncssh builds a ChaCha20 cipher object in Python for every packet, AES-GCM one call;
# measured over 1,000 open connections: 20-30 % less CPU per fleet command and observe pass.
_CIPHERS = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
            *(alg.decode() for alg in asyncssh.encryption.get_default_encryption_algs()
              if alg not in (b"aes128-gcm@openssh.com", b"aes256-gcm@openssh.com"))]
_keys_lock = threading.Lock()
#: loaded key pairs per identity file, with the (mtime_ns, size, inode) they were read at
_loaded_keys: dict[str, tuple[tuple[int, int, int], list[asyncssh.SSHKeyPair]]] = {}


def identity_keys(path: str) -> list[asyncssh.SSHKeyPair] | list[str]:
    """The key pairs of an identity file, read once while the file does not change (a fleet
    shares one identity: asyncssh would read and parse it again for every connect, ~0.7 ms
    each). A file that cannot be used here (missing, unreadable, passphrase-protected) is
    handed to asyncssh by name, as before, so that the connect reports what it always did."""
    try:
        st = os.stat(path)
    except OSError:
        return [path]
    stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
    with _keys_lock:
        cached = _loaded_keys.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        keys = asyncssh.load_keypairs([path], ignore_encrypted=True)
    except (OSError, asyncssh.Error, ValueError):
        return [path]
    if not keys:
        return [path]
    with _keys_lock:
        _loaded_keys[path] = (stamp, keys)
    return keys


class CommandTimedOut(BackendUnreachable):
    """The node accepted the command but did not finish it in time. `output` is what arrived
    before the timeout (the first OUTPUT_CAP characters per stream), None when nothing did."""

    def __init__(self, message: str, *, backend: str = "", output: CommandOutput | None = None):
        super().__init__(message, backend=backend)
        self.output = output


class ConnectPending(BackendUnreachable):
    """A connect is still in progress; it goes on in the background (observe() did not wait)."""


@dataclass(frozen=True, slots=True)
class LinkSettings:
    known_hosts_files: tuple[Path, ...]  # the first is where trust-host-key writes
    ssh_config: str | None
    connect_timeout: float
    command_timeout: float
    keepalive: float
    max_backoff: float
    max_channels: int = 6  # short commands in flight per node (sshd MaxSessions is 10)

    @property
    def known_hosts(self) -> Path:
        return self.known_hosts_files[0]


@dataclass(slots=True)
class CommandOutput:
    exit_code: int | None
    stdout: str
    stderr: str
    duration_s: float
    truncated: bool = False


class _EdgeClient(asyncssh.SSHClient):
    def __init__(self, link: NodeLink):
        self._link = link

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        # Called only for a key that known_hosts does not trust: remember it, refuse it.
        self._link._presented = PresentedKey(host, addr, port, key)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._link._connection_lost(self, exc)


class NodeLink:
    def __init__(self, node: EdgeNode, settings: LinkSettings, remote: LoopThread | None = None):
        self.node = node
        self.settings = settings
        self.remote = remote  # the loop the connection lives on (None: the caller's)
        self.reachable: bool | None = None
        self.error: str | None = None
        self.last_seen: datetime | None = None
        self.refusal: HostKeyRefusal | None = None
        self.failures = 0
        self.retry_at = 0.0  # monotonic time before which observe() does not reconnect
        self.attempts = 0  # connect attempts so far, the one in progress included
        self._conn: asyncssh.SSHClientConnection | None = None
        self._client: _EdgeClient | None = None
        self._presented: PresentedKey | None = None
        self._connecting: asyncio.Task[asyncssh.SSHClientConnection] | None = None
        self._retry: asyncio.TimerHandle | None = None  # the next attempt of the link's own
        self._in_use = False  # from the first connection() until close(): failed attempts are retried
        self._channels = asyncio.Semaphore(settings.max_channels)
        #: the log streams open on the connection (open_stream) until their channel closes
        self._streams: dict[asyncssh.SSHClientProcess, asyncio.Task[None]] = {}
        #: called (on the event loop, must not block) each time a connect succeeds
        self.on_connected: Callable[[], None] | None = None
        #: one connect attempt, no retry (`envdeck run`'s early connections, tui/cli/fleet.py): an
        #: attempt that failed is every later caller's answer, the same error, not a second attempt
        self.single_attempt = False

    # -- connecting ----------------------------------------------------------
    def connect_options(self) -> dict[str, object]:
        node, s = self.node, self.settings
        options: dict[str, object] = {
            "known_hosts": known_hosts_arg(s.known_hosts_files),
            "connect_timeout": s.connect_timeout,
            "keepalive_interval": s.keepalive,
            "keepalive_count_max": _KEEPALIVE_COUNT,
            "encryption_algs": _CIPHERS,
        }
        if node.port:
            options["port"] = node.port
        if node.user:
            options["username"] = node.user
        if node.identity_file:
            options["client_keys"] = identity_keys(str(Path(node.identity_file).expanduser()))
            # like OpenSSH: a passphrase-protected identity is used through the agent, not prompted for
            options["ignore_encrypted"] = True
        if s.ssh_config:
            options["config"] = [str(Path(s.ssh_config).expanduser())]
        return options

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    @property
    def connecting(self) -> bool:
        """A connect attempt is in progress."""
        return self._connecting is not None and not self._connecting.done()

    @property
    def retry_scheduled(self) -> bool:
        """The link will try to connect again by itself (after a failed attempt)."""
        return self._retry is not None

    async def connection(self, *, respect_backoff: bool = False,
                         wait: float | None = None) -> asyncssh.SSHClientConnection:
        """The node's connection, connecting when there is none. Only one connect per node
        runs at a time: a caller that finds one in progress waits for that attempt.
        respect_backoff (observe): a node that failed is not tried again before its time.
        wait (observe): wait at most this long for an attempt, then raise ConnectPending
        while it goes on in the background."""
        if self.remote is not None and not self.remote.running_here():
            return await self.remote.call(self.connection(respect_backoff=respect_backoff, wait=wait))
        self._in_use = True
        if self.connected:
            assert self._conn is not None
            return self._conn
        task = self._connecting
        if task is None or task.done():
            failed = task.exception() if self.single_attempt and task is not None and not task.cancelled() else None
            if failed is not None:
                raise failed
            if respect_backoff and time.monotonic() < self.retry_at:
                left = self.retry_at - time.monotonic()
                raise self._error_type()(f"{self.error or 'unreachable'} (next try in {left:.0f}s)",
                                         backend="edge")
            task = self._start_connect()
        if wait is not None:
            await asyncio.wait({task}, timeout=wait)
            if not task.done():
                raise ConnectPending(self.pending_text(), backend="edge")
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and not (current and current.cancelling()):
                # the link was closed under us; we ourselves were not cancelled
                raise BackendUnreachable(f"node {self.node.name}: connection closed", backend="edge") from None
            raise

    def _start_connect(self) -> asyncio.Task[asyncssh.SSHClientConnection]:
        self._cancel_retry()  # this attempt is the next one
        self.attempts += 1
        task = asyncio.get_running_loop().create_task(self._connect(),
                                                      name=f"envdeck-edge-connect-{self.node.name}")
        task.add_done_callback(_retrieve)
        task.add_done_callback(self._attempt_over)
        self._connecting = task
        return task

    def _attempt_over(self, task: asyncio.Task[asyncssh.SSHClientConnection]) -> None:
        """After an attempt that did not reach the node, schedule the next one at the end of
        the node's backoff (`retry_at`, as for observe()). Not after a refusal (host key,
        authentication: trying again changes nothing until someone acts), nor once closed."""
        if task.cancelled() or not self._in_use or self.single_attempt or self.connected or self.connecting:
            return
        exc = task.exception()
        if not isinstance(exc, BackendUnreachable):
            return
        self._cancel_retry()
        delay = max(self.retry_at - time.monotonic(), _MIN_RETRY_S)
        self._retry = asyncio.get_running_loop().call_later(delay, self._retry_now)

    def _retry_now(self) -> None:
        self._retry = None
        if self._in_use and not self.connected and not self.connecting:
            self._start_connect()  # nobody waits for it: its outcome is seen by _retrieve

    def _cancel_retry(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    def pending_text(self) -> str:
        """`node N: connecting (attempt K; last error: …)` for a node whose connect is in progress."""
        last = self.error or ""
        prefix = f"node {self.node.name}: "
        last = last[len(prefix):] if last.startswith(prefix) else last
        return f"{prefix}connecting (attempt {self.attempts}" + (f"; last error: {last})" if last else ")")

    def _refused_files(self) -> str:
        """Why the node cannot log in before any connect: its identity_file does not exist
        (asyncssh says only "No such file or directory", naming no file), or it or a known_hosts
        file is one OpenSSH's rules refuse (a key others can read, a known_hosts others can write, an
        ssh_config or a file it Includes another user can change: tui/core/config_files.py; asked at
        every connect: a fixed file counts at once)."""
        name = self.node.name
        if self.settings.ssh_config:  # its ProxyCommand (its Includes' too) would run as you
            refusal = run_time_refusal(Path(self.settings.ssh_config).expanduser(), "ssh_config")
            if refusal:
                return (f"node {name}: cannot connect: ssh_config {refusal}: refused, whoever can change it "
                        f"decides which commands run as you (the edge section's ssh_config in the config; "
                        f"`envdeck check` shows the line)")
        for known in self.settings.known_hosts_files:
            refusal = run_time_refusal(known, "known_hosts")
            if refusal:
                return (f"node {name}: cannot connect: known_hosts {refusal}: refused, whoever can write it "
                        f"decides which host keys are trusted (the edge section's known_hosts in the config; "
                        f"`envdeck check` shows the line)")
        if not self.node.identity_file:
            return ""
        path = Path(self.node.identity_file).expanduser()
        if not path.exists():
            return (f"node {name}: cannot connect: its identity_file {path} does not exist "
                    f"(edge node {name} in the config; `envdeck check` shows the line)")
        refusal = run_time_refusal(path, "identity_file")
        if refusal:
            return (f"node {name}: cannot connect: its identity_file {refusal}; refused "
                    f"(edge node {name} in the config; `envdeck check` shows the line)")
        return ""

    async def _connect(self) -> asyncssh.SSHClientConnection:
        self._presented = None
        refused = self._refused_files()
        if refused:
            raise self._fail(BackendUnreachable(refused, backend="edge"))
        client = _EdgeClient(self)
        try:
            conn = await asyncio.wait_for(
                asyncssh.connect(self.node.host, client_factory=lambda: client, **self.connect_options()),
                self.settings.connect_timeout * 2 + 1)
        except asyncssh.HostKeyNotVerifiable as exc:
            if self._presented is not None:
                self.refusal = classify(self.node.name, self._presented, self.settings.known_hosts_files)
                raise self._fail(BackendDenied(self.refusal.message(), backend="edge")) from None
            raise self._fail(BackendDenied(f"node {self.node.name}: {exc}", backend="edge")) from None
        except asyncssh.PermissionDenied as exc:
            raise self._fail(BackendDenied(
                f"node {self.node.name}: authentication refused ({exc.reason or exc})", backend="edge")) from None
        except TimeoutError:
            raise self._fail(BackendUnreachable(
                f"node {self.node.name}: no SSH answer within {self.settings.connect_timeout:g}s",
                backend="edge")) from None
        except (OSError, asyncssh.Error, ValueError) as exc:
            raise self._fail(BackendUnreachable(
                f"node {self.node.name}: cannot connect ({_describe(exc)})", backend="edge")) from None
        self._conn, self._client = conn, client
        self.refusal = None
        self._ok()
        if self.on_connected is not None:
            self.on_connected()
        return conn

    def _fail(self, exc: BackendUnreachable | BackendDenied) -> Exception:
        self.reachable = False
        self.error = str(exc)
        self.failures += 1
        delay = min(self.settings.max_backoff, 2.0 ** (self.failures - 1))
        self.retry_at = time.monotonic() + delay * random.uniform(0.75, 1.0)  # noqa: S311 - jitter
        if not isinstance(exc, BackendDenied):
            self.refusal = None
        return exc

    def _error_type(self) -> type[BackendUnreachable] | type[BackendDenied]:
        return BackendDenied if self.refusal is not None else BackendUnreachable

    def _ok(self) -> None:
        self.reachable = True
        self.error = None
        self.failures = 0
        self.retry_at = 0.0
        self.last_seen = now_utc()

    def _connection_lost(self, client: _EdgeClient, exc: Exception | None) -> None:
        if client is self._client:
            self._conn = self._client = None
            self.reachable = False
            if exc is not None:
                self.error = f"node {self.node.name}: connection lost ({_describe(exc)})"

    @property
    def streaming(self) -> bool:
        """A log stream is open on the connection."""
        return bool(self._streams)

    def drop(self, reason: str) -> None:
        """Abandon the connection (a probe got no answer: the peer is probably gone). Its open
        log streams end with `reason` (logstream.py reads it: an abort alone looks like an end)."""
        conn = self._conn
        self._conn = self._client = None
        for proc in list(self._streams):
            proc.channel.set_extra_info(envdeck_lost=reason)
        if conn is not None:
            conn.abort()
        self._fail(BackendUnreachable(reason, backend="edge"))

    def reset_backoff(self) -> None:
        self.retry_at = 0.0

    # -- commands and streams ------------------------------------------------
    async def run(self, command: str, *, timeout: float | None = None, respect_backoff: bool = False,
                  connect_wait: float | None = None, drop_on_timeout: bool = False,
                  limit_channels: bool = True) -> CommandOutput:
        """Run one command on its own channel; output decoded as UTF-8 with replacement.
        respect_backoff and connect_wait: see connection()."""
        if self.remote is not None and not self.remote.running_here():
            return await self.remote.call(self.run(
                command, timeout=timeout, respect_backoff=respect_backoff, connect_wait=connect_wait,
                drop_on_timeout=drop_on_timeout, limit_channels=limit_channels))
        timeout = timeout or self.settings.command_timeout
        conn = await self.connection(respect_backoff=respect_backoff, wait=connect_wait)
        start = time.monotonic()
        proc: asyncssh.SSHClientProcess | None = None
        out, err = _Capture(), _Capture()  # what arrived, kept when the command times out
        try:
            async with asyncio.timeout(timeout):
                if limit_channels:
                    await self._channels.acquire()
                try:
                    proc = await conn.create_process(command, stdin=asyncssh.DEVNULL, encoding="utf-8",
                                                     errors="replace")
                    await asyncio.gather(out.read(proc.stdout), err.read(proc.stderr))
                    await proc.wait_closed()
                finally:
                    if limit_channels:
                        self._channels.release()
        except TimeoutError:
            # Liveness rule: a command that timed out is proof the node is gone only when nothing
            # arrived on its channel and no log stream is open. One whose output arrived answered (a
            # command printing without end): it says so, keeps what arrived and keeps the connection.
            # While a log stream is open on the connection, a silent probe is not proof either (a
            # node busy streaming may be slow to start it): the connection stays, and asyncssh's
            # keepalive (edge.keepalive × 3 unanswered) ends it if the node is really gone; dropping
            # it here would cut a healthy stream (docs/security.md, "Known limits", Edge).
            if proc is not None and proc.returncode is None:
                _hang_up(proc)  # a command we stop waiting for must not run on (e.g. print without end)
            answered = out.kept > 0 or err.kept > 0
            if answered:
                reason = (f"node {self.node.name}: the command was still running after {timeout:g}s "
                          f"(the node answered; stopped, output so far kept)")
            else:
                reason = f"node {self.node.name}: no answer within {timeout:g}s"
                if drop_on_timeout and not self.streaming:
                    self.drop(reason)
            partial = (CommandOutput(None, out.text(), err.text(), time.monotonic() - start,
                                     out.truncated or err.truncated) if answered else None)
            raise CommandTimedOut(reason, backend="edge", output=partial) from None
        except (OSError, asyncssh.Error) as exc:
            if not self.connected:
                self.drop(f"node {self.node.name}: connection lost ({_describe(exc)})")
            raise BackendUnreachable(f"node {self.node.name}: {_describe(exc)}", backend="edge") from None
        except asyncio.CancelledError:  # the caller gave up (Ctrl-C): the command must not run on
            if proc is not None and proc.returncode is None:
                _hang_up(proc)
            raise
        finally:
            if proc is not None and proc.returncode is None:
                proc.close()
        self._ok()
        return CommandOutput(proc.returncode, out.text(), err.text(), time.monotonic() - start,
                             out.truncated or err.truncated)

    async def open_stream(self, command: str) -> asyncssh.SSHClientProcess:
        """A long-running command (a log follow) with stderr merged into stdout; the
        caller closes it, which closes the channel and ends the remote process. The process
        lives on the link's loop (see EdgeBackend.logs for reading it from another one)."""
        if self.remote is not None and not self.remote.running_here():
            return await self.remote.call(self.open_stream(command))
        conn = await self.connection()
        try:
            async with asyncio.timeout(self.settings.command_timeout):
                proc = await conn.create_process(command, stdin=asyncssh.DEVNULL, stderr=asyncssh.STDOUT,
                                                 encoding="utf-8", errors="replace")
        except TimeoutError:
            raise CommandTimedOut(f"node {self.node.name}: no answer within "
                                  f"{self.settings.command_timeout:g}s", backend="edge") from None
        except (OSError, asyncssh.Error) as exc:
            raise BackendUnreachable(f"node {self.node.name}: {_describe(exc)}", backend="edge") from None
        self.last_seen = now_utc()
        self._streams[proc] = asyncio.get_running_loop().create_task(
            self._stream_open(proc), name=f"envdeck-edge-stream-{self.node.name}")
        return proc

    async def _stream_open(self, proc: asyncssh.SSHClientProcess) -> None:
        try:
            await proc.wait_closed()
        except (OSError, asyncssh.Error):
            pass
        finally:
            self._streams.pop(proc, None)

    async def close(self) -> None:
        if self.remote is not None and self.remote.running and not self.remote.running_here():
            await self.remote.call(self.close())
            return
        self._in_use = False
        self._cancel_retry()
        for watch in list(self._streams.values()):
            watch.cancel()
        task, self._connecting = self._connecting, None
        if task is not None and not task.done():
            task.cancel()  # asyncssh closes the half-open socket
            await asyncio.wait({task})
        conn = self._conn
        self._conn = self._client = None
        if conn is not None:
            conn.close()
            try:
                async with asyncio.timeout(5):
                    await conn.wait_closed()
            except (TimeoutError, OSError, asyncssh.Error):
                conn.abort()


class _Capture:
    """One stream of a command read to its end: the first OUTPUT_CAP characters kept, the rest
    drained. What arrived stays readable when the read is cancelled (a timeout)."""

    __slots__ = ("chunks", "kept", "truncated")

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.kept = 0
        self.truncated = False

    async def read(self, stream: asyncssh.SSHReader) -> None:
        while True:
            chunk = await stream.read(65536)
            if not chunk:
                return
            room = OUTPUT_CAP - self.kept
            if len(chunk) > room:
                self.truncated = True
                chunk = chunk[:room]
            if chunk:
                self.chunks.append(chunk)
                self.kept += len(chunk)

    def text(self) -> str:
        return "".join(self.chunks)


def _retrieve(task: asyncio.Task) -> None:
    """Mark a connect task's outcome as seen (its waiters, if any, got it too)."""
    if not task.cancelled():
        task.exception()


def _hang_up(proc: asyncssh.SSHClientProcess) -> None:
    """Stop a command we no longer wait for. Closing its channel alone leaves it running on an
    OpenSSH node (no terminal: sshd closes the command's pipes, sends no SIGHUP, and e.g. a
    `sleep` never notices); the `signal` request (TERM, RFC 4254 6.9) makes OpenSSH >= 7.9
    kill the command's process group. A server without it ignores the request."""
    try:
        proc.terminate()
    except (OSError, asyncssh.Error):  # the channel is closing already
        pass


def _describe(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    return text
