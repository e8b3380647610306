"""Log streams over a real sshd: order and completeness while following,
closing the stream ends the remote process, node log files, and the
non-follow mode."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from backends.edge import EdgeBackend
from tui.core.errors import InvalidRequest


def processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(proc.name))
    return found


async def wait_until(predicate, deadline_s: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
async def log_backend(edge_lab, defaults):
    server = edge_lab.start_sshd()
    edge_lab.trust(server)
    files = [edge_lab.state / "app.log", edge_lab.state / "audit.log"]
    for i, f in enumerate(files):
        f.write_text("".join(f"{f.stem} old {n}\n" for n in range(1, 6 + i)))
    cfg = edge_lab.config([edge_lab.node("n1", server, services=["web"], log_files=[str(f) for f in files])])
    backend = EdgeBackend("test", cfg, defaults)
    yield backend, files
    await backend.close()


async def test_follow_keeps_order_and_completeness_and_close_ends_the_remote_tail(log_backend, edge_lab):
    backend, _ = log_backend
    log = edge_lab.state / "web.log"
    log.write_text("".join(f"line {n}\n" for n in range(1, 101)))
    stream = backend.logs("edge/service/n1:web", follow=True, tail=100)
    got: list[str] = []

    async def writer():
        await wait_until(lambda: len(got) >= 100, what="the backlog")
        with log.open("a") as fh:
            for n in range(101, 1001):
                fh.write(f"line {n}\n")
                if n % 50 == 0:
                    fh.flush()
                    await asyncio.sleep(0.01)

    task = asyncio.create_task(writer())
    try:
        async for entry in stream:
            assert entry.source == "n1:web"
            got.append(entry.text)
            if len(got) == 1000:
                break
        assert processes_mentioning(f"-F {log}"), "the remote tail runs while the stream is open"
    finally:
        await stream.aclose()
        await task
    assert got == [f"line {n}" for n in range(1, 1001)]
    # the channel is closed: sshd closes the pipes and the remote `tail -F` ends
    await wait_until(lambda: not processes_mentioning(f"-F {log}"), what="the remote tail to exit")


async def test_node_log_files_are_merged_with_their_source(log_backend):
    backend, files = log_backend
    lines = [line async for line in backend.logs("edge/node/n1", tail=3)]
    by_source: dict[str, list[str]] = {}
    for line in lines:
        by_source.setdefault(line.source, []).append(line.text)
    assert by_source == {
        f"n1:{files[0]}": ["app old 3", "app old 4", "app old 5"],
        f"n1:{files[1]}": ["audit old 4", "audit old 5", "audit old 6"],
    }
    only = [line.text async for line in backend.logs("edge/node/n1", tail=2, container=str(files[1]))]
    assert only == ["audit old 5", "audit old 6"]
    assert not processes_mentioning(f"-F {files[0]}")


async def test_only_configured_log_files_can_be_read(log_backend):
    backend, _ = log_backend
    with pytest.raises(InvalidRequest, match="not one of the log_files"):
        async for _ in backend.logs("edge/node/n1", container="/etc/shadow"):
            pass


async def test_without_follow_the_stream_ends_after_the_tail(log_backend, edge_lab):
    backend, _ = log_backend
    (edge_lab.state / "web.log").write_text("".join(f"entry {n}\n" for n in range(1, 21)))
    lines = [line.text async for line in backend.logs("edge/service/n1:web", tail=5)]
    assert lines == [f"entry {n}" for n in range(16, 21)]
