"""watch(): changes arrive through watches (no new LIST), resume from the last
resourceVersion, relist on 410, BackendUnreachable when the API is down, and
recovery without a restart."""

from __future__ import annotations

import asyncio

import pytest

from tests.kubernetes.support import NS, by_id, eventually, list_requests
from tui.core.errors import BackendUnreachable
from tui.core.model import Health

WEB = "kubernetes/Deployment/web"


def _replicas(n):
    return lambda obs: (r := by_id(obs).get(WEB)) is not None and r.attributes["replicas"] == n \
        and r.health is Health.HEALTHY


async def _started(emulator, make_backend, watching):
    emulator.create_deployment(NS, "web", replicas=2)
    emulator.create_service(NS, "web", selector={"app": "web"})
    backend = make_backend()
    backend.metrics_interval_s = 3600.0
    watch = watching(backend)
    first = await watch.next(_replicas(2), "web healthy with 2 replicas")
    return backend, watch, first


async def test_change_arrives_by_watch_without_a_new_list(emulator, make_backend, watching):
    backend, watch, first = await _started(emulator, make_backend, watching)
    lists_before = list_requests(emulator)
    assert any("/deployments" in p for p in lists_before)  # the initial inventory was listed
    emulator.patch("deployments", NS, "web", {"spec": {"replicas": 3}})
    obs = await watch.next(_replicas(3), "web scaled to 3")
    assert list_requests(emulator) == lists_before
    # Unchanged objects are the same Resource objects; changed ones are new.
    before, after = by_id(first), by_id(obs)
    assert after["kubernetes/Service/web"] is before["kubernetes/Service/web"]
    assert after[WEB] is not before[WEB]
    assert before[WEB].attributes["replicas"] == 2  # the old object was not mutated
    assert len([r for r in after.values() if r.kind == "Pod"]) == 3


async def test_watch_resumes_from_last_resource_version(emulator, make_backend, watching):
    backend, watch, _ = await _started(emulator, make_backend, watching)
    lists_before = list_requests(emulator)
    watches_before = sum(i.watches for i in backend.inventory.informers)
    emulator.close_watches()  # the server ends every stream, as an apiserver does after timeoutSeconds
    emulator.patch("deployments", NS, "web", {"spec": {"replicas": 1}})
    await watch.next(_replicas(1), "web scaled to 1 after the reconnect")
    assert sum(i.watches for i in backend.inventory.informers) > watches_before
    assert list_requests(emulator) == lists_before
    resumed = [p for m, p in emulator.request_log if "watch=" in p and "/deployments" in p]
    assert "resourceVersion=" in resumed[-1] and "resourceVersion=0&" not in resumed[-1]


async def test_410_gone_relists_and_keeps_unchanged_objects(emulator, make_backend, watching):
    backend, watch, first = await _started(emulator, make_backend, watching)
    lists_before = len(list_requests(emulator, "deployments"))
    emulator.set_failure(gone_watches=True)  # every watch now answers 410 Gone
    emulator.patch("deployments", NS, "web", {"spec": {"replicas": 4}})

    async def relisted():
        return len(list_requests(emulator, "deployments")) > lists_before
    await eventually(relisted, "a relist of deployments after 410")
    emulator.set_failure()
    obs = await watch.next(_replicas(4), "web scaled to 4 after a relist")
    assert by_id(obs)["kubernetes/Service/web"] is by_id(first)["kubernetes/Service/web"]


async def test_compacted_history_relists(emulator, make_backend, watching):
    backend, watch, _ = await _started(emulator, make_backend, watching)
    deployment_lists = len(list_requests(emulator, "deployments"))
    emulator.bookmark_interval_s = 3600.0  # no bookmark may carry the informers past the compaction
    emulator.create_configmap(NS, "unwatched", {"k": "v"})  # the store moves past what we saw
    emulator.compact()
    emulator.close_watches()  # reconnecting from a compacted resourceVersion gets 410
    emulator.patch("deployments", NS, "web", {"spec": {"replicas": 3}})
    await watch.next(_replicas(3), "web scaled to 3 after 410")
    assert len(list_requests(emulator, "deployments")) > deployment_lists


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_are_unreachable_then_recover(emulator, make_backend, watching, status):
    backend, watch, _ = await _started(emulator, make_backend, watching)
    emulator.set_failure(status=status)
    error = await watch.error()
    assert isinstance(error, BackendUnreachable)
    with pytest.raises(BackendUnreachable):
        await backend.observe()
    emulator.set_failure()
    emulator.patch("deployments", NS, "web", {"spec": {"replicas": 3}})
    again = watching(backend)  # what the reconciler does after its backoff
    await again.next(_replicas(3), "recovered watch shows the change")


async def test_api_killed_and_restarted_recovers(emulator, make_backend, watching):
    backend, watch, _ = await _started(emulator, make_backend, watching)
    port = emulator.port
    await emulator.stop()
    error = await watch.error()
    assert isinstance(error, BackendUnreachable) and "cannot reach" in str(error)
    with pytest.raises(BackendUnreachable):
        await backend.observe()
    await emulator.start(host="127.0.0.1", port=port)
    emulator.patch("deployments", NS, "web", {"spec": {"replicas": 1}})
    again = watching(backend)
    obs = await again.next(_replicas(1), "the same backend object recovered")
    assert by_id(obs)["kubernetes/Service/web"].health is Health.HEALTHY


async def test_expired_continue_token_restarts_the_list(emulator, backend):
    emulator.bulk_create_pods(NS, 1100)  # three pages of 500
    emulator.set_failure(delay_s=1.0)  # slow pages, so the history can be compacted mid-list
    observing = asyncio.create_task(backend.observe())

    async def second_page_requested():
        return any("continue=" in p and "/pods?" in p for _, p in emulator.request_log)
    await eventually(second_page_requested, "the second page of pods")
    emulator.create_configmap(NS, "bump", {"k": "v"})
    emulator.compact()  # the continue token of the first page is now too old: 410
    emulator.set_failure()
    obs = await asyncio.wait_for(observing, 120)
    assert len([r for r in obs.resources if r.kind == "Pod"]) == 1100
    starts = [p for m, p in emulator.request_log if "/namespaces/staging/pods?" in p and "continue=" not in p
              and "watch=" not in p]
    assert len(starts) >= 2  # the list was started again from the beginning


async def test_faults_and_events_arrive_by_watch(emulator, make_backend, watching):
    backend, watch, _ = await _started(emulator, make_backend, watching)
    pod = sorted(emulator.pod_names(NS, "app=web"))[0]
    emulator.inject_fault(NS, pod, "ImagePullBackOff")
    pod_id = f"kubernetes/Pod/{pod}"
    events = []

    def reported(obs):
        events.extend(obs.events)
        return any(f.resource == pod_id and f.reason == "ImagePullBackOff" for f in obs.faults) \
            and any(e.resource == pod_id and e.type == "Warning" for e in events)
    obs = await watch.next(reported, "the fault and its Warning event")
    assert by_id(obs)[pod_id].health is Health.DEGRADED
    assert by_id(obs)[pod_id].health_reason.startswith("ImagePullBackOff")


async def test_watch_carries_metric_samples(emulator, make_backend, watching):
    emulator.create_deployment(NS, "web", replicas=2)
    backend = make_backend()
    backend.metrics_interval_s = 0.2  # sample often
    watch = watching(backend)
    await watch.next(_replicas(2), "web healthy with 2 replicas")
    pod = sorted(emulator.pod_names(NS, "app=web"))[0]
    emulator.set_pod_metrics(NS, pod, cpu="300m", memory="32Mi")

    def sampled(obs):
        return (f"kubernetes/Pod/{pod}", "cpu", 300.0) in obs.samples and \
            any(s[0] == WEB and s[1] == "memory" for s in obs.samples)
    await watch.next(sampled, "samples of the pod and its deployment")
