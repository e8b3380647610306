"""429 Too Many Requests (API Priority and Fairness), and a 5xx with Retry-After, are retried
after its Retry-After while the call's timeout allows; a 429 is reported as throttling when it
does not; 5xx is reported as the server's error with its message, sanitized (a 5xx without
Retry-After: tests/kubernetes/test_server_error_retries.py). Counted on the emulator's side."""

from __future__ import annotations

from collections import Counter

import pytest

from backends.kubernetes.api import SERVER_ERROR_RETRIES
from tests.kubernetes.support import NS, by_id, eventually
from tui.core.errors import BackendUnreachable

WEB = "kubernetes/Deployment/web"


def _answered(emulator, status: int) -> list[str]:
    return [p for _, p, s in list(emulator.response_log) if s == status]


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_honoured_and_the_pass_succeeds(emulator, make_backend, status):
    emulator.create_deployment(NS, "web", replicas=1)
    backend = make_backend()  # defaults.timeout 10 s: a Retry-After of 1 s fits
    emulator.set_failure(status=status, retry_after_s=1, times=3,
                         message="Too many requests, please try again later.")
    obs = await backend.observe()
    assert WEB in by_id(obs)
    assert emulator.failure.injected == 3
    throttled = _answered(emulator, status)
    assert len(throttled) == 3
    answered = Counter(_answered(emulator, 200))
    for path in throttled:
        assert answered[path] >= 1, f"{path} was asked again and answered"


async def test_429_beyond_the_timeout_is_reported_as_throttling_without_a_retry(emulator, make_backend):
    backend = make_backend(timeout=2.0)
    emulator.set_failure(status=429, retry_after_s=30, message="Too many requests, please try again later.")
    with pytest.raises(BackendUnreachable) as raised:
        await backend.observe()
    text = str(raised.value)
    assert "throttled by the API server (429): Too many requests, please try again later." in text
    assert "cannot reach" not in text
    per_path = Counter(_answered(emulator, 429))
    assert per_path and max(per_path.values()) == 1, f"a 30 s Retry-After is not waited within 2 s: {per_path}"


async def test_a_throttled_watch_reconnect_is_retried_without_an_alarm(emulator, make_backend, watching):
    emulator.create_deployment(NS, "web", replicas=1)
    backend = make_backend()
    backend.metrics_interval_s = 3600.0
    watch = watching(backend)
    await watch.next(lambda o: WEB in by_id(o), "web observed")
    emulator.set_failure(status=429, retry_after_s=1, times=4)  # ends the watches: they reconnect into 429s

    async def spent():
        return emulator.failure.injected == 4
    await eventually(spent, "four reconnects throttled")
    emulator.patch("deployments", NS, "web", {"spec": {"replicas": 2}})
    await watch.next(lambda o: by_id(o)[WEB].attributes["replicas"] == 2, "the change, after the retried watches")
    assert not watch.task.done(), "a throttled reconnect is no outage"


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_say_what_the_server_said_sanitized(emulator, make_backend, status):
    backend = make_backend()
    emulator.set_failure(status=status, message="etcdserver: request timed out\x1b]52;c;aGk=\x07[red]x")
    with pytest.raises(BackendUnreachable) as raised:
        await backend.observe()
    text = str(raised.value)
    assert f"API server error {status}" in text and "etcdserver: request timed out" in text, text
    assert "\x1b" not in text and "\x07" not in text and "␛" in text
    assert "cannot reach" not in text
    per_path = Counter(_answered(emulator, status))
    # no Retry-After: a read is asked again at most SERVER_ERROR_RETRIES times, out of the API server's
    # shared budget (tests/kubernetes/test_server_error_retries.py counts those retries exactly)
    assert per_path and max(per_path.values()) <= 1 + SERVER_ERROR_RETRIES, per_path


async def test_doctor_check_names_the_server_error_of_get_version(emulator, backend):
    emulator.set_failure(status=503, message="apiserver is shutting down\x1b[2J")
    with pytest.raises(BackendUnreachable) as raised:
        await backend.check()  # GET /version through the official client
    text = str(raised.value)
    assert text.startswith("GET /version: API server error 503: apiserver is shutting down"), text
    assert "\x1b" not in text
    assert [(m, s) for m, p, s in emulator.response_log if p.startswith("/version")] == [("GET", 503)]
