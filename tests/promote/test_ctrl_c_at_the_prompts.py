"""Ctrl-C at a CLI prompt ends the command at once, 130 and one line, never a traceback, even
when the SIGINT is not the kind input() notices (tui/cli/output.py `_answer`).

input() runs Python's SIGINT handler only when its read() is interrupted. A SIGINT taken by
another thread of the process (the store's aiosqlite thread) or one that comes between the
prompt being written and the read() beginning (a loaded machine) interrupted nothing: the
handler stayed pending and the prompt waited for good. The tests aim the signal at a thread
other than the main one (tgkill), which reproduces that every time, and also type ^C on the
terminal as a person does. `promote --apply` asks after its session is open (store thread,
emulator connection); `env destroy NAME` asks before anything (the pair's config serves it)."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

from tests.helpers import repo_root
from tests.promote.conftest import Pair
from tests.terminal import TerminalSession

INTERRUPTED = "envdeck: interrupted (Ctrl-C)"


def _other_thread(pid: int) -> int:
    """The id of a thread of `pid` that is not its main thread (the store's aiosqlite thread)."""
    others = [int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid]
    assert others, f"envdeck ({pid}) has no thread besides its main one at the prompt"
    return others[0]


def _tgkill(pid: int, tid: int, signum: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.tgkill(pid, tid, signum) == 0, os.strerror(ctypes.get_errno())


def _at_prompt(pair: Pair, prompt: bytes, *args: str, to_thread: bool) -> tuple[int, str]:
    with TerminalSession([sys.executable, "-m", "tui.cli", *args], env=pair.cli_env(), cwd=repo_root()) as term:
        term.expect(prompt, timeout=90)
        if to_thread:
            _tgkill(term.proc.pid, _other_thread(term.proc.pid), signal.SIGINT)
        else:
            term.send(b"\x03")
        code = term.wait_exit(timeout=60)
        return code, term.out.decode(errors="replace")


def test_ctrl_c_at_the_promote_prompt_ends_it_even_when_another_thread_takes_the_signal(pair: Pair):
    pair.emu.create_deployment(pair.s, "web", replicas=1, image="web:2.0")
    pair.emu.create_deployment(pair.p, "web", replicas=1, image="web:1.0")
    for to_thread in (True, False):
        code, out = _at_prompt(pair, b"[y/N]", "promote", "staging", "prod", "--apply", to_thread=to_thread)
        assert code == 130, out
        assert out.count(INTERRUPTED) == 1 and "Traceback" not in out, out
    assert pair.images(pair.p) == {"web": "web:1.0"}, "nothing was promoted"
    assert [r["action"] for r in pair.audit_rows() if r["action"].startswith("promote")] == []


def test_ctrl_c_at_the_destroy_prompt_ends_it_even_when_another_thread_takes_the_signal(pair: Pair):
    for to_thread in (False, True):
        if to_thread:  # the prompt comes before any thread: one of the interpreter's own is made for the signal
            code, out = _destroy_with_a_thread(pair)
        else:
            code, out = _at_prompt(pair, b"Type its name to confirm: ", "env", "destroy", "staging",
                                   to_thread=False)
        assert code == 130, out
        assert out.count(INTERRUPTED) == 1 and "Traceback" not in out, out


def test_ctrl_c_at_a_prompt_ends_the_process_though_a_thread_is_left_running(pair: Pair):
    """A non-daemon thread still busy (a store never closed, a thread pool's blocking call)
    would keep the interrupted process alive: Python's exit joins it, for as long as it takes."""
    code, out = _destroy_with_a_thread(pair, daemon=False)
    assert code == 130, out
    assert out.count(INTERRUPTED) == 1 and "Traceback" not in out, out


def _destroy_with_a_thread(pair: Pair, *, daemon: bool = True) -> tuple[int, str]:
    """`env destroy` asks before it opens anything, so its process has one thread at the prompt:
    a thread that sleeps (600 s) is started in it first."""
    code = (f"import sys, threading, time; threading.Thread(target=time.sleep, args=(600,), daemon={daemon}).start();"
            "from tui.cli import run; sys.argv = ['envdeck', 'env', 'destroy', 'staging']; run()")
    with TerminalSession([sys.executable, "-c", code], env=pair.cli_env(), cwd=repo_root()) as term:
        term.expect(b"Type its name to confirm: ", timeout=90)
        _tgkill(term.proc.pid, _other_thread(term.proc.pid), signal.SIGINT)
        exit_code = term.wait_exit(timeout=60)
        return exit_code, term.out.decode(errors="replace")
