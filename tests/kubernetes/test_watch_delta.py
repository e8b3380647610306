"""A watch's observations carry the delta since the previous one (only what changed), and the
reconciler applying those deltas ends in the state a fresh full pass gives: the same
Resources, drift marks, drifts and faults, and the same store snapshot — against the
Kubernetes emulator, with no LIST after the first (counted on the server)."""

from __future__ import annotations

import asyncio

from backends.registry import create_backends
from tests.desired_web import WEB, desired_web_yaml
from tests.kubernetes.support import NS, by_id, list_requests
from tui.core.config import WorkloadDesired, parse_config
from tui.core.model import Drift, Health, Origin
from tui.core.session import Session

API = "kubernetes/Deployment/api"
SETTINGS = "kubernetes/ConfigMap/settings"


class Deltas:
    """Every observation of a watch, the deltas after the first merged (the last word wins)."""

    def __init__(self, consumer):
        self.consumer = consumer
        self.changes: dict[str, object] = {}
        self.last = None

    async def until(self, pred, what: str):
        while True:
            obs = await self.consumer.next(what=what)
            assert obs.delta is not None, "a watch's observation after its first carries a delta"
            for r in obs.delta.changed:
                self.changes[r.id] = r
            for rid in obs.delta.removed:
                self.changes[rid] = None
            self.last = obs
            if pred(obs):
                return obs

    def take(self) -> dict[str, object]:
        out, self.changes = self.changes, {}
        return out


async def test_a_watch_yields_only_what_changed(emulator, make_backend, watching):
    emulator.create_deployment(NS, "web", replicas=2)
    emulator.create_configmap(NS, "settings", {"a": "1"})
    backend = make_backend(desired=[WorkloadDesired(kind="Deployment", name="api", replicas=1)])
    backend.metrics_interval_s = 3600.0
    consumer = watching(backend)
    first = await consumer.next(lambda o: WEB in by_id(o) and len(emulator.pod_names(NS, "app=web")) == 2,
                                "web listed")
    assert first.delta is None  # a stream's first observation is a full one
    assert by_id(first)[API].attributes.get("placeholder")  # the desired api is missing
    lists = list_requests(emulator)
    deltas = Deltas(consumer)

    pod = sorted(emulator.pod_names(NS, "app=web"))[0]
    pod_id = f"kubernetes/Pod/{pod}"
    emulator.patch("pods", NS, pod, {"metadata": {"labels": {"tier": "gold"}}})
    await deltas.until(lambda o: by_id(o)[pod_id].attributes.get("labels", {}).get("tier") == "gold", "the label by watch")
    assert set(deltas.take()) == {pod_id}  # one pod changed: the delta names it alone

    emulator.delete("configmaps", NS, "settings")
    await deltas.until(lambda o: SETTINGS not in by_id(o), "the configmap gone")
    assert deltas.take() == {SETTINGS: None}

    emulator.create_deployment(NS, "api", replicas=1)
    await deltas.until(lambda o: not by_id(o)[API].attributes.get("placeholder")
                       and any(r.kind == "Pod" and r.name.startswith("api-") for r in o.resources), "api created")
    changes = deltas.take()
    assert changes[API] is by_id(deltas.last)[API] and changes[API].drift is Drift.IN_SYNC  # replaces the placeholder
    assert {r.kind for r in changes.values() if r is not None} >= {"Deployment", "ReplicaSet", "Pod"}
    assert pod_id not in changes and WEB not in changes

    emulator.delete("deployments", NS, "api")
    await deltas.until(lambda o: by_id(o)[API].attributes.get("placeholder"), "api missing again")
    changes = deltas.take()
    assert changes[API] is not None and changes[API].health is Health.MISSING  # a placeholder, not a removal
    assert list_requests(emulator) == lists  # all of it by watch: no LIST on the server


async def until(predicate, what, timeout=60.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, f"never: {what}"
        await asyncio.sleep(0.02)


def _content(resource) -> dict:
    data = resource.to_json()
    data.pop("observed_at", None)
    return data


async def test_state_after_watch_deltas_equals_a_fresh_full_pass(emulator, kubeconfig, tmp_path):
    yaml = desired_web_yaml(kubeconfig, NS, repair="observe",
                            more_desired="        - {kind: Deployment, name: api, replicas: 2}\n")
    emulator.create_deployment(NS, "web", replicas=3)
    emulator.create_deployment(NS, "db", replicas=2)
    emulator.create_configmap(NS, "settings", {"a": "1"})
    session = await Session.open(parse_config(yaml), tmp_path / "live", origin=Origin.TUI, user="bob",
                                 backends_factory=create_backends)
    fresh = await Session.open(parse_config(yaml), tmp_path / "fresh", origin=Origin.CLI, user="bob",
                               backends_factory=create_backends)
    try:
        session.reconciler.backends["prod"]["kubernetes"].coalesce_s = 0.05
        await session.reconciler.start()
        env = session.reconciler.envs["prod"]
        await until(lambda: env.backends["kubernetes"].reachable and (w := env.resource(WEB)) is not None
                    and w.health is Health.HEALTHY, "a first pass")
        lists = list_requests(emulator)

        # a sequence of changes, each arriving by watch
        web_pods = sorted(emulator.pod_names(NS, "app=web"))
        emulator.patch("pods", NS, web_pods[0], {"metadata": {"labels": {"tier": "gold"}}})
        emulator.inject_fault(NS, web_pods[1], "CrashLoopBackOff")
        emulator.patch("deployments", NS, "web", {"spec": {"replicas": 5}})  # drifts from the desired 3
        emulator.delete("configmaps", NS, "settings")
        emulator.create_configmap(NS, "flags", {"b": "2"})
        emulator.create_deployment(NS, "api", replicas=2)
        await until(lambda: (a := env.resource(API)) is not None and not a.attributes.get("placeholder")
                    and a.health is Health.HEALTHY, "api created")
        emulator.patch("deployments", NS, "api", {"spec": {"replicas": 1}})  # drifts too
        emulator.delete("deployments", NS, "db")
        await until(lambda: env.resource(WEB).attributes.get("replicas") == 5
                    and env.resource(WEB).drift is Drift.DRIFTED and env.resource(API).drift is Drift.DRIFTED
                    and env.resource("kubernetes/Deployment/db") is None
                    and env.resource(SETTINGS) is None and env.resource("kubernetes/ConfigMap/flags") is not None
                    and any(f.reason == "CrashLoopBackOff" for f in env.faults["kubernetes"])
                    and env.resource(f"kubernetes/Pod/{web_pods[0]}").attributes.get("labels", {}).get("tier") == "gold"
                    and len([r for r in env.resources["kubernetes"].values() if r.kind == "Pod"]) ==
                    len(emulator.pod_names(NS)), "every change shown")
        emulator.patch("deployments", NS, "api", {"spec": {"replicas": 2}})  # back in sync
        await until(lambda: env.resource(API).drift is Drift.IN_SYNC and env.resource(API).attributes.get(
            "replicas") == 2, "api back in sync")
        # an overlay written by another process (no wake): the next delta, about another resource
        # only, re-diffs every resource with desired state: web is in sync with the overlay's 5
        await session.store.set_overlay("prod", WEB, "replicas", 5, user="alice", reason="load test")
        await fresh.store.set_overlay("prod", WEB, "replicas", 5, user="alice", reason="load test")
        emulator.patch("pods", NS, web_pods[0], {"metadata": {"labels": {"tier": "silver"}}})
        await until(lambda: env.resource(WEB).drift is Drift.IN_SYNC, "web in sync with the overlay")
        await asyncio.sleep(0.5)  # the last watch batches
        assert list_requests(emulator) == lists  # every change came by watch (deltas), none by a LIST

        await fresh.reconciler.run_once()
        full = fresh.reconciler.envs["prod"]
        live = {rid: _content(r) for rid, r in env.resources["kubernetes"].items()}
        assert live == {rid: _content(r) for rid, r in full.resources["kubernetes"].items()}
        assert {(d.resource, d.field, d.desired, d.actual) for d in env.drifts["kubernetes"]} == \
            {(d.resource, d.field, d.desired, d.actual) for d in full.drifts["kubernetes"]} == set()
        assert sorted((f.resource, f.reason) for f in env.faults["kubernetes"]) == \
            sorted((f.resource, f.reason) for f in full.faults["kubernetes"])
        # the store's snapshot, written change by change, holds what a full pass wrote
        stored = {r.id: _content(r) for r in (await session.store.load_snapshot("prod"))["kubernetes"]}
        assert stored == {r.id: _content(r) for r in (await fresh.store.load_snapshot("prod"))["kubernetes"]}
        assert set(stored) == set(live)
    finally:
        await session.close()
        await fresh.close()
