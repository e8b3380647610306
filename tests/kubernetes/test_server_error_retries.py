"""A 5xx without Retry-After (backends/kubernetes/api.py): an idempotent read (a list, a get, a
watch's establishment) is asked again a bounded number of times, with backoff and jitter; a write
(PATCH) never is, the server may have done it; the retries of every call to one API server come
out of one shared budget, so a persistent 503 on 17 kinds is no retry storm; the error after the
retries names the status and how often it was asked. Counted on the emulator's side."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from backends.kubernetes.api import SERVER_ERROR_RETRIES, RetryBudget
from tests.kubernetes.support import NS, by_id
from tui.core.errors import BackendUnreachable

WEB = "kubernetes/Deployment/web"


def _answered(emulator, status: int) -> list[str]:
    return [p for _, p, s in list(emulator.response_log) if s == status]


async def test_transient_503s_on_reads_are_retried_and_the_pass_succeeds(emulator, make_backend):
    emulator.create_deployment(NS, "web", replicas=1)
    backend = make_backend()
    emulator.set_failure(status=503, times=3, message="etcd leader changed")  # no Retry-After
    obs = await backend.observe()
    assert WEB in by_id(obs)
    assert emulator.failure.injected == 3
    answered = Counter(_answered(emulator, 200))
    for path in _answered(emulator, 503):
        assert answered[path] >= 1, f"{path} was asked again and answered"


async def test_a_write_answered_503_is_not_asked_again(emulator, make_backend):
    emulator.create_deployment(NS, "web", replicas=1)
    backend = make_backend()
    res = by_id(await backend.observe())[WEB]
    emulator.response_log.clear()
    emulator.set_failure(status=503, times=1, message="etcd leader changed")
    with pytest.raises(BackendUnreachable) as raised:
        await backend.perform(res, "scale", {"replicas": "3"})
    assert "API server error 503: etcd leader changed" in str(raised.value), raised.value
    patches = [(p, s) for m, p, s in list(emulator.response_log) if m == "PATCH"]
    assert len(patches) == 1 and patches[0][1] == 503, f"a write is never asked again blindly: {patches}"
    assert emulator.get("deployments", NS, "web")["spec"]["replicas"] == 1


async def test_a_persistent_503_spends_the_api_servers_shared_budget_and_names_the_status(emulator, make_backend):
    backend = make_backend()
    await backend.observe()
    api = backend.api
    paths = [informer.path for informer in backend.inventory.informers]  # every kind's collection
    budget = RetryBudget(capacity=4, per_s=0.0)  # every call's retries out of 4, none refilled
    api.retry_budget = budget
    emulator.response_log.clear()
    emulator.set_failure(status=503, message="apiserver overloaded")
    outcomes = await asyncio.gather(*(api.get(path) for path in paths), return_exceptions=True)
    assert len(paths) > 4 and all(isinstance(o, BackendUnreachable) for o in outcomes), outcomes
    per_path = Counter(p.partition("?")[0] for p in _answered(emulator, 503))
    assert set(per_path) == set(paths), per_path
    retried = sum(n - 1 for n in per_path.values())
    assert retried == budget.spent == 4, f"retries beyond the shared budget: {per_path}"
    assert budget.refused >= 1
    assert max(per_path.values()) <= 1 + SERVER_ERROR_RETRIES, per_path
    texts = [str(o) for o in outcomes]
    assert all("API server error 503" in t and "apiserver overloaded" in t for t in texts), texts
    assert any("API server error 503 (asked " in t for t in texts), texts
