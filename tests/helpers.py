"""Plain helpers shared by the whole suite (no fixtures here: those are in tests/conftest.py
and the plugins it registers)."""

from __future__ import annotations

import gc
import io
import locale
import logging
import os
import signal
import subprocess
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


def envdeck_env(**extra: str) -> dict[str, str]:
    """Environment for running the `envdeck` CLI in a subprocess from a test."""
    env = dict(os.environ)
    env.update(extra)
    return env


def envdeck(*args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess (stdin is not a terminal)."""
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True,
                          cwd=repo_root(), env=envdeck_env(PYTHONPATH=str(repo_root()), **env),
                          timeout=timeout, stdin=subprocess.DEVNULL)


# -- the CLI in this process ------------------------------------------------------------------------
# `envdeck(...)` above costs a fresh interpreter per call (~0.5 s of CPU, mostly imports: pydantic,
# boto3, kubernetes, asyncssh). `envdeck_inproc(...)` calls `tui.cli.main(argv)` in this process
# instead, with the same result shape, for tests that check only the exit code, stdout, stderr and
# what the servers or the store hold afterwards. Where signals, ttys, process exit, environment
# isolation or a second user are the point, keep `envdeck(...)` (the verbs below are refused).

#: verbs that install signal handlers, own the terminal or run until stopped: subprocess only
SUBPROCESS_ONLY_VERBS = frozenset({"agent", "demo", "serve", "tui"})
_OPTIONS_WITH_VALUE = frozenset({"--config", "--state-dir"})
#: loggers `tui.core.logsetup.setup_logging` configures (besides `envdeck`)
_CLI_LOGGERS = ("envdeck", "botocore", "boto3", "urllib3", "asyncssh", "kubernetes", "aiohttp")
_WATCHED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGPIPE", "SIGWINCH")
                         if hasattr(signal, name))


class NotForInProcess(AssertionError):
    """A test asked `envdeck_inproc` for a call it cannot run faithfully: use `envdeck`."""


def _verb(argv: list[str]) -> str | None:
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _OPTIONS_WITH_VALUE:
            skip = True
        elif arg == "--":
            return None
        elif not arg.startswith("-"):
            return arg
    return None


def refuse_unsafe(argv: list[str]) -> None:
    """Raise NotForInProcess for a call that needs a process of its own."""
    if any(arg in ("--help", "-h", "--version") for arg in argv):
        return  # argparse prints and exits: SystemExit is turned into the return code
    verb = _verb(argv)
    if verb is None or verb in SUBPROCESS_ONLY_VERBS:
        raise NotForInProcess(f"envdeck {verb or '(no verb: the TUI)'} must run in a subprocess: use envdeck()")
    if verb == "reconcile" and "--once" not in argv:
        raise NotForInProcess("envdeck reconcile without --once runs until a signal: use envdeck()")
    if verb == "logs" and any(arg in ("--follow", "-f") for arg in argv):
        raise NotForInProcess("envdeck logs --follow runs until a signal: use envdeck()")


class _LastResort(logging.Handler):
    """What a subprocess prints for a WARNING+ record no handler takes (logging.lastResort):
    the message on stderr. Only records of the CLI's own threads (its thread and asyncio's
    executor threads), not of the servers a test runs in this process."""

    def __init__(self, cli_thread: threading.Thread, stream: io.TextIOBase) -> None:
        super().__init__(logging.WARNING)
        self.cli_thread, self.stream = cli_thread, stream

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.cli_thread.ident or (record.threadName or "").startswith("asyncio"):
            self.stream.write(self.format(record) + "\n")


@dataclass
class _LoggerState:
    logger: logging.Logger
    handlers: list[logging.Handler]
    level: int
    propagate: bool
    disabled: bool

    @classmethod
    def of(cls, logger: logging.Logger) -> _LoggerState:
        return cls(logger, list(logger.handlers), logger.level, logger.propagate, logger.disabled)

    def restore(self) -> None:
        for handler in [h for h in self.logger.handlers if h not in self.handlers]:
            self.logger.removeHandler(handler)
            handler.close()  # the file handler setup_logging opened: flushed and closed, as at process exit
        for handler in self.handlers:
            if handler not in self.logger.handlers:
                self.logger.addHandler(handler)
        self.logger.setLevel(self.level)
        self.logger.propagate, self.logger.disabled = self.propagate, self.disabled


@dataclass
class _ProcessState:
    """The process-global state a CLI call may change, put back afterwards."""

    environ: dict[str, str]
    cwd: str
    loggers: list[_LoggerState]
    redaction_extra: Any
    backend_overrides: dict[str, Any]
    provisioner_overrides: dict[str, Any]
    signals: dict[int, Any]
    gc_enabled: bool
    gc_frozen: int

    @classmethod
    def save(cls) -> _ProcessState:
        from backends import registry
        from tui.core import redaction

        loggers = [_LoggerState.of(logging.getLogger(name)) for name in _CLI_LOGGERS]
        return cls(dict(os.environ), os.getcwd(), [_LoggerState.of(logging.getLogger()), *loggers],
                   redaction._extra, dict(registry._overrides), dict(registry._provisioner_overrides),
                   {sig: signal.getsignal(sig) for sig in _WATCHED_SIGNALS}, gc.isenabled(), gc.get_freeze_count())

    def restore(self) -> None:
        from backends import registry
        from tui.core import redaction

        for key in [k for k in os.environ if k not in self.environ]:
            del os.environ[key]
        for key, value in self.environ.items():
            if os.environ.get(key) != value:
                os.environ[key] = value
        os.chdir(self.cwd)
        for state in self.loggers:
            state.restore()
        redaction._extra = self.redaction_extra
        for table, saved in ((registry._overrides, self.backend_overrides),
                             (registry._provisioner_overrides, self.provisioner_overrides)):
            table.clear()
            table.update(saved)
        if threading.current_thread() is threading.main_thread():
            for sig, handler in self.signals.items():
                if signal.getsignal(sig) is not handler and handler is not None:
                    signal.signal(sig, handler)
        (gc.enable if self.gc_enabled else gc.disable)()
        if gc.get_freeze_count() and not self.gc_frozen:
            gc.unfreeze()


_inproc_lock = threading.Lock()  # one in-process CLI call at a time: sys.stdout and os.environ are global


def envdeck_inproc(*args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess:
    """`envdeck(*args, **env)` run by `tui.cli.main` in this process: the same CompletedProcess
    (args, returncode, stdout and stderr as text), stdin not a terminal (/dev/null), the
    environment and cwd of the subprocess for the call only, and the process-global state the
    CLI touches (os.environ, cwd, the envdeck and library loggers, redaction patterns, backend
    registry overrides, signal handlers, gc) restored afterwards. The call runs in a thread of
    its own, so async tests (a running event loop) can use it too. An uncaught exception is a
    traceback on stderr and exit 1, as in a subprocess. Refuses (NotForInProcess) the verbs that
    need a process of their own (SUBPROCESS_ONLY_VERBS, reconcile without --once, logs --follow)."""
    argv = [str(a) for a in args]
    refuse_unsafe(argv)
    from tui.cli import main

    # what a child's sys.stdout/sys.stderr are on a pipe: UTF-8, strict on stdout, backslashreplace on stderr
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace", write_through=True)
    result: dict[str, int] = {}

    def call() -> None:
        try:
            result["code"] = int(main(list(argv)) or 0)
        except SystemExit as exc:  # argparse: usage errors (2), --help (0)
            code = exc.code
            if code is not None and not isinstance(code, int):
                err.write(f"{code}\n")
                code = 1
            result["code"] = int(code or 0)
        except BaseException:  # what the interpreter prints for an uncaught exception
            err.write(traceback.format_exc())
            result["code"] = 1

    with _inproc_lock:
        for name in _CLI_LOGGERS:
            logging.getLogger(name)  # exist before the snapshot, so that their state is put back
        saved = _ProcessState.save()
        thread = threading.Thread(target=call, name="envdeck-inproc", daemon=True)
        last_resort = _LastResort(thread, err)
        with open(os.devnull, encoding="utf-8") as stdin:
            saved_streams = sys.stdin, sys.stdout, sys.stderr
            try:
                _as_a_new_process()
                os.environ.update(envdeck_env(PYTHONPATH=str(repo_root()), **env))
                os.chdir(repo_root())
                logging.getLogger().addHandler(last_resort)
                sys.stdin, sys.stdout, sys.stderr = stdin, out, err
                thread.start()
                thread.join(timeout)
            finally:
                sys.stdin, sys.stdout, sys.stderr = saved_streams
                logging.getLogger().removeHandler(last_resort)
                saved.restore()
    if thread.is_alive():
        raise subprocess.TimeoutExpired(["envdeck", *argv], timeout, _as_read(out), _as_read(err))
    return subprocess.CompletedProcess(["envdeck", *argv], result["code"], _as_read(out), _as_read(err))


def _as_a_new_process() -> None:
    """What a fresh interpreter starts with, where earlier tests of this process may have left
    theirs: no backend or provisioner overrides (a test's in-memory fakes), no operator redaction
    patterns, the CLI's loggers without handlers (put back after the call)."""
    from backends import registry
    from tui.core import redaction

    registry._overrides.clear()
    registry._provisioner_overrides.clear()
    redaction._extra = ()
    for name in _CLI_LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        logger.propagate, logger.disabled = True, False


def _as_read(stream: io.TextIOWrapper) -> str:
    """The bytes written, read back as subprocess.run(text=True) reads a pipe: the locale's
    encoding, universal newlines ("\r\n" and "\r" become "\n")."""
    data = stream.buffer.getvalue()  # type: ignore[attr-defined]
    return io.TextIOWrapper(io.BytesIO(data), encoding=locale.getpreferredencoding(False)).read()
