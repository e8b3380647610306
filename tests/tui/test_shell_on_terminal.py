"""The `s` key on a real terminal: the envdeck TUI (the `envdeck tui` command) runs on
a pty, against edge nodes served by a real OpenSSH sshd on 127.0.0.1 (the fixtures of
tests/edge). Pressing `s` must hand the terminal to the system `ssh` (leaving the
alternate screen), with strict host key checking against the configured known_hosts;
the shell on the node answers what we type; after `exit` the TUI takes the terminal
back, redraws, and its keys work. The audit log records the shell with who, from
where, and how it ended. A node whose host key is unknown or changed is refused by
ssh, a node that never answers can be abandoned with ctrl+c, a missing `ssh` binary
is reported: in each case the TUI comes back and records the failure.

Nothing here is mocked; the terminal is read with deadlines (tests/terminal.py).
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.edge.lab import EdgeLab
from tests.edge.sshd import Sshd, keygen
from tests.helpers import repo_root
from tests.terminal import ENTER_ALT_SCREEN, LEAVE_ALT_SCREEN, TerminalSession
from tui.core.config import EdgeNode
from tui.core.identity import current_user

pytestmark = pytest.mark.slow

ENV = "lab"


# -- the setting -------------------------------------------------------------------

def write_config(lab: EdgeLab, nodes: list[EdgeNode], folder: Path, **edge_options) -> Path:
    """An environment whose only backend is the lab's edge nodes; this user is an
    operator there (the role a shell needs), not an admin."""
    edge = lab.config(nodes, **{"connect_timeout": 5, **edge_options}).model_dump(mode="json", exclude_none=True)
    path = folder / "envdeck.yaml"
    path.write_text(yaml.safe_dump({"environments": {ENV: {
        "access": {"operator": [current_user()]}, "edge": edge}}}))
    path.chmod(0o600)
    return path


def tui_env(folder: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor", PYTHONPATH=str(repo_root()),
               TEXTUAL_ANIMATIONS="none", XDG_CONFIG_HOME=str(folder / "xdg-config"),
               XDG_STATE_HOME=str(folder / "xdg-state"))
    env.pop("TEXTUAL", None)
    env.pop("ENVDECK_CONFIG", None)
    env.update(extra)
    return env


def start_tui(config: Path, state: Path, **env: str) -> TerminalSession:
    argv = [sys.executable, "-m", "tui.cli", "--config", str(config), "--state-dir", str(state), "tui",
            "--env", ENV]
    return TerminalSession(argv, env=tui_env(config.parent, **env), cwd=config.parent)


def shell_audit(config: Path, state: Path) -> list[dict]:
    """The shell rows of the audit trail, through `envdeck audit --json`."""
    run = subprocess.run([sys.executable, "-m", "tui.cli", "--config", str(config), "--state-dir", str(state),
                          "audit", "--json"], capture_output=True, text=True, timeout=120,
                         env=tui_env(config.parent), cwd=config.parent)
    assert run.returncode == 0, run.stderr
    return [e for e in json.loads(run.stdout)["entries"] if e["action"] == "shell"]


def open_detail(term: TerminalSession, node: str) -> None:
    """enter on the first row (the node listed first) opens its detail screen."""
    at = term.mark()
    term.send(b"\r")
    term.expect_text(f"{ENV} › node {node}", since=at)


def press_shell(term: TerminalSession) -> int:
    """`s`; the position where the app left the alternate screen (it suspended)."""
    at = term.mark()
    term.send(b"s")
    return term.expect(LEAVE_ALT_SCREEN, since=at, what="the app leaving the alternate screen (suspending)")


def back_in_the_tui(term: TerminalSession, since: int) -> int:
    """The app re-entered the alternate screen after the shell; position past it."""
    return term.expect(ENTER_ALT_SCREEN, since=since, what="the app re-entering the alternate screen")


def keys_work_then_quit(term: TerminalSession) -> None:
    """The TUI reads keys again: views switch, and `q` quits cleanly."""
    at = term.mark()
    term.send(b"2")
    term.expect_text(f"{ENV} › Logs", since=at)
    at = term.mark()
    term.send(b"1")
    term.expect_text(f"{ENV} › Resources", since=at)
    at = term.mark()
    term.send(b"q")
    assert term.wait_exit(timeout=60) == 0
    assert LEAVE_ALT_SCREEN in term.out[at:], "the terminal was not given back on quitting"


def no_ssh_left(term: TerminalSession) -> None:
    running = [argv for _, argv in term.descendants() if argv and os.path.basename(argv[0]) == "ssh"]
    assert not running, running


def last_pass(state: Path) -> str | None:
    """When the reconciler last finished a pass over the edge nodes (the store, read-only)."""
    db = sqlite3.connect(f"file:{state / 'envdeck.db'}?mode=ro", uri=True, timeout=30)
    try:
        row = db.execute("SELECT last_pass FROM backend_state WHERE env = ? AND backend = 'edge'", (ENV,)).fetchone()
    except sqlite3.OperationalError:  # not created yet
        return None
    finally:
        db.close()
    return row[0] if row else None


def known_hosts_line(server: Sshd, public_key: Path) -> str:
    return f"[{server.address}]:{server.port} {' '.join(public_key.read_text().split()[:2])}\n"


# -- the tests -----------------------------------------------------------------------

def test_shell_on_a_node_hands_the_terminal_to_ssh_and_takes_it_back(edge_lab, tmp_path):  # noqa: F811
    server = edge_lab.start_sshd("gw")
    edge_lab.trust(server)
    config = write_config(edge_lab, [edge_lab.node("gw-good", server)], tmp_path, interval="1s")
    state = tmp_path / "state"
    a, b = random.randrange(10_000, 99_999), random.randrange(10_000, 99_999)

    with start_tui(config, state) as term:
        term.expect(ENTER_ALT_SCREEN, what="the TUI entering the alternate screen")
        term.expect_text("1 of 1 resources", "gw-good", "online", timeout=120)
        left = press_shell(term)

        # the real ssh, with the options envdeck connects with itself
        argv = term.wait_for_child("ssh")
        assert argv[argv.index("-p") + 1] == str(server.port) and argv[-2:] == ["--", server.address]
        assert argv[argv.index("StrictHostKeyChecking=yes") - 1] == "-o"
        assert f"UserKnownHostsFile={edge_lab.known_hosts}" in argv
        assert not [o for o in argv if re.match(r"(?i)(stricthostkeychecking=(no|off|accept-new)"
                                                r"|userknownhostsfile=/dev/null|globalknownhostsfile)", o)]
        effective = subprocess.run(["ssh", "-G", *argv[1:]], capture_output=True, text=True, timeout=30,
                                   check=True).stdout.lower().splitlines()
        assert "stricthostkeychecking true" in effective
        assert f"userknownhostsfile {str(edge_lab.known_hosts).lower()}" in effective

        # an interactive login shell on the node answers; the answer is computed there
        term.expect(b"$ ", since=left, what="the shell prompt of the node")
        term.send(f'echo "answer-$(({a}+{b}))-$(id -un)-${{SSH_CONNECTION##* }}"\r'.encode())
        term.expect(f"answer-{a + b}-{edge_lab.user}-{server.port}".encode(), since=left,
                    what="the node's answer")
        # the reconciler goes on while the shell has the terminal (a pass every second here),
        # and nothing is drawn over the shell meanwhile
        before = last_pass(state)
        drawn = term.mark()
        deadline = time.monotonic() + 60
        while last_pass(state) == before:
            assert time.monotonic() < deadline, "no reconciler pass while the shell was open"
            time.sleep(0.2)
        assert ENTER_ALT_SCREEN not in term.out[drawn:] and b"resources" not in term.out[drawn:]
        term.send(b"exit\r")

        back = back_in_the_tui(term, left)
        term.expect_text("1 of 1 resources", "gw-good", since=back)  # redrawn, not left blank
        no_ssh_left(term)
        keys_work_then_quit(term)

    rows = shell_audit(config, state)
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["user"], row["env"], row["target"], row["origin"]) == (current_user(), ENV, "edge/node/gw-good",
                                                                     "tui")
    assert (row["result"], row["message"]) == ("succeeded", "ssh exited with 0")


@pytest.mark.parametrize("case", ["unknown", "changed"])
def test_ssh_refuses_a_node_whose_host_key_is_not_trusted(edge_lab, tmp_path, case):  # noqa: F811
    good, stranger = edge_lab.start_sshd("good"), edge_lab.start_sshd("stranger")
    edge_lab.trust(good)
    if case == "changed":  # known_hosts has another key for the stranger's address
        old = keygen(edge_lab.workdir / "old_host_key", "old")
        with edge_lab.known_hosts.open("a") as fh:
            fh.write(known_hosts_line(stranger, old.parent / (old.name + ".pub")))
    trusted_before = edge_lab.known_hosts.read_text()
    # listed first, so that the first row is the stranger
    config = write_config(edge_lab, [edge_lab.node("a-stranger", stranger), edge_lab.node("gw-good", good)],
                          tmp_path)
    state = tmp_path / "state"

    with start_tui(config, state) as term:
        term.expect(ENTER_ALT_SCREEN, what="the TUI entering the alternate screen")
        term.expect_text("2 of 2 resources", "a-stranger", "host key refused", "gw-good", timeout=120)
        open_detail(term, "a-stranger")  # `s` of the resource detail screen this time
        left = press_shell(term)

        refusal = term.expect(b"Host key verification failed.", since=left, what="ssh refusing the host key")
        if case == "changed":
            assert b"REMOTE HOST IDENTIFICATION HAS CHANGED" in term.out[left:refusal]
        else:
            assert b"you have requested strict checking" in term.out[left:refusal]
        assert b"$ " not in term.out[left:refusal]  # no shell was opened
        # ssh's own message stays on the screen until the user has read it
        asked = term.expect(b"ssh exited with 255; press Enter to return to envdeck", since=refusal,
                            what="the pause after ssh's error")
        assert ENTER_ALT_SCREEN not in term.out[left:asked]
        term.send(b"\r")

        back = back_in_the_tui(term, asked)
        term.expect_text("ssh exited with 255", since=back)
        term.expect_text(f"{ENV} › node a-stranger", since=back)
        no_ssh_left(term)
        at = term.mark()
        term.send(b"\x1b")  # back to the environment screen
        term.expect_text("2 of 2 resources", since=at)
        keys_work_then_quit(term)

    assert edge_lab.known_hosts.read_text() == trusted_before  # nothing was trusted on the way
    rows = shell_audit(config, state)
    assert len(rows) == 1, rows
    assert (rows[0]["target"], rows[0]["user"], rows[0]["origin"]) == ("edge/node/a-stranger", current_user(),
                                                                      "tui")
    assert (rows[0]["result"], rows[0]["message"]) == ("failed", "ssh exited with 255")


def test_ctrl_c_abandons_a_node_that_never_answers_and_keeps_the_tui(edge_lab, tmp_path):  # noqa: F811
    """A TCP listener that never says a word: ssh waits for the SSH banner. ctrl+c on the
    terminal goes to the whole foreground process group: ssh must stop, envdeck must not."""
    good = edge_lab.start_sshd("good")
    edge_lab.trust(good)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        quiet = EdgeNode(name="a-silent", host="127.0.0.1", port=silent.getsockname()[1], user=edge_lab.user,
                         identity_file=str(edge_lab.client_key))
        # ssh gets ConnectTimeout=connect_timeout: 20 s leaves the ctrl+c well ahead of it
        config = write_config(edge_lab, [quiet, edge_lab.node("gw-good", good)], tmp_path, connect_timeout=20)
        state = tmp_path / "state"

        with start_tui(config, state) as term:
            term.expect(ENTER_ALT_SCREEN, what="the TUI entering the alternate screen")
            term.expect_text("2 of 2 resources", "a-silent", "gw-good", timeout=120)  # no need to wait for offline
            open_detail(term, "a-silent")
            left = press_shell(term)
            argv = term.wait_for_child("ssh")
            assert "StrictHostKeyChecking=yes" in argv and argv[argv.index("-p") + 1] == str(quiet.port)
            term.send(b"\x03")  # ctrl+c, as typed on the terminal

            back = back_in_the_tui(term, left)
            term.expect_text("ssh was ended by SIGINT", since=back)
            assert term.proc.poll() is None, "envdeck quit on the ctrl+c meant for ssh"
            no_ssh_left(term)
            at = term.mark()
            term.send(b"\x1b")
            term.expect_text("2 of 2 resources", since=at)
            keys_work_then_quit(term)

    rows = shell_audit(config, state)
    assert [(r["target"], r["result"], r["message"]) for r in rows] == [
        ("edge/node/a-silent", "failed", "ssh was ended by SIGINT")]


def test_a_missing_ssh_program_is_reported_and_the_tui_comes_back(edge_lab, tmp_path):  # noqa: F811
    """A jump host without the OpenSSH client: the TUI must not stay suspended."""
    server = edge_lab.start_sshd("gw")
    edge_lab.trust(server)
    config = write_config(edge_lab, [edge_lab.node("gw-good", server)], tmp_path)
    state = tmp_path / "state"
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()

    with start_tui(config, state, PATH=str(empty_bin)) as term:
        term.expect(ENTER_ALT_SCREEN, what="the TUI entering the alternate screen")
        term.expect_text("1 of 1 resources", "gw-good", "online", timeout=120)
        left = press_shell(term)
        back = back_in_the_tui(term, left)
        term.expect_text("cannot run ssh: No such file or directory", since=back)
        keys_work_then_quit(term)

    rows = shell_audit(config, state)
    assert [(r["target"], r["result"], r["message"]) for r in rows] == [
        ("edge/node/gw-good", "failed", "cannot run ssh: No such file or directory")]
