"""Kubernetes status conditions reach the resource (for the detail's Conditions),
observed from the emulator like any other object."""

from __future__ import annotations

from tests.kubernetes.support import NS, by_id, eventually


def by_type(resource) -> dict[str, dict]:
    return {c["type"]: c for c in resource.attributes.get("conditions", [])}


async def test_kubernetes_deployment_conditions_come_from_its_status(emulator, backend):
    emulator.create_deployment(NS, "worker", replicas=2)
    emulator.set_deployment_condition(NS, "worker", "Progressing", "False", reason="ProgressDeadlineExceeded",
                                      message='ReplicaSet "worker-1" has timed out progressing.')

    async def observed():
        r = by_id(await backend.observe()).get("kubernetes/Deployment/worker")
        return r if r is not None and "Progressing" in by_type(r) and by_type(r)["Progressing"]["status"] == "False" \
            else None

    worker = await eventually(observed, "the worker's conditions")
    progressing = by_type(worker)["Progressing"]
    assert progressing["reason"] == "ProgressDeadlineExceeded"
    assert progressing["message"] == 'ReplicaSet "worker-1" has timed out progressing.'
    assert "Available" in by_type(worker) and progressing["since"]
