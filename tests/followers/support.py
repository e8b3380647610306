"""Leaders and followers for the follower tests and the benchmark: in-process Sessions with
running reconcilers on one store (SQLite in a state directory, or PostgreSQL through
$ENVDECK_STATE_URL), the Kubernetes API emulator as the cloud.

The followers are configured with the same environment as the leader, their kubeconfig naming
an emulator of their own: every request a follower makes to the cloud is counted there, on the
server side (`request_log`), so "zero inventory calls" is a number the server gives; once a
follower takes the lease over, that server sees its passes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path

from backends.registry import create_backends
from backends.sim.k8s_emulator import Emulator, EmulatorThread
from tui.core.config import parse_config
from tui.core.model import Origin
from tui.core.session import Session

ENV = "staging"
NS = "staging"

CONFIG = """defaults: {{interval: 30s, timeout: 5s, max_backoff: 2s}}
environments:
  staging:
    repair: observe
    access:
      admin: ["*"]
    kubernetes:
      kubeconfig: {kubeconfig}
      context: emulator
      namespace: staging
"""


def start_emulator(directory: Path, name: str) -> tuple[EmulatorThread, Path]:
    """An emulator in a thread with the namespace, and a kubeconfig naming it."""
    thread = EmulatorThread(Emulator(token="follow-" + uuid.uuid4().hex))
    thread.start()
    thread.emu.add_namespace(NS)
    kubeconfig = thread.emu.write_kubeconfig(directory / f"kubeconfig-{name}", namespace=NS, context="emulator")
    return thread, kubeconfig


def requests(thread: EmulatorThread) -> list[tuple[str, str]]:
    return list(thread.emu.request_log)


async def open_session(state_dir: Path, kubeconfig: Path, user: str, holder: str, *, start: bool = True) -> Session:
    session = await Session.open(parse_config(CONFIG.format(kubeconfig=kubeconfig)), state_dir, origin=Origin.TUI,
                                 user=user, backends_factory=create_backends)
    session.reconciler.leadership.holder = holder
    if start:
        await session.start_reconciling()
    return session


async def until(predicate: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"never: {what}"
        await asyncio.sleep(0.01)


async def until_published(session: Session, timeout: float = 30.0) -> None:
    """Until the leader `session` has published `ENV` (its first pass's last write)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while await session.reconciler.follower.feed.read(ENV) is None:
        assert loop.time() < deadline, "the leader never published"
        await asyncio.sleep(0.02)


def has(session: Session, resource_id: str) -> bool:
    return session.state(ENV).resource(resource_id) is not None
