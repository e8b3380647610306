"""`envdeck status` right after a TUI or an agent started leading an environment (issue 16, team
mode): the leader's first pass of AWS has not finished, so it has published no observation of
that backend yet. A follower makes no cloud call; it must show such a backend as pending (the
leader's first pass running), never as `UNREACHABLE (-)`, wait for the leader's first
observation (bounded by defaults.timeout) and show the real state once the leader published it.

The leader is an in-process Session holding the lease; its AWS is the moto server behind a
relay that holds every connection until the test opens it (the held thing is the server, not
envdeck's code). The follower's own clouds (an emulator and a relay that is never opened)
count its requests on the server side: zero."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from pathlib import Path

import pytest

from backends.registry import create_backends
from tests.followers.support import ENV, requests, start_emulator, until, until_published
from tests.helpers import envdeck_inproc
from tests.tcp_relay import pump
from tui.core.config import parse_config
from tui.core.model import Origin
from tui.core.session import Session

LEADER = "alice@ops-1:1"

CONFIG = """defaults: {{interval: 30s, timeout: {timeout}, max_backoff: 2s}}
environments:
  staging:
    repair: observe
    access:
      admin: ["*"]
    aws:
      region: us-east-1
      endpoint_url: {aws}
      tags: {{env: staging}}
    kubernetes:
      kubeconfig: {kubeconfig}
      context: emulator
      namespace: staging
"""


class HeldRelay:
    """TCP relay to `upstream` on loopback: accepts at once, but forwards nothing until `open()`;
    counts the connections it accepted."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.gate = threading.Event()
        self.accepted = 0
        self._closed = False
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def open(self) -> None:
        self.gate.set()

    def close(self) -> None:
        self._closed = True
        self.gate.set()
        self._sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        self.gate.wait()
        if self._closed:
            conn.close()
            return
        try:
            up = socket.create_connection(self.upstream)
        except OSError:
            conn.close()
            return
        threading.Thread(target=pump, args=(up, conn), daemon=True).start()
        pump(conn, up)



@pytest.fixture
def world(tmp_path, moto_url, monkeypatch):
    """(leader config text, the follower's config file, the leader's relay, the follower's relay,
    the follower's emulator); leases of 15 s (the default): the leader shares the test's event loop
    with the followers (a TUI, commands in threads) and must stay the leader throughout, on a loaded
    machine too (a stalled leader that lets its lease lapse is replaced, as it should be: a follower
    then observes the cloud); nothing here waits for a lease to run out."""
    monkeypatch.setenv("ENVDECK_LEASE_TTL", "15")
    host, port = moto_url.split("//", 1)[1].rsplit(":", 1)
    leader_relay, cli_relay = HeldRelay((host, int(port))), HeldRelay((host, int(port)))
    leader_emu, leader_kc = start_emulator(tmp_path, "leader")
    cli_emu, cli_kc = start_emulator(tmp_path, "cli")
    leader_emu.emu.create_deployment("staging", "web", replicas=1)
    cli_config = tmp_path / "cli.yaml"
    cli_config.write_text(CONFIG.format(timeout="1s", aws=cli_relay.url, kubeconfig=cli_kc))
    try:
        yield (CONFIG.format(timeout="30s", aws=leader_relay.url, kubeconfig=leader_kc), cli_config,
               leader_relay, cli_relay, cli_emu)
    finally:
        leader_relay.close()
        cli_relay.close()
        leader_emu.stop()
        cli_emu.stop()


async def _leader(config: str, state_dir: Path) -> Session:
    session = await Session.open(parse_config(config), state_dir, origin=Origin.TUI, user="alice",
                                 backends_factory=create_backends)
    session.reconciler.leadership.holder = LEADER
    await session.start_reconciling()
    return session


async def _status(cli_config: Path, state_dir: Path, *extra: str):
    return await asyncio.to_thread(envdeck_inproc, "status", "--config", str(cli_config),
                                   "--state-dir", str(state_dir), *extra)


async def test_status_shows_a_backend_the_leader_has_not_observed_yet_as_pending_then_its_state(world, tmp_path):
    leader_config, cli_config, leader_relay, cli_relay, cli_emu = world
    state_dir = tmp_path / "state"
    leader = await _leader(leader_config, state_dir)
    try:
        await until_published(leader)  # its Kubernetes pass published; its AWS pass is held by the server
        await until(lambda: leader_relay.accepted > 0, "the leader's AWS pass waiting on the held server")
        assert leader.state(ENV).backends["aws"].reachable is None

        # the leader never publishes AWS within the follower's timeout (1 s): pending, exit 1
        text = await _status(cli_config, state_dir)
        assert text.returncode == 1, text.stdout + text.stderr
        assert "UNREACHABLE" not in text.stdout, text.stdout
        assert f"aws pending (first pass by {LEADER} running)" in text.stdout, text.stdout
        assert "kubernetes ok" in text.stdout, text.stdout
        assert "aws not observed yet by its leader" in text.stderr, text.stderr
        as_json = await _status(cli_config, state_dir, "--json")
        assert as_json.returncode == 1, as_json.stderr
        backends = json.loads(as_json.stdout)["environments"][0]["backends"]
        assert backends["aws"]["pending"] is True and backends["aws"]["reachable"] is None
        assert backends["aws"]["error"] is None and backends["aws"]["observed_at"] is None
        assert backends["kubernetes"]["pending"] is False and backends["kubernetes"]["reachable"] is True

        # a follower waiting (what status does, here with no deadline in sight) sees the leader's
        # first observation as soon as it is published
        cli = await Session.open(parse_config(cli_config.read_text()), state_dir, user="bob",
                                 backends_factory=create_backends)
        try:
            await cli.observe()
            assert cli.reconciler.follower.pending(ENV) == ["aws"]
            waiting = asyncio.create_task(cli.await_leaders_first_pass(60.0))
            await asyncio.sleep(0)
            assert not waiting.done()
            leader_relay.open()
            assert await waiting == {}
            aws = cli.state(ENV).backends["aws"]
            assert aws.reachable is True and aws.observed_at is not None
        finally:
            await cli.close()

        # and the command now prints the real state at once
        done = await _status(cli_config, state_dir)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "aws ok" in done.stdout and "pending" not in done.stdout, done.stdout
    finally:
        await leader.close()
    # the follower made no cloud call: its own servers saw nothing
    assert cli_relay.accepted == 0
    assert requests(cli_emu) == []


async def test_on_postgresql_a_follower_waits_for_the_leaders_first_observation(world, tmp_path, pg_url, monkeypatch):
    """The same wait on a shared PostgreSQL store (the feed's LISTEN/NOTIFY path): pending while
    the leader's AWS is held, still pending when the bound runs out, observed once published."""
    leader_config, cli_config, leader_relay, cli_relay, cli_emu = world
    monkeypatch.setenv("ENVDECK_STATE_URL", pg_url)
    state_dir = tmp_path / "state"
    leader = await _leader(leader_config, state_dir)
    try:
        await until_published(leader)
        await until(lambda: leader_relay.accepted > 0, "the leader's AWS pass waiting on the held server")
        cli = await Session.open(parse_config(cli_config.read_text()), state_dir, user="bob",
                                 backends_factory=create_backends)
        try:
            await cli.observe()
            assert cli.state(ENV).backends["kubernetes"].reachable is True  # as the leader published it
            assert await cli.await_leaders_first_pass(0.2) == {ENV: ["aws"]}  # the bound ran out
            assert cli.state(ENV).backends["aws"].reachable is None
            waiting = asyncio.create_task(cli.await_leaders_first_pass(60.0))
            await asyncio.sleep(0)
            assert not waiting.done()
            leader_relay.open()
            assert await waiting == {}
            assert cli.state(ENV).backends["aws"].reachable is True
        finally:
            await cli.close()
    finally:
        await leader.close()
    assert cli_relay.accepted == 0
    assert requests(cli_emu) == []
