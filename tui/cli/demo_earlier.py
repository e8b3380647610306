"""Environments an earlier `envdeck demo` created in the same --state-dir.

The demo's servers are ephemeral: moto, the Kubernetes emulator and the edge nodes of a demo run
live in its temporary directory (`envdeck-demo-*`, its kubeconfigs, known_hosts and manifests) and
on random ports, and end with it. An environment created from the `preview` template of an earlier
run keeps that run's endpoints in its rendered spec: restarted on the same state dir, the demo
showed it `● ready` with `✗aws ✗k8s ✗edge`, and a create still pending resumed against the dead
servers and failed (`host key of [127.0.0.1]:43789 …`).

At start, before the TUI (or the headless pass) opens the store, each such environment is marked
`destroyed` (what it had went with its servers): its pending operation is cleared, its edge claims
released, and an `env.destroy` audit row says why; the demo says which ones. Only an environment
whose spec points into a demo directory that is not this run's, and whose servers are gone (that
directory removed, or its AWS endpoint refusing connections: a demo killed without its clean-up),
is touched; anything else in the state dir (a real config's environments, another demo still
running) is left as it is.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tui.core.config import EnvdeckConfig
from tui.core.identity import current_user
from tui.core.lifecycle.lifecycle_store import LifecycleStore
from tui.core.lifecycle.records import EnvLifecycleState, ManagedEnvironment
from tui.core.lifecycle.service import DESTROY
from tui.core.model import AuditResult, Origin
from tui.core.store import open_store

DEMO_DIR_PREFIX = "envdeck-demo-"   # the demo's temporary directory (tempfile prefix)
CONNECT_TIMEOUT_S = 0.5
REASON = "its servers ended with an earlier envdeck demo run"
STEP = "demo-restart"


@dataclass(frozen=True, slots=True)
class EarlierEnvironment:
    """An environment of an earlier demo run, marked destroyed: its name and what it was."""

    name: str
    was: str   # its state before, with the operation that was pending (`provisioning, create pending`)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def demo_dirs(managed: ManagedEnvironment) -> set[Path]:
    """The demo directories (`…/envdeck-demo-*`) the environment's spec points into."""
    found: set[Path] = set()
    for text in _strings(managed.spec.to_json()):
        if DEMO_DIR_PREFIX not in text:
            continue
        path = Path(text)
        for ancestor in (path, *path.parents):
            if ancestor.name.startswith(DEMO_DIR_PREFIX):
                found.add(ancestor)
                break
    return found


def _refuses(endpoint: str) -> bool:
    """True when nothing listens at the loopback `endpoint` (an http URL); False for another host."""
    parts = urlsplit(endpoint)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1") or parts.port is None:
        return False
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=CONNECT_TIMEOUT_S):
            return False
    except OSError:
        return True


def servers_gone(managed: ManagedEnvironment, this_run: Path) -> bool:
    """The environment was created by another demo run whose servers are gone."""
    dirs = demo_dirs(managed)
    if not dirs or this_run.resolve() in {d.resolve() for d in dirs}:
        return False
    if any(not d.exists() for d in dirs):
        return True
    endpoint = (managed.spec.environment.get("aws") or {}).get("endpoint_url") or ""
    return bool(endpoint) and _refuses(str(endpoint))


def _was(managed: ManagedEnvironment) -> str:
    state = str(managed.state)
    return f"{state}, {managed.operation} pending" if managed.operation else state


async def retire_earlier(config: EnvdeckConfig | None, state_dir: Path, this_run: Path) -> list[EarlierEnvironment]:
    """Mark destroyed the environments of earlier demo runs in `state_dir` whose servers are gone;
    returns them (none: nothing written)."""
    store = await open_store(config, state_dir)
    retired: list[EarlierEnvironment] = []
    try:
        lstore = LifecycleStore(store)
        for managed in await lstore.list():
            if not servers_gone(managed, this_run):
                continue
            retired.append(EarlierEnvironment(managed.name, _was(managed)))
            await lstore.finish_destroy(managed.name, [], release_claims=True, step=STEP, reason=REASON)
            if managed.operation is not None:   # finish_destroy clears a pending destroy only
                await lstore.set_state(managed.name, EnvLifecycleState.DESTROYED, step=STEP, reason=REASON,
                                       finished=managed.operation)
            await store.audit_record(user=current_user(), env=managed.name, target=managed.name,
                                     action=DESTROY.name, params={"was": _was(managed), "by": "envdeck demo"},
                                     origin=str(Origin.CLI), result=AuditResult.SUCCEEDED,
                                     message=f"destroyed: {REASON} (marked at the demo's start)")
    finally:
        await store.close()
    return retired


def retired_line(state_dir: Path, retired: list[EarlierEnvironment]) -> str:
    """What the demo says of them (one line)."""
    names = ", ".join(f"{r.name} ({r.was})" for r in retired)
    return (f"envdeck demo: {state_dir} kept {len(retired)} environment(s) created in an earlier demo run: "
            f"{names}; their servers ended with that run, so they are marked destroyed (the audit trail "
            "keeps them; create them again here)")
