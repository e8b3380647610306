"""A corrupt store gives one clear line and exit 1 from every command, never a traceback
or a hang; `envdeck doctor` reports it as corrupt and says how to recover (move it
aside; what is then lost). The file is really corrupted: pages of a real store are
overwritten on disk."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import envdeck_env, repo_root
from tui.core.model import AuditResult
from tui.core.store import DB_NAME, Store

PAGE = 4096


def envdeck(*args: str) -> subprocess.CompletedProcess:
    # a hang (the bug: doctor never exited) fails the test by TimeoutExpired
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True,
                          cwd=repo_root(), env=envdeck_env(PYTHONPATH=str(repo_root())), timeout=60,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def config_file(tmp_path) -> Path:
    path = tmp_path / "envdeck.yaml"
    path.write_text("environments:\n  dev: {}\n")
    return path


async def corrupt_store(state: Path) -> None:
    """A store with a few thousand audit rows, then every third page after the empty schema's
    pages overwritten: the schema still reads, the audit table does not."""
    store = await Store.open(state)
    await store.close()
    schema_pages = (state / DB_NAME).stat().st_size // PAGE
    store = await Store.open(state)
    for n in range(3000):
        await store.audit_record(user="ops", env="dev", target=f"aws/app/web-{n}", action="restart",
                                 params={"n": n}, origin="cli", result=AuditResult.SUCCEEDED, message="m" * 80)
    await store.close()
    path = state / DB_NAME
    data = bytearray(path.read_bytes())
    assert len(data) > 20 * PAGE
    for page in range(schema_pages + 1, len(data) // PAGE, 3):
        data[page * PAGE: page * PAGE + 100] = b"\xff" * 100
    path.write_bytes(bytes(data))


def assert_one_clear_line(proc: subprocess.CompletedProcess, state: Path) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and "Event loop is closed" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("envdeck: "), proc.stderr
    assert "the store is corrupt" in lines[0] and f"mv {state / DB_NAME}" in lines[0], lines[0]


@pytest.mark.parametrize("command", [["audit", "--json"], ["audit"]])
async def test_a_corrupt_store_is_one_clear_line(tmp_path, config_file, command):
    state = tmp_path / "state"
    await corrupt_store(state)
    proc = envdeck(*command, "--config", str(config_file), "--state-dir", str(state))
    assert_one_clear_line(proc, state)
    assert proc.stdout == ""


async def test_doctor_reports_a_corrupt_store_and_how_to_recover(tmp_path, config_file):
    state = tmp_path / "state"
    await corrupt_store(state)
    proc = envdeck("doctor", "--config", str(config_file), "--state-dir", str(state))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "Event loop is closed" not in proc.stderr, proc.stderr
    [line] = [x for x in proc.stdout.splitlines() if x.startswith("FAIL") and "state" in x]
    assert "corrupt" in line and f"mv {state / DB_NAME} {state / DB_NAME}.corrupt" in line
    assert "audit trail" in line, "says what is lost"
    # the advice works: moved aside, the next command starts a new, empty store
    (state / DB_NAME).rename(state / (DB_NAME + ".corrupt"))
    for side in ("-wal", "-shm"):
        if (state / (DB_NAME + side)).exists():
            (state / (DB_NAME + side)).rename(state / (DB_NAME + side + ".corrupt"))
    proc = envdeck("audit", "--json", "--config", str(config_file), "--state-dir", str(state))
    assert proc.returncode == 0 and '"entries": []' in proc.stdout, proc.stdout + proc.stderr


async def test_corruption_found_by_a_query_of_an_open_store_is_a_state_error(tmp_path):
    """In-process (the TUI's case): the open store meets the corrupt pages in a later query."""
    from tui.core.errors import StateError

    state = tmp_path / "state"
    await corrupt_store(state)
    store = await Store.open(state, recover=False)
    try:
        with pytest.raises(StateError, match="the store is corrupt"):
            await store.audit_entries(limit=5000)
    finally:
        await store.close()
