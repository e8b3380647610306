"""Ending a simulation child process that stops when its stdin closes (the demo's servers, the
demo's edge nodes): close stdin, wait up to a limit, else kill; then close its stdout."""

from __future__ import annotations

import contextlib
import subprocess


def end_child(proc: subprocess.Popen, timeout_s: float) -> None:
    with contextlib.suppress(OSError):
        proc.stdin.close()  # type: ignore[union-attr]
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    with contextlib.suppress(OSError):
        proc.stdout.close()  # type: ignore[union-attr]
