"""Fixtures of the edge tests: the node defaults, nodes in network namespaces of their own,
asyncio's logged errors and a running reconciler. The sshd lab itself (`edge_lab`,
`ssh_login`) is the plugin tests/edge/lab.py."""

from __future__ import annotations

import gc
import json
import logging
import time

import pytest

from backends.registry import create_backends
from tests.edge.netns import create_hosts, netns_unavailable_reason, remove_hosts, start_sshd_in
from tests.edge.waiting import HOUR
from tui.core.config import Defaults, parse_config
from tui.core.policy import Policy
from tui.core.reconciler import Reconciler
from tui.core.store import Store


@pytest.fixture
def defaults() -> Defaults:
    return Defaults(max_backoff=4)


@pytest.fixture
def spaced(edge_lab):
    """Three nodes, each an sshd in a network namespace of its own: (hosts, nodes)."""
    reason = netns_unavailable_reason()
    if reason:
        pytest.skip(f"a black-holed node needs network namespaces of our own: {reason}")
    hosts = create_hosts(3)
    try:
        servers = [start_sshd_in(h, edge_lab) for h in hosts]
        for server in servers:
            edge_lab.trust(server)
        edge_lab.activate("web")
        yield hosts, [edge_lab.node(f"n{i}", s, services=["web"]) for i, s in enumerate(servers)]
    finally:
        for h in hosts:
            h.unblock()
        for server in edge_lab.servers:
            server.stop()
        remove_hosts(hosts)


@pytest.fixture
def asyncio_errors(caplog):
    """What asyncio logged at ERROR ("Task was destroyed but it is pending",
    "Task exception was never retrieved"), read after a garbage collection."""
    caplog.set_level(logging.WARNING, logger="asyncio")

    def read() -> list[str]:
        gc.collect()
        return [r.getMessage() for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.ERROR]

    return read


@pytest.fixture
async def reconciling(tmp_path, edge_lab):
    """start(nodes, **edge_settings) -> (reconciler, EdgeBackend from the registry, request_pass
    calls). Defaults: HOUR (no scheduled pass during a test, max_backoff 4 s)."""
    made: list[tuple[Reconciler, Store]] = []

    async def start(nodes, **edge_settings):
        edge = edge_lab.config(nodes, **edge_settings).model_dump(mode="json", exclude_none=True)
        cfg = parse_config(json.dumps({"defaults": HOUR, "environments": {"dev": {"edge": edge}}}))
        store = await Store.open(tmp_path / "state")
        rec = Reconciler(cfg, store, Policy(cfg, edge_lab.user), backends_factory=create_backends)
        made.append((rec, store))
        backend = rec.backends["dev"]["edge"]
        calls: list[float] = []
        wake = backend.request_pass
        assert wake is not None  # set by the reconciler

        def counted() -> None:  # the reconciler's own hook, counted
            calls.append(time.monotonic())
            wake()

        backend.request_pass = counted
        await rec.start()
        return rec, backend, calls

    yield start
    for rec, store in made:
        await rec.stop()
        await store.close()
