"""Audit rows carry their owner (host, pid, process start time): opening the store in
another process — every CLI command does — marks `interrupted` only the `pending` rows
whose owner is gone, and never rewrites a row another process owns or has finished.
Real processes throughout: an owner process (tests/reliability/audit_owner_worker.py)
and the `envdeck` CLI."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import envdeck_env, repo_root
from tui.core.model import AuditResult
from tui.core.store import DB_NAME, Store


class Owner:
    """The owner process: it has begun one pending row (`audit_id`)."""

    def __init__(self, state: Path, prefix: tuple[str, ...] = ()):
        self.proc = subprocess.Popen([*prefix, sys.executable, "-m", "tests.reliability.audit_owner_worker",
                                      str(state)],
                                     cwd=repo_root(), env=envdeck_env(PYTHONPATH=str(repo_root())),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline().split()
        assert line[:1] == ["begun"], (line, self.proc.stderr.read() if self.proc.poll() is not None else "")
        self.audit_id = int(line[1])

    def finish(self) -> bool:
        self.proc.stdin.write("finish\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().split()
        self.proc.wait(timeout=60)
        return answer == ["finished", "True"]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()


@pytest.fixture
def owners():
    started: list[Owner] = []

    def start(state: Path, prefix: tuple[str, ...] = ()) -> Owner:
        started.append(Owner(state, prefix))
        return started[-1]

    yield start
    for owner in started:
        owner.kill()
        owner.proc.wait(timeout=30)


@pytest.fixture
def config_file(tmp_path) -> Path:
    path = tmp_path / "envdeck.yaml"
    path.write_text("environments:\n  dev: {}\n")
    return path


def cli_audit(config_file: Path, state: Path, prefix: tuple[str, ...] = ()) -> dict[int, dict]:
    """`envdeck audit --json`: opens the store with recovery, like every command."""
    proc = subprocess.run([*prefix, sys.executable, "-m", "tui.cli", "audit", "--json", "--config", str(config_file),
                           "--state-dir", str(state)], capture_output=True, text=True, cwd=repo_root(),
                          env=envdeck_env(PYTHONPATH=str(repo_root())), timeout=120)
    assert proc.returncode == 0, proc.stderr
    return {e["id"]: e for e in json.loads(proc.stdout)["entries"]}


def test_the_running_owners_row_stays_pending_until_it_finishes(tmp_path, config_file, owners):
    """A 12 s edge restart showed `interrupted` while it ran: another envdeck's recovery
    marked it. Now the row stays pending, and its owner's result is the one kept."""
    state = tmp_path / "state"
    owner = owners(state)
    assert cli_audit(config_file, state)[owner.audit_id]["result"] == "pending"
    assert owner.finish()
    entry = cli_audit(config_file, state)[owner.audit_id]
    assert entry["result"] == "succeeded" and entry["message"] == "restarted in 12.0s"


@pytest.mark.parametrize("reaped", [True, False], ids=["reaped", "zombie"])
def test_the_row_of_a_killed_owner_becomes_interrupted(tmp_path, config_file, owners, reaped):
    state = tmp_path / "state"
    owner = owners(state)
    os.kill(owner.proc.pid, signal.SIGKILL)
    if reaped:
        owner.proc.wait(timeout=30)
    else:  # killed but not yet waited for: its /proc entry is still there, as a zombie
        stat = Path(f"/proc/{owner.proc.pid}/stat")
        deadline = time.monotonic() + 30
        while stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline, "the killed owner never became a zombie"
            time.sleep(0.01)
    entry = cli_audit(config_file, state)[owner.audit_id]
    assert entry["result"] == "interrupted"
    assert entry["message"] == "envdeck stopped before the action completed"


async def test_a_reused_pid_is_not_taken_for_the_owner(tmp_path, owners):
    """The owner's pid now belongs to another live process (here: this test's own pid,
    with this process's start time differing from the row's): the owner is gone."""
    state = tmp_path / "state"
    owner = owners(state)
    owner.kill()
    owner.proc.wait(timeout=30)
    with sqlite3.connect(state / DB_NAME) as db:
        db.execute("UPDATE audit SET owner_pid = ? WHERE id = ?", (os.getpid(), owner.audit_id))
    store = await Store.open(state)
    try:
        [entry] = [e for e in await store.audit_entries() if e["id"] == owner.audit_id]
        assert entry["result"] == "interrupted"
    finally:
        await store.close()


async def test_another_process_cannot_finish_or_rewrite_a_row(tmp_path, owners):
    state = tmp_path / "state"
    owner = owners(state)
    store = await Store.open(state)
    try:
        assert await store.audit_finish(owner.audit_id, AuditResult.FAILED, "not mine") is False
        [entry] = [e for e in await store.audit_entries() if e["id"] == owner.audit_id]
        assert entry["result"] == "pending"
        assert owner.finish()
        # finished now: neither recovery nor a late finish from here rewrites it
        assert await store.mark_interrupted() == 0
        assert await store.audit_finish(owner.audit_id, AuditResult.INTERRUPTED, "late") is False
        [entry] = [e for e in await store.audit_entries() if e["id"] == owner.audit_id]
        assert (entry["result"], entry["message"]) == ("succeeded", "restarted in 12.0s")
    finally:
        await store.close()


async def test_rows_from_before_owners_were_recorded_are_recovered_as_before(tmp_path):
    """A pending row written by an older envdeck (no owner) is treated as abandoned."""
    store = await Store.open(tmp_path)
    audit_id = await store.audit_begin(user="u", env="e", target="t", action="scale", params={}, origin="tui")
    await store.close()
    with sqlite3.connect(tmp_path / DB_NAME) as db:
        db.execute("UPDATE audit SET owner_host = NULL, owner_pid = NULL, owner_start = NULL WHERE id = ?",
                   (audit_id,))
    reopened = await Store.open(tmp_path)
    try:
        [entry] = await reopened.audit_entries()
        assert entry["result"] == "interrupted"
    finally:
        await reopened.close()


@pytest.fixture
def other_pid_namespace() -> tuple[str, ...]:
    """The command prefix that runs a process in a new pid namespace with its own /proc
    (as in a container); its pid numbers name other processes than ours."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare is not installed")
    prefix = (unshare, "--pid", "--fork", "--mount-proc", "--kill-child")
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a pid namespace here: {probe.stderr.strip()}")
    return prefix


def test_envdeck_in_another_pid_namespace_leaves_a_live_row_alone(tmp_path, config_file, owners,
                                                                   other_pid_namespace):
    """`envdeck audit` run under `unshare -p -f --mount-proc` looked up the owner's pid in
    its own /proc, found no such process and marked the live row `interrupted`: the real
    result was lost. A row of another pid namespace is now left alone, like one of
    another host."""
    state = tmp_path / "state"
    owner = owners(state)
    assert cli_audit(config_file, state, other_pid_namespace)[owner.audit_id]["result"] == "pending"
    assert owner.finish()
    entry = cli_audit(config_file, state)[owner.audit_id]
    assert (entry["result"], entry["message"]) == ("succeeded", "restarted in 12.0s")


def test_a_live_row_begun_in_another_pid_namespace_is_left_alone(tmp_path, config_file, owners,
                                                                 other_pid_namespace):
    """The other way round: the owner runs in a namespace (its pid is 1 or 2 there, which
    names init out here)."""
    state = tmp_path / "state"
    owner = owners(state, other_pid_namespace)
    assert cli_audit(config_file, state)[owner.audit_id]["result"] == "pending"
    assert owner.finish()
    entry = cli_audit(config_file, state)[owner.audit_id]
    assert (entry["result"], entry["message"]) == ("succeeded", "restarted in 12.0s")


@pytest.fixture
def foreign_proc_namespace() -> tuple[str, ...]:
    """A new pid namespace that still sees the host's /proc (`unshare -p -f` without
    --mount-proc): /proc/self is not the process's own pid there."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare is not installed")
    prefix = (unshare, "--pid", "--fork", "--kill-child")
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a pid namespace here: {probe.stderr.strip()}")
    return prefix


_JUDGE = """
import json, os
from tui.core.owner import owner_gone, this_process
me = this_process()
print(json.dumps({"pid": os.getpid(), "pidns": me.pidns,
                  "gone": owner_gone(me.host, me.pid, "no-such-boot:1", me.pidns),
                  "gone_nons": owner_gone(me.host, me.pid, "no-such-boot:1", None)}))
"""


def test_a_process_whose_proc_is_another_namespaces_decides_nothing(foreign_proc_namespace):
    """Under `unshare -p -f` without --mount-proc, this_process() recorded pid 1 with the
    host init's start time, and a row whose recorded start did not match what the host's
    /proc said of that pid number was declared gone (a live row marked interrupted). The
    owner is now recorded as undecidable, and such a process declares no row gone."""
    proc = subprocess.run([*foreign_proc_namespace, sys.executable, "-c", _JUDGE], capture_output=True, text=True,
                          cwd=repo_root(), env=envdeck_env(PYTHONPATH=str(repo_root())), timeout=60)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen["pid"] == 1
    assert seen["pidns"] == "undecidable"
    assert seen["gone"] is False and seen["gone_nons"] is False


def test_a_row_with_an_undecidable_owner_is_left_alone(tmp_path, config_file, owners, foreign_proc_namespace):
    """The owner runs where /proc is not its own: its row records `undecidable` and the
    CLI's recovery out here leaves it pending until the owner finishes it."""
    state = tmp_path / "state"
    owner = owners(state, foreign_proc_namespace)
    with sqlite3.connect(state / DB_NAME) as db:
        [(pidns,)] = db.execute("SELECT owner_pidns FROM audit WHERE id = ?", (owner.audit_id,)).fetchall()
    assert pidns == "undecidable"
    assert cli_audit(config_file, state)[owner.audit_id]["result"] == "pending"
    assert owner.finish()
    assert cli_audit(config_file, state)[owner.audit_id]["result"] == "succeeded"
