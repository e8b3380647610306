"""Warning events outlive their object (the apiserver keeps them about an hour): a fault made of
the events of a pod or Deployment that was deleted clears, while the events of objects that still
exist keep theirs (backends/kubernetes/events.py); an object deleted and made again under the same
name starts clean (events follow involvedObject.uid). `envdeck status --json` against the Kubernetes
API emulator; the events stay on the server throughout."""

from __future__ import annotations

import uuid

import pytest

from tests.k8s_emulator_server import running_emulator
from tests.kubernetes.support import status_environment


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with running_emulator("events-bearer-" + uuid.uuid4().hex) as thread:
        yield thread.emu, thread.emu.write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig",
                                                      context="emulator")


def _faults(tmp_path, kubeconfig, namespace: str) -> set[tuple[str, str]]:
    return set(_fault_counts(tmp_path, kubeconfig, namespace))


def _fault_counts(tmp_path, kubeconfig, namespace: str) -> dict[tuple[str, str], int]:
    env = status_environment(tmp_path, kubeconfig, namespace)
    return {(f["resource"], f["reason"]): f["count"] for f in env["faults"]}


def test_faults_of_events_clear_when_their_object_is_deleted(emulator, tmp_path):
    emu, kubeconfig = emulator
    ns = "ev-" + uuid.uuid4().hex[:6]
    emu.create_deployment(ns, "keep", replicas=1)
    emu.create_deployment(ns, "gone", replicas=1)
    [pod] = [p["metadata"]["name"] for p in emu.list("pods", ns) if p["metadata"]["name"].startswith("keep-")]
    emu.add_event(ns, "Deployment", "keep", "FailedCreate", "quota exceeded")
    emu.add_event(ns, "Deployment", "gone", "FailedCreate", "quota exceeded")
    emu.add_event(ns, "Pod", pod, "FailedMount", "secret not found")
    emu.add_event(ns, "Widget", "w-1", "SyncFailed", "webhook down")   # a kind the inventory does not hold
    before = _faults(tmp_path, kubeconfig, ns)
    expected = {("kubernetes/Deployment/keep", "FailedCreate"), ("kubernetes/Deployment/gone", "FailedCreate"),
                (f"kubernetes/Pod/{pod}", "FailedMount"), ("kubernetes/Widget/w-1", "SyncFailed")}
    assert expected <= before, before

    emu.delete("deployments", ns, "gone")
    emu.delete("pods", ns, pod)         # its ReplicaSet makes another one, under another name
    reasons = {e["reason"] for e in emu.list("events", ns)}
    assert {"FailedCreate", "FailedMount", "SyncFailed"} <= reasons, "the events are still on the server"
    after = _faults(tmp_path, kubeconfig, ns)
    assert ("kubernetes/Deployment/gone", "FailedCreate") not in after, after
    assert (f"kubernetes/Pod/{pod}", "FailedMount") not in after, after
    assert ("kubernetes/Deployment/keep", "FailedCreate") in after, "its object exists: the fault stays"
    assert ("kubernetes/Widget/w-1", "SyncFailed") in after, "a kind the inventory does not hold: kept"


def test_an_object_made_again_under_the_same_name_does_not_inherit_its_predecessors_events(emulator, tmp_path):
    emu, kubeconfig = emulator
    ns = "re-" + uuid.uuid4().hex[:6]
    emu.create_deployment(ns, "web", replicas=1)
    old_uid = emu.get("deployments", ns, "web")["metadata"]["uid"]
    emu.add_event(ns, "Deployment", "web", "FailedCreate", "quota exceeded", count=5)
    emu.add_event(ns, "Deployment", "web", "ProgressDeadlineExceeded", "stuck")
    before = _fault_counts(tmp_path, kubeconfig, ns)
    assert before.get(("kubernetes/Deployment/web", "FailedCreate")) == 5, before
    assert ("kubernetes/Deployment/web", "ProgressDeadlineExceeded") in before, before

    emu.delete("deployments", ns, "web")
    emu.create_deployment(ns, "web", replicas=1)
    assert emu.get("deployments", ns, "web")["metadata"]["uid"] != old_uid
    clean = _fault_counts(tmp_path, kubeconfig, ns)
    assert not [k for k in clean if k[0] == "kubernetes/Deployment/web"], \
        f"the new Deployment inherited its predecessor's faults: {clean}"

    emu.add_event(ns, "Deployment", "web", "FailedCreate", "quota exceeded again")  # the new one's own
    events = [(e["reason"], e["involvedObject"].get("uid"), e["count"]) for e in emu.list("events", ns)]
    assert ("FailedCreate", old_uid, 5) in events, "the predecessor's events are still on the server"
    after = _fault_counts(tmp_path, kubeconfig, ns)
    assert after.get(("kubernetes/Deployment/web", "FailedCreate")) == 1, \
        f"only the new object's own event counts (not the old 5): {after}"
    assert ("kubernetes/Deployment/web", "ProgressDeadlineExceeded") not in after, after
