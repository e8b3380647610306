"""Ctrl-C during `envdeck run` (tui/core/session.py run_fleet, backends/edge/link.py): a real
`envdeck run` process gets one SIGINT.

- Nodes that finished before it keep their own result in the audit (`succeeded`, `exit 0 in …`),
  a node still connecting is `interrupted` with a human reason, never an exception's name; its
  line is printed at the Ctrl-C (the results so far, then the one interrupt line).
- A command still running on a node is stopped there: its channel gets the `signal` request
  (TERM) before it is closed, and OpenSSH kills the command's process group (closing the
  channel alone leaves a `sleep` running). Checked on the node: the pids the command wrote
  are gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import envdeck_env, repo_root
from tests.security.access_setup import access, audit_rows, write_config
from tests.silent_listener import SilentListener


def _nodes(edge_lab, port: int, names: list[str]) -> list[dict]:
    return [{"name": n, "host": "127.0.0.1", "port": port, "user": edge_lab.user,
             "identity_file": str(edge_lab.client_key)} for n in names]


def _config(tmp_path: Path, edge_lab, nodes: list[dict]) -> Path:
    edge = {"known_hosts": str(edge_lab.known_hosts), "ssh_config": str(edge_lab.ssh_config), "nodes": nodes,
            "connect_timeout": "60s", "command_timeout": "60s"}
    return write_config(tmp_path / "envdeck.yaml", {"dev": {"access": access("operator"), "edge": edge}})


class RunProcess:
    """`envdeck run dev --yes -- COMMAND` in a subprocess; its stdout lines collected as they come."""

    def __init__(self, cfg: Path, state: Path, command: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tui.cli", "--config", str(cfg), "--state-dir", str(state), "run", "dev",
             "--yes", "--", command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=repo_root(),
            env=envdeck_env(PYTHONPATH=str(repo_root())), stdin=subprocess.DEVNULL)
        self.lines: list[str] = []
        self.err = ""
        self._out = threading.Thread(target=self._read, daemon=True)
        self._out.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_until(self, ready, what: str) -> None:
        deadline = time.monotonic() + 60
        while not ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"{what}: never happened; stdout {self.lines}, stderr {self.proc.stderr.read()}")
            time.sleep(0.05)

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.err = self.proc.stderr.read()
            rc = self.proc.wait(timeout=60)
        finally:
            self.proc.kill()
        self._out.join(10)
        return rc


def _rows(state: Path) -> dict[str, tuple[str, str]]:
    return {r["target"].rsplit("/", 1)[1]: (r["result"], r["message"]) for r in audit_rows(state)
            if r["action"] == "run"}


def test_ctrl_c_while_a_node_connects_keeps_each_finished_nodes_result(tmp_path, edge_lab):
    server = edge_lab.start_sshd("n1")
    edge_lab.trust(server)
    silent = SilentListener()  # accepts and never answers: n3 is still connecting at the Ctrl-C
    try:
        nodes = [*_nodes(edge_lab, server.port, ["n1", "n2"]), *_nodes(edge_lab, silent.port, ["n3"])]
        state = tmp_path / "state"
        run = RunProcess(_config(tmp_path, edge_lab, nodes), state, "echo hi")
        run.wait_until(lambda: len(run.lines) >= 2 and silent.accepted >= 1, "n1 and n2 printed, n3 connecting")
        rc = run.interrupt()
    finally:
        silent.close()
    assert rc == 130, (run.lines, run.err)
    assert run.err.splitlines()[-1:] == ["envdeck: interrupted (Ctrl-C)"], run.err
    assert "Traceback" not in run.err
    assert sorted(line.split()[0] for line in run.lines) == ["n1", "n2", "n3"]
    # n1 and n2 printed as they finished; n3, still connecting, printed at the Ctrl-C as its audit row says
    assert [line.split()[:2] for line in run.lines[2:]] == [["n3", "interrupted"]], run.lines
    assert run.lines[2].endswith("interrupted while connecting to the node: the command was not sent"), run.lines
    rows = _rows(state)
    assert set(rows) == {"n1", "n2", "n3"}, rows
    for name in ("n1", "n2"):
        result, message = rows[name]
        assert result == "succeeded" and message.startswith("exit 0 in "), (name, rows[name])
    result, message = rows["n3"]
    assert result == "interrupted", rows["n3"]
    assert message == "interrupted while connecting to the node: the command was not sent", message
    assert "Error" not in message


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _sleepers(marker: str) -> list[int]:
    """The processes on this machine (the node) whose command line is `sleep MARKER`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmdline[:2] == [b"sleep", marker.encode()]:
                found.append(int(entry.name))
    return found


def test_ctrl_c_stops_the_command_on_the_nodes(tmp_path, edge_lab):
    server = edge_lab.start_sshd("n1")
    edge_lab.trust(server)
    pids = edge_lab.state / "pids"
    marker = "47.123"  # `sleep 47.123`: no other process of this machine sleeps so long so exactly
    state = tmp_path / "state"
    run = RunProcess(_config(tmp_path, edge_lab, _nodes(edge_lab, server.port, ["n1", "n2"])), state,
                     f"echo $$ >> {pids}; sleep {marker}; echo finished")
    run.wait_until(lambda: pids.exists() and len(pids.read_text().split()) == 2
                   and len(_sleepers(marker)) == 2, "the command running on both nodes")
    shells = [int(p) for p in pids.read_text().split()]
    rc = run.interrupt()
    assert rc == 130, (run.lines, run.err)
    # no node finished: each gets its line at the Ctrl-C, saying what its audit row says
    assert sorted(line.split()[:2] for line in run.lines) == [["n1", "interrupted"], ["n2", "interrupted"]], run.lines
    assert all(line.endswith("interrupted before the command ended: its session on the node was closed")
               for line in run.lines), run.lines
    rows = _rows(state)
    assert rows == {n: ("interrupted", "interrupted before the command ended: its session on the node was closed")
                    for n in ("n1", "n2")}, rows
    deadline = time.monotonic() + 30  # sshd delivers the signal when it reads the request: soon, not at once
    while (any(_alive(p) for p in shells) or _sleepers(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [p for p in shells if _alive(p)], "the command's shell still runs on the node"
    assert _sleepers(marker) == [], "the command's sleep still runs on the node"


async def test_a_second_cancellation_during_the_interrupted_rows_write_still_ends_them(tmp_path):
    """`until_interrupted` cancels the work again every half second until it has ended: one
    landing while `audited_group` writes the rows' `interrupted` ends must not leave them
    `pending`. The store is held busy (its own lock) while the second cancellation comes."""
    import asyncio

    from tui.core.audited import AuditFields, audited_group
    from tui.core.store import Store

    store = await Store.open(tmp_path / "state")
    try:
        rows = [AuditFields("u", "dev", f"edge/node/n{i}", "run", {"command": "true"}, "cli") for i in range(2)]
        begun = asyncio.Event()

        async def run() -> None:
            async with audited_group(store, rows):
                begun.set()
                await asyncio.Event().wait()

        task = asyncio.create_task(run())
        await begun.wait()
        async with store._lock:  # the ends' write waits for the store
            task.cancel()
            for _ in range(20):
                await asyncio.sleep(0)
            assert not task.done()
            task.cancel()  # the second Ctrl-C's cancellation, in the middle of the write
            for _ in range(20):
                await asyncio.sleep(0)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 30)
        ended = await store.audit_entries(env="dev")
        assert sorted((r["target"], r["result"], r["message"]) for r in ended) == [
            ("edge/node/n0", "interrupted", "cancelled"), ("edge/node/n1", "interrupted", "cancelled")]
    finally:
        await store.close()
