"""Faults (alarms in ALARM, failed status checks, ECS failure events) and ECS events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backends.aws.faults import ecs_faults_and_events, status_check_faults
from backends.aws.inventory import Inventory
from tests.aws import arrange
from tests.aws.arrange import alarm
from tui.core.model import Resource, Severity


async def test_alarms_in_alarm_for_the_environments_resources(aws, make_backend):
    web = arrange.instance(aws, "staging", "web-1")
    other = arrange.instance(aws, "prod", "web-1")
    arrange.db_instance(aws, "staging", "staging-db")
    arrange.ecs_service(aws, "staging", "main", "api")
    alarm(aws, "web-cpu", [{"Name": "InstanceId", "Value": web}])
    alarm(aws, "web-ok", [{"Name": "InstanceId", "Value": web}], state="OK")
    alarm(aws, "prod-cpu", [{"Name": "InstanceId", "Value": other}])
    alarm(aws, "db-cpu", [{"Name": "DBInstanceIdentifier", "Value": "staging-db"}], namespace="AWS/RDS")
    alarm(aws, "api-cpu", [{"Name": "ClusterName", "Value": "main"}, {"Name": "ServiceName", "Value": "api"}],
          namespace="AWS/ECS")
    alarm(aws, "tagged-composite", None, tags=arrange.tags("staging"))
    alarm(aws, "prod-tagged", None, tags=arrange.tags("prod"))

    obs = await make_backend().observe()
    faults = {(f.resource, f.message.split(":")[0]) for f in obs.faults}
    assert faults == {
        (f"aws/ec2-instance/{web}", "alarm web-cpu"),
        ("aws/rds-instance/staging-db", "alarm db-cpu"),
        ("aws/ecs-service/main/api", "alarm api-cpu"),
        ("aws/cloudwatch-alarm/tagged-composite", "alarm tagged-composite"),
    }
    web_fault = next(f for f in obs.faults if f.resource.endswith(web))
    assert web_fault.reason == "AlarmFiring" and web_fault.severity == Severity.HIGH
    assert "web-cpu says ALARM" in web_fault.message and web_fault.since is not None
    assert "#alarmsV2:alarm/web-cpu" in web_fault.message


def test_failed_status_checks_are_faults():
    """moto never reports an impaired status check; the record below has AWS's shape."""
    since = datetime(2026, 1, 1, tzinfo=UTC)
    inv = Inventory(instance_status={"i-1": {
        "InstanceId": "i-1", "SystemStatus": {"Status": "ok"},
        "InstanceStatus": {"Status": "impaired", "Details": [
            {"Name": "reachability", "Status": "failed", "ImpairedSince": since}]}}})
    res = Resource(id="aws/ec2-instance/i-1", backend="aws", kind="ec2-instance", name="web-1",
                   attributes={"instance_id": "i-1"})
    [fault] = status_check_faults([res], inv)
    assert (fault.resource, fault.reason, fault.since) == (res.id, "StatusCheckFailed", since)
    assert fault.message == "instance status check failed"


async def test_moto_reports_no_ecs_service_events(aws, make_backend):
    """Documents a moto 5.2.5 gap: `describe_services` always answers `events: []` (AWS keeps
    the last 100 service events). Events and failure faults are tested on AWS-shaped records."""
    arrange.ecs_service(aws, "staging", "main", "api")
    aws("ecs").update_service(cluster="main", service="api", desiredCount=5)
    described = aws("ecs").describe_services(cluster="main", services=["api"])["services"][0]
    assert described["events"] == []
    obs = await make_backend().observe()
    assert obs.events == []


def _service(events: list[tuple[str, str, int]]) -> dict:
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    return {"_cluster": "main", "serviceName": "api", "events": [
        {"id": ev_id, "message": msg, "createdAt": now - timedelta(minutes=age)} for ev_id, msg, age in events]}


def test_ecs_events_enter_the_timeline_once_and_failures_since_steady_state_are_faults():
    svc = _service([  # newest first, as ECS lists them
        ("e4", "(service api) was unable to place a task because no container instance met all of its requirements.", 1),
        ("e3", "(service api) failed to launch a task with (error ECS was unable to assume the role).", 2),
        ("e2", "(service api) has reached a steady state.", 10),
        ("e1", "(service api) was unable to place a task.", 20),
    ])
    faults, events, seen = ecs_faults_and_events(Inventory(services=[svc]), set())
    assert [e.message[:30] for e in events] == [m["message"][:30] for m in reversed(svc["events"])]  # oldest first
    assert [e.type for e in events] == ["Warning", "Normal", "Warning", "Warning"]
    assert all(e.resource == "aws/ecs-service/main/api" for e in events)
    [fault] = faults
    assert fault.count == 2 and fault.reason == "ServiceEventFailure"  # e1 is before the steady state
    assert fault.message.startswith("(service api) was unable to place")

    svc["events"].insert(0, {"id": "e5", "message": "(service api) has reached a steady state.",
                             "createdAt": datetime(2026, 1, 1, 12, 5, tzinfo=UTC)})
    faults, events, seen = ecs_faults_and_events(Inventory(services=[svc]), seen)
    assert [e.message for e in events] == ["(service api) has reached a steady state."]
    assert faults == []
