"""A read-only, full or misplaced state directory gives one clear error line from the
CLI (exit 1), never a traceback; and an action whose audit row cannot be written is
never performed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.helpers import envdeck_env, repo_root
from tests.memory_backend import World, memory_factory
from tui.core.config import parse_config
from tui.core.errors import StateError
from tui.core.session import Session


def envdeck(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True,
                          cwd=repo_root(), env=envdeck_env(PYTHONPATH=str(repo_root())), timeout=120)


@pytest.fixture
def config_file(tmp_path) -> Path:
    path = tmp_path / "envdeck.yaml"
    path.write_text("environments:\n  dev: {}\n")
    return path


@pytest.fixture
def tmpfs(tmp_path):
    """Mount small tmpfs file systems (root only); skipped where mounting is not allowed."""
    mounted: list[Path] = []

    def mount(options: str) -> Path:
        where = tmp_path / f"mnt-{uuid.uuid4().hex[:8]}"
        where.mkdir()
        if shutil.which("mount") is None:
            pytest.skip("no mount command here")
        # mode=0700: a tmpfs root is 1777 by default, which envdeck refuses as a state directory
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options + ",mode=0700", "tmpfs", str(where)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def fill(directory: Path) -> None:
    """Fill a file system until it has no space left."""
    with open(directory / "filler", "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass


def assert_one_clear_line(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("envdeck: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_state_dir_that_is_a_file(config_file, tmp_path):
    afile = tmp_path / "state"
    afile.write_text("not a directory")
    proc = envdeck("audit", "--json", "--config", str(config_file), "--state-dir", str(afile))
    assert_one_clear_line(proc, str(afile), "not a directory")


def test_state_dir_below_a_file(config_file, tmp_path):
    afile = tmp_path / "state"
    afile.write_text("x")
    proc = envdeck("status", "--config", str(config_file), "--state-dir", str(afile / "sub"))
    assert_one_clear_line(proc, "cannot create the state directory")


def test_read_only_state_dir(config_file, tmpfs):
    ro = tmpfs("ro,size=1m")
    proc = envdeck("audit", "--config", str(config_file), "--state-dir", str(ro))
    assert_one_clear_line(proc, str(ro), "not writable")
    proc = envdeck("status", "--json", "--config", str(config_file), "--state-dir", str(ro / "sub"))
    assert_one_clear_line(proc, "Read-only file system")
    assert proc.stdout == ""


def test_full_disk_before_the_store_exists(config_file, tmpfs):
    full = tmpfs("size=256k")
    fill(full)
    proc = envdeck("audit", "--json", "--config", str(config_file), "--state-dir", str(full))
    assert_one_clear_line(proc, "disk is full")


CONFIG = parse_config("environments:\n  dev:\n    aws: {region: us-east-1, tags: {env: dev}}\n")


async def test_full_disk_under_a_running_store_refuses_the_action(tmpfs):
    """The audit row is written before the action: when it cannot be written, the action
    does not happen (the memory backend records every action it performs)."""
    full = tmpfs("size=512k")
    world = World()
    session = await Session.open(CONFIG, full, backends_factory=memory_factory(world))
    try:
        await session.act("dev", "aws/app/web", "restart")
        assert len(world.performed) == 1
        fill(full)
        with pytest.raises(StateError, match="disk is full"):
            for _ in range(200):  # the WAL may still have room for a few rows: go on until it has none
                await session.act("dev", "aws/app/web", "restart")
        performed = len(world.performed)
        entries = await session.store.audit_entries(limit=1000)
        # every performed action has its audit row; the refused one was never performed
        assert performed <= len(entries)
        assert all(e["result"] in ("succeeded", "pending") for e in entries)
    finally:
        (full / "filler").unlink()
        await session.close()
