"""However a shell opened with `s` ends, its audit row ends too (never `pending`).

The envdeck TUI runs on a real pty against an edge node served by a real OpenSSH sshd
(the fixtures of tests/edge); `s` hands the terminal to the system `ssh`. Then:
- the terminal hangs up (the user's SSH connection to the jump host dropped: the pty's
  master side is closed, the kernel sends SIGHUP);
- envdeck alone is sent SIGTERM;
- the node's end of the connection is killed (ssh exits 255 and envdeck asks for Enter),
  and the terminal hangs up while it waits.
Each time envdeck records the shell as failed, with the reason, then ends (by SIGHUP
when its terminal is gone, as before; with status 143 after SIGTERM, the terminal
restored); no `ssh` is left behind. Before, the signal ended envdeck at once and the
row stayed `pending`.
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.edge.lab import EdgeLab
from tests.serve_process import children
from tests.terminal import ENTER_ALT_SCREEN, TerminalSession
from tests.tui.test_shell_on_terminal import press_shell, shell_audit, start_tui, write_config

pytestmark = pytest.mark.slow


def shell_on_node(lab: EdgeLab, tmp_path):
    server = lab.start_sshd("gw")
    lab.trust(server)
    config = write_config(lab, [lab.node("gw-good", server)], tmp_path)
    return server, config, tmp_path / "state"


def prompt_of_the_node(term: TerminalSession) -> None:
    term.expect(ENTER_ALT_SCREEN, what="the TUI entering the alternate screen")
    term.expect_text("1 of 1 resources", "gw-good", "online", timeout=120)
    left = press_shell(term)
    term.expect(b"$ ", since=left, what="the shell prompt of the node")


def hang_up(term: TerminalSession) -> None:
    """Close the pty's master side, as sshd does when the user's connection drops: the
    kernel sends SIGHUP to the TUI (the session leader) and the foreground group."""
    os.close(term.master)
    term.master = os.open(os.devnull, os.O_RDWR)  # for TerminalSession.close()
    term.eof = True


def exited(term: TerminalSession, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while term.proc.poll() is None:
        assert time.monotonic() < deadline, f"envdeck did not exit; still running: {term.descendants()}"
        time.sleep(0.1)
    return term.proc.returncode


def ssh_processes(term: TerminalSession) -> list[list[str]]:
    return [argv for _, argv in term.descendants() if argv and os.path.basename(argv[0]) == "ssh"]


def the_row(config, state) -> dict:
    rows = shell_audit(config, state)
    assert len(rows) == 1, rows
    return rows[0]


def test_terminal_hangs_up_during_the_shell(edge_lab, tmp_path):  # noqa: F811
    _, config, state = shell_on_node(edge_lab, tmp_path)
    with start_tui(config, state) as term:
        prompt_of_the_node(term)
        hang_up(term)
        assert exited(term) == -signal.SIGHUP  # ended by it, as before, but after recording
    row = the_row(config, state)
    assert row["result"] == "failed", row
    assert row["message"].startswith("SIGHUP to envdeck (its terminal hung up) while ssh ran; "), row


def test_sigterm_during_the_shell(edge_lab, tmp_path):  # noqa: F811
    _, config, state = shell_on_node(edge_lab, tmp_path)
    with start_tui(config, state) as term:
        prompt_of_the_node(term)
        assert ssh_processes(term)
        os.kill(term.proc.pid, signal.SIGTERM)  # envdeck alone, not its process group
        assert term.wait_exit(timeout=60) == 128 + signal.SIGTERM
        assert not ssh_processes(term), "the shell was passed the signal and ended"
    row = the_row(config, state)
    assert row["result"] == "failed", row
    assert row["message"].startswith("SIGTERM to envdeck (asked to stop) while ssh ran; "), row


def test_connection_killed_then_terminal_hangs_up_at_the_prompt(edge_lab, tmp_path):  # noqa: F811
    server, config, state = shell_on_node(edge_lab, tmp_path)
    with start_tui(config, state) as term:
        prompt_of_the_node(term)
        at = term.mark()
        # the node's end of this connection dies (sshd's per-connection processes), the listener stays
        doomed, todo = [], list(children(server.proc.pid))
        while todo:
            pid = todo.pop()
            doomed.append(pid)
            todo += children(pid)
        assert doomed
        for pid in doomed:
            os.kill(pid, signal.SIGKILL)
        term.expect(b"ssh exited with 255; press Enter to return to envdeck", since=at,
                    what="envdeck's prompt after ssh failed")
        hang_up(term)
        assert exited(term) == -signal.SIGHUP  # ended by it, as before, but after recording
    row = the_row(config, state)
    assert row["result"] == "failed", row
    assert row["message"] == "SIGHUP to envdeck (its terminal hung up) while ssh ran; ssh exited with 255", row
