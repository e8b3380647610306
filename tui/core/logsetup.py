"""envdeck's own log: a rotated file under the state directory, never the terminal
(a running TUI owns the terminal). Secrets never reach it: callers log ids and
messages, never credentials or Secret values, and every formatted line (tracebacks
included) passes `tui.core.redaction.redact_text` on its way to the file.

The state directory is checked first (`ensure_state_dir`: the user's, not writable by
others), and the file is opened with O_NOFOLLOW: a symlink planted as envdeck.log is
refused instead of followed (envdeck would otherwise chmod and append to its target).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import stat
from pathlib import Path

from tui.core.paths import ensure_state_dir
from tui.core.redaction import redact_text

LOG_NAME = "envdeck.log"


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


class SafeRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A RotatingFileHandler that opens its file without following symlinks, creates it
    0600 and refuses anything but a regular file of the user with one link (a hard link
    planted in a shared directory names a file elsewhere); it chmods only after that."""

    def _open(self):
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_nlink != 1:
                raise OSError(f"{self.baseFilename}: not a regular file of this user with a single link")
            os.fchmod(fd, 0o600)
            return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)
        except BaseException:
            os.close(fd)
            raise


def setup_logging(state_dir: Path, *, level: int = logging.INFO) -> Path | None:
    """Send the `envdeck` loggers to <state_dir>/envdeck.log (5 files × 2 MB). A state
    directory that cannot be trusted raises StateError; a log file that cannot be
    opened (full disk) leaves logging off, and the store reports the problem."""
    root = logging.getLogger("envdeck")
    root.setLevel(level)
    root.propagate = False
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    ensure_state_dir(state_dir)
    path = Path(state_dir).expanduser() / LOG_NAME
    try:
        handler = SafeRotatingFileHandler(path, maxBytes=2_000_000, backupCount=5, encoding="utf-8")
    except OSError:
        root.addHandler(logging.NullHandler())
        return None
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    for noisy in ("botocore", "boto3", "urllib3", "asyncssh", "kubernetes", "aiohttp"):
        lib = logging.getLogger(noisy)
        lib.setLevel(logging.WARNING)
        lib.propagate = False
        for old in [h for h in lib.handlers if isinstance(h, SafeRotatingFileHandler)]:
            lib.removeHandler(old)
        lib.addHandler(handler)
    return path
