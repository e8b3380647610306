"""A node that answers but does not finish (it prints without end, or is busy streaming), over a
real sshd: a command past its timeout says it was still running and keeps what arrived (cut at
1 MiB, marked); a silent command that times out while a log stream is open does not drop the
connection (the stream goes on: keepalive is the liveness signal there); and a stream whose
connection is dropped says why instead of ending as if the log had ended."""

from __future__ import annotations

import pytest

from backends.edge import EdgeBackend
from backends.edge.link import CommandTimedOut
from tui.core.errors import BackendUnreachable


@pytest.fixture
async def busy(edge_lab, defaults):
    server = edge_lab.start_sshd()
    edge_lab.trust(server)
    log = edge_lab.state / "app.log"
    log.write_text("".join(f"old {n}\n" for n in range(1, 4)))
    cfg = edge_lab.config([edge_lab.node("n1", server, services=["web"], log_files=[str(log)])],
                          command_timeout=3)
    backend = EdgeBackend("test", cfg, defaults)
    yield backend, log
    await backend.close()


async def test_a_command_still_printing_at_its_timeout_keeps_what_arrived(busy):
    backend, _ = busy
    # 2 MB at once, then no end: the node answered, the command did not finish
    command = "head -c 2000000 /dev/zero | tr '\\0' y; exec sleep 60"
    [result] = await backend.run_fleet(command, ["n1"])
    assert result.exit_code is None
    assert "still running after 3s" in (result.error or ""), result.error
    assert "no answer" not in (result.error or "")
    assert result.stdout.startswith("yyyy") and result.stdout.endswith("\n[envdeck: output cut at 1 MiB]")
    assert len(result.stdout) == (1 << 20) + len("\n[envdeck: output cut at 1 MiB]")
    assert result.outcome == "failed"  # it answered: not "unreachable"
    assert backend.links["n1"].connected


async def test_a_silent_timeout_does_not_cut_an_open_stream_and_a_drop_says_why(busy):
    backend, log = busy
    link = backend.links["n1"]
    stream = backend.logs("edge/node/n1", follow=True, tail=3)
    try:
        assert [(await anext(stream)).text for _ in range(3)] == ["old 1", "old 2", "old 3"]
        with pytest.raises(CommandTimedOut, match="no answer within 1s"):
            await link.run("exec sleep 60", timeout=1, drop_on_timeout=True)
        assert link.connected, "a silent command beside a live stream is no proof the node is gone"
        with log.open("a") as fh:
            fh.write("new 1\n")
        assert (await anext(stream)).text == "new 1"

        async def drop() -> None:
            link.drop("node n1: test drop")

        await link.remote.call(drop()) if link.remote else await drop()
        with pytest.raises(BackendUnreachable, match=r"failed: connection lost \(node n1: test drop\)"):
            await anext(stream)
    finally:
        await stream.aclose()
