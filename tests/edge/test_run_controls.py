"""Outside text never carries terminal controls (tui/core/sanitize.py): a real sshd node prints
every C0 control, DEL and the C1 controls (as UTF-8 characters and as raw bytes); `envdeck run`'s
lines for people on a pipe hold none of them, each shown visibly, and --json holds none either."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys

from tests.edge.test_cli_edge import write_config
from tests.helpers import envdeck_env, repo_root

# every C0 control but \n (a line break on the node), then DEL, then the C1 controls U+0080-U+009F
CONTROLS = "".join(chr(c) for c in range(0x20) if c != 0x0A) + "\x7f" + "".join(chr(c) for c in range(0x80, 0xA0))
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # what must not reach stdout (\n ends lines)


def _run(cfg: str, state: str, command: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", "run", "--config", cfg, "--state-dir", state, "lab",
                           *extra, "--", command], capture_output=True, cwd=repo_root(), timeout=180,
                          env=envdeck_env(PYTHONPATH=str(repo_root())), stdin=subprocess.DEVNULL)


# Python's splitlines also breaks at these: the node's first line ends there, so they go last
BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\r"


def _command() -> tuple[str, str]:
    payload = "A" + "".join(c for c in CONTROLS if c not in BREAKS) + "Z" + BREAKS
    octal = "".join(f"\\{b:03o}" for b in payload.encode())
    raw_c1 = "".join(f"\\{b:03o}" for b in range(0x80, 0xA0))  # not UTF-8: each byte alone
    # stdout first; a second node line would need a second node: stderr carries the raw bytes
    return f"printf '{octal}\\n'; printf 'B{raw_c1}Y\\n' >&2", payload


def _node_text(out: str) -> str:
    """The node's remote line as `run` shows it. Piped: after the columns, `NODE STATUS TIME  TEXT`.
    On a terminal a remote line that would not fit after the columns is whole on the next line,
    indented by two (never cut, never broken by envdeck): `NODE STATUS TIME` then `  TEXT`."""
    lines = out.splitlines()
    head, sep, text = lines[0].partition("s  ")
    if sep:
        return text
    assert re.fullmatch(r"n0 +exit 0 +\d+\.\d\ds", lines[0]) and lines[1].startswith("  "), lines
    assert lines[2].endswith(" unreachable"), lines  # the summary follows: the remote line is that one line
    return lines[1][2:]


def _assert_visible(shown: str) -> None:
    assert shown.startswith("A") and "Z" in shown, shown
    for visible in ("␀", "^A", "^G", "^H", "^I", "␛", "^_", "␡", "\\u0080", "\\u009b", "\\u009f"):
        assert visible in shown, (visible, shown)


def test_piped_run_output_shows_every_control_visibly(edge_lab, tmp_path):
    server = edge_lab.start_sshd()
    edge_lab.trust(server)
    cfg = write_config(edge_lab, tmp_path, [server])
    state = str(tmp_path / "state")
    command, payload = _command()

    proc = _run(cfg, state, command)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert not RAW.search(out), [hex(ord(c)) for c in RAW.findall(out)]
    _assert_visible(_node_text(out))

    as_json = _run(cfg, state, command, "--json")
    text = as_json.stdout.decode()
    assert not RAW.search(text), [hex(ord(c)) for c in RAW.findall(text)]
    (result,) = json.loads(text)["results"]
    assert result["stdout"] == payload + "\n"  # the data itself, escaped only as JSON

    # only stderr printed: the line shows its first line (the raw C1 bytes, invalid UTF-8)
    only_err = _run(cfg, state, command.split("; ", 1)[1])
    out = only_err.stdout.decode()
    assert not RAW.search(out), [hex(ord(c)) for c in RAW.findall(out)]
    assert _node_text(out).startswith("B") and _node_text(out).endswith("Y"), out


def test_run_on_a_terminal_shows_the_same(edge_lab, tmp_path):
    """The same lines on a terminal (a pty as stdout): nothing raw either."""
    server = edge_lab.start_sshd()
    edge_lab.trust(server)
    cfg = write_config(edge_lab, tmp_path, [server])
    command, _ = _command()
    leader, follower = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "tui.cli", "run", "--config", cfg, "--state-dir",
                               str(tmp_path / "state"), "lab", "--yes", "--", command], stdout=follower,
                              stderr=subprocess.PIPE, cwd=repo_root(), timeout=180, stdin=subprocess.DEVNULL,
                              env=envdeck_env(PYTHONPATH=str(repo_root())))
        os.close(follower)
        follower = -1
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other end is closed and everything was read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        if follower >= 0:
            os.close(follower)
    assert proc.returncode == 0, proc.stderr
    out = b"".join(chunks).decode().replace("\r\n", "\n")  # the terminal's own line ends
    assert not RAW.search(out), [hex(ord(c)) for c in RAW.findall(out)]
    shown = _node_text(out)
    _assert_visible(shown)
    # the same text as piped: the terminal's layout moves the line, never cuts or changes it
    piped = _run(cfg, str(tmp_path / "state"), command)
    assert piped.returncode == 0, piped.stderr
    assert shown == _node_text(piped.stdout.decode()), (shown, piped.stdout)
