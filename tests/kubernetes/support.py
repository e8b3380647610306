"""What the Kubernetes backend tests share besides fixtures: the namespace, waiting helpers,
a watch consumer and the emulator's LIST requests (imported by tests; conftest.py keeps the fixtures)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import envdeck_inproc

NS = "staging"
WAIT_S = 60.0  # generous: other suites share the 2 cores


async def eventually(check: Callable[[], Awaitable[object]], what: str, timeout: float = WAIT_S):
    """Poll an async check until it returns something truthy (or fail after `timeout`)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def by_id(obs):
    return {r.id: r for r in obs.resources}


class WatchConsumer:
    """Runs `backend.watch()` in a task; observations (or the error that ended it) go to a queue."""

    def __init__(self, backend):
        self.backend = backend
        self.queue: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        try:
            async for obs in self.backend.watch():
                await self.queue.put(obs)
        except Exception as exc:  # noqa: BLE001 - handed to the test
            await self.queue.put(exc)

    async def next(self, pred=lambda obs: True, what: str = "an observation", timeout: float = WAIT_S):
        """The next observation satisfying `pred`; an error from watch() is raised."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}")
            try:
                item = await asyncio.wait_for(self.queue.get(), timeout=left)
            except TimeoutError:
                continue
            if isinstance(item, Exception):
                raise item
            if pred(item):
                return item

    async def error(self, timeout: float = WAIT_S) -> Exception:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            item = await asyncio.wait_for(self.queue.get(), timeout=max(0.01, deadline - time.monotonic()))
            if isinstance(item, Exception):
                return item
        raise AssertionError("watch() did not fail")

    async def close(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass


def list_requests(emulator, plural: str | None = None) -> list[str]:
    """LIST requests (not watches) the emulator received for namespaced collections."""
    out = []
    for method, path_qs in list(emulator.request_log):
        path = path_qs.split("?", 1)[0]
        if method != "GET" or "watch=" in path_qs or f"/namespaces/{NS}/" not in path:
            continue
        tail = path.split(f"/namespaces/{NS}/", 1)[1]
        if "/" in tail or "metrics.k8s.io" in path:
            continue  # a single object or a subresource, or the metrics API
        if plural is None or tail == plural:
            out.append(path_qs)
    return out


def status_environment(tmp_path: Path, kubeconfig: Path, namespace: str) -> dict:
    """The one environment of `envdeck status --json` (in-process) for a config of a Kubernetes
    environment "e" on `namespace`, its state in tmp_path/state; the command must succeed."""
    path = tmp_path / "envdeck.yaml"
    path.write_text(yaml.safe_dump({"environments": {"e": {"kubernetes": {
        "kubeconfig": str(kubeconfig), "context": "emulator", "namespace": namespace}}}}))
    path.chmod(0o600)
    proc = envdeck_inproc("status", "--json", "--config", str(path), "--state-dir", str(tmp_path / "state"))
    assert proc.returncode == 0, proc.stderr
    [env] = json.loads(proc.stdout)["environments"]
    return env


async def now(value: object) -> object:
    """`value` as an awaitable, for `eventually(lambda: now(...))` on a plain condition."""
    return value


@contextlib.asynccontextmanager
async def watched_prod(emulator, kubeconfig: Path, tmp_path: Path, monkeypatch, *, probe_s: float = 0.3,
                       silence_s: float = 2.0) -> AsyncIterator[tuple[Any, Any, Any]]:
    """A TUI's session (user bob) on env prod = namespace NS of the emulator, with a Deployment
    `web`, its liveness probe every `probe_s` and unreachable after max(3 x 1 s timeout,
    `silence_s`): yields (session, the reconciler's env, its kubernetes BackendState) once the
    first observation is in and the backend watches."""
    from backends.kubernetes import KubernetesBackend
    from backends.registry import create_backends
    from tests.desired_web import desired_web_yaml
    from tui.core.config import parse_config
    from tui.core.model import Origin
    from tui.core.session import Session

    monkeypatch.setattr(KubernetesBackend, "liveness_interval_s", probe_s)
    monkeypatch.setattr(KubernetesBackend, "silence_floor_s", silence_s)
    emulator.create_deployment(NS, "web", replicas=3)
    cfg = parse_config(desired_web_yaml(kubeconfig, NS, repair="observe", defaults="defaults: {timeout: 1}"))
    session = await Session.open(cfg, tmp_path / "state", origin=Origin.TUI, user="bob", backends_factory=create_backends)
    try:
        await session.reconciler.start()
        env = session.reconciler.envs["prod"]
        state = env.backends["kubernetes"]
        await eventually(lambda: now(state.reachable and state.watching and env.resource("kubernetes/Deployment/web")),
                         "a first observation, watching")
        yield session, env, state
    finally:
        await session.close()
