"""envdeck's own log: a rotated file under the state directory, never the terminal
(a running TUI owns the terminal). Secrets never reach it: callers log ids and
messages, never credentials or Secret values."""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

LOG_NAME = "envdeck.log"


def setup_logging(state_dir: Path, *, level: int = logging.INFO) -> Path | None:
    """Send the `envdeck` loggers to <state_dir>/envdeck.log (5 files × 2 MB)."""
    root = logging.getLogger("envdeck")
    root.setLevel(level)
    root.propagate = False
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    try:
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = state_dir / LOG_NAME
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=5, encoding="utf-8")
        os.chmod(path, 0o600)
    except OSError:
        root.addHandler(logging.NullHandler())
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    for noisy in ("botocore", "boto3", "urllib3", "asyncssh", "kubernetes", "aiohttp"):
        lib = logging.getLogger(noisy)
        lib.setLevel(logging.WARNING)
        lib.propagate = False
        lib.addHandler(handler)
    return path
