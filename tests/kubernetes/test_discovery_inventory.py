"""Inventory by discovery (issue 17) against the emulator: every namespaced list+watch type
appears, CRDs included and without a restart; noise is left out; RBAC-forbidden types are
skipped quietly and named by `envdeck doctor`; ConfigMaps show keys and sizes, values only on request."""

from __future__ import annotations

import asyncio
import sys

import pytest

from tests.helpers import envdeck_env, repo_root
from tests.kubernetes.support import NS, by_id, eventually
from tui.core.errors import InvalidRequest
from tui.core.model import Health

CRD = "apiextensions.k8s.io/customresourcedefinitions"


def crd(group: str = "cert-manager.io", kind: str = "Certificate", plural: str = "certificates") -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"plural": plural, "singular": kind.lower(), "kind": kind},
                     "versions": [{"name": "v1", "served": True, "storage": True, "subresources": {"status": {}}}]}}


def cert(name: str, group: str = "cert-manager.io", kind: str = "Certificate") -> dict:
    return {"apiVersion": f"{group}/v1", "kind": kind, "metadata": {"name": name, "namespace": NS},
            "spec": {"secretName": f"{name}-tls"}}


def _ready(status: str, reason: str, message: str) -> dict:
    return {"conditions": [{"type": "Ready", "status": status, "reason": reason, "message": message,
                            "lastTransitionTime": "2026-01-01T00:00:00Z"}]}


async def test_a_crd_created_while_watching_appears_with_its_objects_and_goes_with_them(emulator, backend,
                                                                                         watching):
    emulator.create_deployment(NS, "web", replicas=1)
    watch = watching(backend)
    await watch.next(lambda o: "kubernetes/Deployment/web" in by_id(o), "first inventory")
    discoveries = backend.inventory.discoveries
    emulator.create(CRD, crd())
    emulator.create("cert-manager.io/certificates", cert("web"))
    emulator.set_status("cert-manager.io/certificates", NS, "web",
                        _ready("False", "DoesNotExist", "Issuing certificate as Secret does not exist"))
    emulator.create("cert-manager.io/certificates", cert("api"))
    emulator.set_status("cert-manager.io/certificates", NS, "api", _ready("True", "Ready", "Certificate is up to date"))

    def both(obs):
        found = by_id(obs)
        web, api = found.get("kubernetes/Certificate/web"), found.get("kubernetes/Certificate/api")
        return web is not None and api is not None and web.health is Health.DEGRADED and \
            api.health is Health.HEALTHY
    obs = await watch.next(both, "the new CRD's objects with their health, without a restart")
    web = by_id(obs)["kubernetes/Certificate/web"]
    assert web.health_reason == "DoesNotExist: Issuing certificate as Secret does not exist"
    assert web.attributes["api_version"] == "cert-manager.io/v1" and web.status == "Ready=False"
    assert any(f.resource == web.id and f.reason == "DoesNotExist" for f in obs.faults)
    assert backend.inventory.discoveries > discoveries  # read again on the CRD event, not polled
    emulator.delete(CRD, None, "certificates.cert-manager.io")
    await watch.next(lambda o: not any(r.kind == "Certificate" for r in o.resources), "the CRD's kind gone")
    await eventually(lambda: _async("Certificate" not in backend.inventory.tables), "the kind's table dropped")
    assert backend.inventory.failure() is None  # the type's end (watch closed, 404) is not an error


async def test_without_the_right_to_watch_crds_discovery_is_read_again_periodically(emulator, backend, watching):
    emulator.forbidden_lists.add("customresourcedefinitions")  # a namespace-scoped user, as usual
    backend_inv = await backend._ensure()
    backend_inv.rediscover_s = 0.5
    watch = watching(backend)
    await watch.next(lambda o: "kubernetes/Node/node-1" in by_id(o), "first inventory")
    emulator.create(CRD, crd("acme.io", "Widget", "widgets"))
    emulator.create("acme.io/widgets", cert("w1", "acme.io", "Widget"))
    obs = await watch.next(lambda o: "kubernetes/Widget/w1" in by_id(o), "the widget after a periodic discovery")
    widget = by_id(obs)["kubernetes/Widget/w1"]
    assert widget.health is Health.HEALTHY and widget.health_reason == ""  # no status: healthy by existence
    assert "customresourcedefinitions.apiextensions.k8s.io" not in backend_inv.forbidden()  # not a shown kind


async def test_discovered_kinds_typed_generic_and_noise_left_out(emulator, backend):
    emulator.create(CRD, crd())
    emulator.create(CRD, crd("other.example.com", "Certificate", "certificates"))  # the same kind, another group
    emulator.create("cert-manager.io/certificates", cert("a"))
    emulator.create("other.example.com/certificates", cert("b", "other.example.com"))
    emulator.create("coordination.k8s.io/leases", {"metadata": {"name": "leader", "namespace": NS},
                                                   "spec": {"holderIdentity": "x"}})
    emulator.create("discovery.k8s.io/endpointslices", {"metadata": {"name": "web-abc", "namespace": NS},
                                                        "addressType": "IPv4", "endpoints": []})
    emulator.create("networking.k8s.io/networkpolicies", {"metadata": {"name": "deny", "namespace": NS},
                                                          "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
    obs = await backend.observe()
    found = by_id(obs)
    kinds = {r.kind for r in obs.resources}
    assert "kubernetes/Certificate/a" in found and "kubernetes/Certificate.other.example.com/b" in found
    assert not kinds & {"Lease", "EndpointSlice", "Endpoints", "Event", "ControllerRevision"}
    assert found["kubernetes/NetworkPolicy/deny"].health is Health.HEALTHY
    assert found["kubernetes/NetworkPolicy/deny"].attributes["policy_types"] == ["Ingress"]
    watched = {i.spec.resource_name for i in backend.inventory.informers}
    assert {"ingresses.networking.k8s.io", "horizontalpodautoscalers.autoscaling", "cronjobs.batch",
            "poddisruptionbudgets.policy", "configmaps", "serviceaccounts"} <= watched
    assert not watched & {"leases.coordination.k8s.io", "endpointslices.discovery.k8s.io", "endpoints",
                          "controllerrevisions.apps"}
    lists = _kind_lists(emulator)
    assert len(lists) == len(set(lists)) == len(backend.inventory.informers), "one LIST per kind"


async def test_many_crds_each_listed_once(emulator, backend):
    for i in range(50):  # with the built-in types: ~60 resource types, as in the benchmark
        emulator.create(CRD, crd(f"g{i}.example.com", f"Thing{i}", f"things{i}"))
    emulator.create("g7.example.com/things7", cert("seven", "g7.example.com", "Thing7"))
    obs = await backend.observe()
    assert "kubernetes/Thing7/seven" in by_id(obs)
    assert len(backend.inventory.informers) >= 60
    lists = _kind_lists(emulator)
    assert len(lists) == len(set(lists)) == len(backend.inventory.informers)


async def test_a_forbidden_kind_is_skipped_quietly_and_named(emulator, backend, watching):
    emulator.create_configmap(NS, "settings", {"a": "b"})
    emulator.create_deployment(NS, "web", replicas=1)
    emulator.forbidden_lists.update({"configmaps", "networking.k8s.io/ingresses"})
    obs = await backend.observe()  # no error
    assert "kubernetes/Deployment/web" in by_id(obs)
    assert not any(r.kind in ("ConfigMap", "Ingress") for r in obs.resources)
    assert backend.inventory.forbidden() == ["configmaps", "ingresses.networking.k8s.io"]
    watch = watching(backend)  # the watch does not die of it either
    emulator.create_deployment(NS, "api", replicas=1)
    await watch.next(lambda o: "kubernetes/Deployment/api" in by_id(o), "a change seen while skipping")


async def test_doctor_lists_the_kinds_it_may_not_list(emulator, kubeconfig, tmp_path):
    emulator.forbidden_lists.update({"configmaps", "poddisruptionbudgets"})
    config = tmp_path / "envdeck.yaml"
    config.write_text(f"environments:\n  staging:\n    kubernetes: {{kubeconfig: {kubeconfig}, namespace: {NS}}}\n")
    config.chmod(0o600)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tui.cli", "doctor", "--config", str(config), "--state-dir", str(tmp_path / "state"),
        cwd=repo_root(), env=envdeck_env(PYTHONPATH=str(repo_root())),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    lines = out.decode().splitlines()
    assert any(line.startswith("ok    staging/kubernetes: Kubernetes") for line in lines), out.decode() + err.decode()
    assert ("info  staging/kubernetes: not allowed to list: configmaps, poddisruptionbudgets.policy (skipped)"
            in lines), out.decode()


async def test_configmap_keys_and_sizes_values_only_on_request(emulator, backend):
    emulator.create_configmap(NS, "app-config", {"REGION": "eu-west-1", "FLAGS": "checkout-v2,search-beta"})
    emulator.create_secret(NS, "db", {"password": "s3cr3t-never-shown"})
    obs = await backend.observe()
    cm = by_id(obs)["kubernetes/ConfigMap/app-config"]
    assert cm.attributes["keys"] == {"FLAGS": 23, "REGION": 9} and cm.status == "2 key(s), 32 B"
    assert "eu-west-1" not in repr(cm) and "checkout-v2" not in repr(cm)
    result = await backend.perform(cm, "value", {"key": "REGION"})
    assert result.data == {"key": "REGION", "value": "eu-west-1"}
    with pytest.raises(InvalidRequest, match="has no key 'NOPE' \\(keys: FLAGS, REGION\\)"):
        await backend.perform(cm, "value", {"key": "NOPE"})
    secret = by_id(obs)["kubernetes/Secret/db"]
    assert [a.name for a in backend.actions(secret)] == []  # Secrets: values never
    with pytest.raises(InvalidRequest):
        await backend.perform(secret, "value", {"key": "password"})


async def test_a_group_failing_discovery_is_skipped_and_named_by_doctor(emulator, backend):
    emulator.create_deployment(NS, "web", replicas=1)
    emulator.create("policy/poddisruptionbudgets", {"metadata": {"name": "web", "namespace": NS},
                                                    "spec": {"minAvailable": 1}})
    emulator.unavailable_groups.add("policy")  # its resource list answers 503, as a down aggregated API
    obs = await backend.observe()  # no error: the rest is shown
    assert "kubernetes/Deployment/web" in by_id(obs)
    assert not any(r.kind == "PodDisruptionBudget" for r in obs.resources)
    assert backend.inventory.discovered.unavailable == ["policy/v1"]
    await backend.check()
    assert backend.doctor_notes() == ["kubernetes: API groups not answering discovery: policy/v1 "
                                      "(their kinds are not shown)"]
    assert not any(s.group == "metrics.k8s.io" for s in backend.inventory.discovered.specs)  # not watchable


async def _async(value):
    return value


def _kind_lists(emulator) -> list[str]:
    """Paths of the inventory's LIST requests (the metrics sampler's pod usage list aside)."""
    return [p.split("?")[0] for m, p in emulator.request_log
            if m == "GET" and "watch=" not in p and "limit=500" in p and "metrics.k8s.io" not in p]


async def test_the_demo_seed_shows_each_new_kind_with_a_fault_worth_finding(emulator, backend):
    from backends.sim.k8s_emulator.demo_seed import seed_demo

    seed_demo(emulator, namespaces=(NS,))
    obs = await backend.observe()
    found = by_id(obs)
    expected = {"kubernetes/Ingress/web": Health.PROGRESSING,  # the first namespace's has no load balancer
                "kubernetes/HorizontalPodAutoscaler/api": Health.DEGRADED,
                "kubernetes/CronJob/nightly-report": Health.SUSPENDED,
                "kubernetes/PodDisruptionBudget/postgres": Health.DEGRADED,
                "kubernetes/Certificate/web-tls": Health.DEGRADED,
                "kubernetes/NetworkPolicy/default-deny": Health.HEALTHY,
                "kubernetes/ConfigMap/app-config": Health.HEALTHY}
    assert {rid: found[rid].health for rid in expected} == expected
    faulted = {f.resource: f.reason for f in obs.faults}
    assert faulted["kubernetes/HorizontalPodAutoscaler/api"] == "FailedGetResourceMetric"
    assert faulted["kubernetes/PodDisruptionBudget/postgres"] == "NoDisruptionAllowed"
    assert faulted["kubernetes/Certificate/web-tls"] == "DoesNotExist"
    cert_fault = next(f for f in obs.faults if f.resource == "kubernetes/Certificate/web-tls")
    assert cert_fault.message == "Issuing certificate as Secret does not exist"  # the reason not repeated


async def test_a_discovered_kind_failing_while_watched_does_not_end_the_watch(emulator, backend, watching):
    """RBAC revoked on one kind while envdeck watches (its watch reconnects into a 403), or a CRD
    whose conversion webhook breaks: that kind keeps its last-known objects and is named; the rest goes on."""
    emulator.create_configmap(NS, "settings", {"a": "b"})
    watch = watching(backend)
    await watch.next(lambda o: "kubernetes/ConfigMap/settings" in by_id(o), "first inventory")
    emulator.forbidden_lists.add("configmaps")
    emulator.close_watches()  # every informer reconnects; the configmaps watch now answers 403
    emulator.create_deployment(NS, "after", replicas=1)
    obs = await watch.next(lambda o: "kubernetes/Deployment/after" in by_id(o), "changes after the revocation")
    assert "kubernetes/ConfigMap/settings" in by_id(obs)  # last known
    await eventually(lambda: _async("configmaps" in backend.inventory.unavailable()), "the kind named")
    assert "403" in backend.inventory.unavailable()["configmaps"] or "forbidden" in \
        backend.inventory.unavailable()["configmaps"]
    assert backend.inventory.failure() is None


async def test_with_many_kinds_empty_ones_are_polled_not_watched(emulator, backend, watching):
    emulator.create(CRD, crd("acme.io", "Widget", "widgets"))
    emulator.create(CRD, crd("acme.io", "Gadget", "gadgets"))
    emulator.create("acme.io/gadgets", cert("g1", "acme.io", "Gadget"))
    inv = await backend._ensure()
    inv.watch_all_up_to, inv.poll_empty_s = 0, 0.3  # as a cluster with hundreds of CRDs would have it
    watch = watching(backend)
    await watch.next(lambda o: "kubernetes/Gadget/g1" in by_id(o), "first inventory")

    def watches(plural: str) -> int:
        return sum(1 for m, p in list(emulator.request_log)
                   if m == "GET" and f"/namespaces/{NS}/{plural}?" in p and "watch=true" in p)

    def lists(plural: str) -> int:
        return sum(1 for m, p in list(emulator.request_log)
                   if m == "GET" and f"/namespaces/{NS}/{plural}?" in p and "watch=" not in p)
    await eventually(lambda: _async(lists("widgets") >= 3), "the empty kind listed again")
    assert watches("widgets") == 0 and watches("gadgets") >= 1  # the one with objects is watched
    emulator.create("acme.io/widgets", cert("w1", "acme.io", "Widget"))
    await watch.next(lambda o: "kubernetes/Widget/w1" in by_id(o), "an object of the polled kind")
    await eventually(lambda: _async(watches("widgets") >= 1), "the kind watched once it has objects")


def test_the_jump_line_knows_kubectls_short_names_of_the_new_kinds():
    from screens.jump import parse_jump

    for word, kind in (("ing", "Ingress"), ("hpa", "HorizontalPodAutoscaler"), ("cj", "CronJob"),
                       ("pdb", "PodDisruptionBudget"), ("netpol", "NetworkPolicy"), ("cm", "ConfigMap"),
                       ("cert", "Certificate")):
        assert parse_jump(f"staging {word}", ["staging"], set()).kind == kind
    assert parse_jump("staging widget", ["staging"], {"Widget"}).kind == "Widget"  # any discovered kind by name
