"""Health from native state. Against moto where moto can produce the state; the states moto
never produces (impaired status checks, initialising checks, a failed ECS rollout) are fed
to the same mapping functions as records shaped like AWS's own answers."""

from __future__ import annotations

import pytest

from backends.aws.health import ec2_instance_health, ecs_service_health, rds_instance_health
from tests.aws import arrange
from tests.aws.arrange import by_id
from tui.core.model import Health


async def test_ec2_running_with_checks_ok_is_healthy_and_stopped_is_suspended(aws, make_backend):
    iid = arrange.instance(aws, "staging", "web-1")
    backend = make_backend()
    res = by_id(await backend.observe())[f"aws/ec2-instance/{iid}"]
    assert res.health == Health.HEALTHY
    assert res.attributes["status_checks"] == {"system": "ok", "instance": "ok"}
    aws("ec2").stop_instances(InstanceIds=[iid])
    res = by_id(await backend.observe())[f"aws/ec2-instance/{iid}"]
    assert (res.health, res.status) == (Health.SUSPENDED, "stopped")


def _instance(state: str) -> dict:
    return {"InstanceId": "i-1", "State": {"Name": state}}


def _status(system: str, instance: str) -> dict:
    return {"InstanceId": "i-1", "SystemStatus": {"Status": system}, "InstanceStatus": {"Status": instance}}


@pytest.mark.parametrize(("state", "status", "expected"), [
    ("pending", None, Health.PROGRESSING),
    ("running", _status("ok", "ok"), Health.HEALTHY),
    ("running", _status("ok", "initializing"), Health.PROGRESSING),
    ("running", _status("impaired", "ok"), Health.DEGRADED),
    ("running", _status("ok", "impaired"), Health.DEGRADED),
    ("running", None, Health.UNKNOWN),
    ("stopping", None, Health.PROGRESSING),
    ("stopped", None, Health.SUSPENDED),
    ("terminated", None, Health.MISSING),
])
def test_ec2_health_mapping(state, status, expected):
    health, reason = ec2_instance_health(_instance(state), status)
    assert health == expected
    assert reason
    if expected == Health.DEGRADED:
        assert "status check failed" in reason


async def test_ecs_running_below_desired_is_progressing_then_healthy(aws, make_backend):
    arrange.ecs_service(aws, "staging", "main", "api", desired=2, settle=False)  # moto: 0 running, 2 pending
    backend = make_backend()
    svc = by_id(await backend.observe())["aws/ecs-service/main/api"]
    assert svc.health == Health.PROGRESSING and "0/2" in svc.health_reason
    aws("ecs").update_service(cluster="main", service="api", desiredCount=2)
    svc = by_id(await backend.observe())["aws/ecs-service/main/api"]
    assert svc.health == Health.HEALTHY
    aws("ecs").update_service(cluster="main", service="api", desiredCount=0)
    svc = by_id(await backend.observe())["aws/ecs-service/main/api"]
    assert svc.health == Health.SUSPENDED


async def test_ecs_failed_tasks_below_desired_are_degraded(aws, make_backend, monkeypatch):
    # The threaded moto server reads this switch from this process's environment.
    monkeypatch.setenv("MOTO_ECS_SERVICE_FAILED_TASKS", "2")
    arrange.ecs_service(aws, "staging", "main", "api", desired=2, settle=False)
    svc = by_id(await make_backend().observe())["aws/ecs-service/main/api"]
    assert svc.health == Health.DEGRADED
    assert "failing" in svc.health_reason


def test_ecs_failed_rollout_and_failure_events_are_degraded():
    failed = {"status": "ACTIVE", "desiredCount": 2, "runningCount": 2,
              "deployments": [{"status": "PRIMARY", "rolloutState": "FAILED", "rolloutStateReason": "circuit breaker"}]}
    assert ecs_service_health(failed)[0] == Health.DEGRADED
    events = {"status": "ACTIVE", "desiredCount": 3, "runningCount": 1, "pendingCount": 2, "deployments": [],
              "events": [{"message": "(service api) was unable to place a task because no container instance met all "
                                     "of its requirements."}]}
    assert ecs_service_health(events)[0] == Health.DEGRADED
    assert ecs_service_health({**events, "events": []})[0] == Health.PROGRESSING
    assert ecs_service_health({"status": "DRAINING"})[0] == Health.PROGRESSING


async def test_rds_available_is_healthy_and_stopped_is_suspended(aws, make_backend):
    arrange.db_instance(aws, "staging", "staging-db")
    backend = make_backend()
    assert by_id(await backend.observe())["aws/rds-instance/staging-db"].health == Health.HEALTHY
    aws("rds").stop_db_instance(DBInstanceIdentifier="staging-db")
    db = by_id(await backend.observe())["aws/rds-instance/staging-db"]
    assert (db.health, db.status) == (Health.SUSPENDED, "stopped")


@pytest.mark.parametrize(("status", "expected"), [
    ("available", Health.HEALTHY), ("creating", Health.PROGRESSING), ("rebooting", Health.PROGRESSING),
    ("storage-full", Health.DEGRADED), ("failed", Health.DEGRADED), ("stopped", Health.SUSPENDED),
    ("something-new", Health.UNKNOWN),
])
def test_rds_health_mapping(status, expected):
    assert rds_instance_health({"DBInstanceStatus": status})[0] == expected
