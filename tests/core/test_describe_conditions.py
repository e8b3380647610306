"""Every backend reports conditions in one shape (type, status True/False, reason,
message) for the resource detail, like `kubectl describe`: EC2 status checks (AWS's
record shape: moto never reports an impaired check), edge reachability, probe
failures and service state (the builders the edge backend runs after its sshd probe).
Kubernetes: tests/kubernetes/test_describe_conditions.py (emulator)."""

from __future__ import annotations

from datetime import UTC, datetime

from backends.aws.resource_builder import ec2_instance
from backends.edge.probe import HostSample, ServiceStatus
from backends.edge.resources import LinkView, NodeState, node_resource, service_resource
from backends.kubernetes.convert import deployment
from tui.core.config import EdgeNode, EdgeThresholds

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def by_type(resource) -> dict[str, dict]:
    return {c["type"]: c for c in resource.attributes.get("conditions", [])}


def test_kubernetes_object_without_conditions_has_none():
    obj = {"metadata": {"name": "w", "namespace": "default"}, "spec": {"replicas": 1}, "status": {}}
    assert "conditions" not in deployment(obj).resource.attributes


def test_ec2_status_checks_are_conditions():
    inst = {"InstanceId": "i-1", "State": {"Name": "running"}, "Tags": [{"Key": "Name", "Value": "web-1"}]}
    status = {"InstanceId": "i-1", "SystemStatus": {"Status": "ok", "Details": [{"Name": "reachability",
                                                                                  "Status": "passed"}]},
              "InstanceStatus": {"Status": "impaired", "Details": [{"Name": "reachability", "Status": "failed"}]}}
    res = ec2_instance(inst, status, "us-east-1", NOW)
    conditions = by_type(res)
    assert conditions["SystemStatusCheck"] == {"type": "SystemStatusCheck", "status": "True", "reason": "ok"}
    assert conditions["InstanceStatusCheck"] == {"type": "InstanceStatusCheck", "status": "False",
                                                 "reason": "impaired", "message": "reachability: failed"}
    assert "conditions" not in ec2_instance(inst, None, "us-east-1", NOW).attributes


def test_edge_node_and_service_conditions():
    node = EdgeNode(name="gw-01", host="127.0.0.1", services=["nginx"])
    sample = HostSample(load1=0.4, memory_percent=97.0, disks={"/": 40.0}, problems=["df: unreadable (ValueError)"])
    state = NodeState(sample=sample, sampled_at=NOW, fresh=True,
                      services={"nginx": ServiceStatus(3, "inactive (dead) since 02:55\n")})
    link = LinkView(reachable=True, error=None, last_seen=NOW)
    conditions = by_type(node_resource(node, link, state, EdgeThresholds(), NOW))
    assert conditions["Reachable"]["status"] == "True"
    assert conditions["Probe"] == {"type": "Probe", "status": "False", "reason": "df",
                                   "message": "df: unreadable (ValueError)"}
    assert conditions["Pressure"]["message"] == "memory 97% > 90%"
    # the node lists its failed services too (kubectl describe node lists its failing pods' state)
    assert conditions["Service"] == {"type": "Service", "status": "False", "reason": "nginx",
                                     "message": "inactive (dead) since 02:55"}

    down = by_type(node_resource(node, LinkView(reachable=False, error="connection refused", last_seen=None),
                                 NodeState(), EdgeThresholds(), NOW))
    assert down["Reachable"]["status"] == "False" and "connection refused" in down["Reachable"]["message"]

    service = by_type(service_resource(node, "nginx", link, state, NOW))
    assert service["Active"] == {"type": "Active", "status": "False", "reason": "exit 3",
                                 "message": "inactive (dead) since 02:55"}
