"""A CloudWatch alarm in ALARM lowers the health of the environment's resource it watches
(by its dimensions) to Degraded and names itself in the health reason; it never raises a
health, and an alarm on someone else's resource changes nothing. Against the moto server,
whose alarms change state only through `set_alarm_state`."""

from __future__ import annotations

from backends.aws.faults import alarm_health
from backends.aws.inventory import Inventory
from tests.aws import arrange
from tests.aws.arrange import alarm, by_id
from tui.core.model import Health, Resource


def _set_state(aws, names: list[str], state: str) -> None:
    for name in names:
        aws("cloudwatch").set_alarm_state(AlarmName=name, StateValue=state, StateReason=f"{name} says {state}")


async def test_a_firing_alarm_degrades_the_resource_it_watches_until_it_is_ok_again(aws, make_backend):
    iid = arrange.instance(aws, "staging", "web-1")
    arrange.db_instance(aws, "staging", "staging-db")
    arrange.ecs_service(aws, "staging", "main", "api")
    arrange.bucket(aws, "staging", "staging-assets")
    watched = {
        f"aws/ec2-instance/{iid}": ("web-cpu-high", [{"Name": "InstanceId", "Value": iid}], "AWS/EC2"),
        "aws/rds-instance/staging-db": ("db-cpu-high", [{"Name": "DBInstanceIdentifier", "Value": "staging-db"}],
                                        "AWS/RDS"),
        "aws/ecs-service/main/api": ("api-cpu-high", [{"Name": "ClusterName", "Value": "main"},
                                                      {"Name": "ServiceName", "Value": "api"}], "AWS/ECS"),
        "aws/s3-bucket/staging-assets": ("assets-4xx", [{"Name": "BucketName", "Value": "staging-assets"}],
                                         "AWS/S3"),
    }
    backend = make_backend()
    before = by_id(await backend.observe())
    assert {rid: before[rid].health for rid in watched} == dict.fromkeys(watched, Health.HEALTHY)

    for name, dims, namespace in watched.values():
        alarm(aws, name, dims, namespace=namespace)
    firing = by_id(await backend.observe())
    assert {rid: firing[rid].health for rid in watched} == dict.fromkeys(watched, Health.DEGRADED)
    for rid, (name, _dims, _ns) in watched.items():
        assert firing[rid].health_reason == f"alarm {name} in ALARM; {before[rid].health_reason}"
    assert all(r.health == Health.HEALTHY for r in firing.values() if r.id not in watched)

    _set_state(aws, [name for name, _dims, _ns in watched.values()], "OK")
    again = by_id(await backend.observe())
    assert {rid: again[rid].health for rid in watched} == dict.fromkeys(watched, Health.HEALTHY)
    assert {rid: again[rid].health_reason for rid in watched} == {rid: before[rid].health_reason for rid in watched}


async def test_an_alarm_on_an_instance_outside_the_environment_changes_nothing(aws, make_backend):
    web = arrange.instance(aws, "staging", "web-1")
    other = arrange.instance(aws, "prod", "web-1")
    alarm(aws, "prod-web-cpu", [{"Name": "InstanceId", "Value": other}])

    staging = by_id(await make_backend("staging").observe())
    assert f"aws/ec2-instance/{other}" not in staging
    assert staging[f"aws/ec2-instance/{web}"].health == Health.HEALTHY
    assert not any("prod-web-cpu" in r.health_reason for r in staging.values())
    # the alarm does fire: the environment that owns the instance sees it degraded
    prod = by_id(await make_backend("prod").observe())
    assert prod[f"aws/ec2-instance/{other}"].health == Health.DEGRADED
    assert "prod-web-cpu" in prod[f"aws/ec2-instance/{other}"].health_reason


async def test_a_firing_alarm_leaves_a_stopped_instance_suspended(aws, make_backend):
    iid = arrange.instance(aws, "staging", "worker-1")
    aws("ec2").stop_instances(InstanceIds=[iid])
    alarm(aws, "worker-cpu-high", [{"Name": "InstanceId", "Value": iid}])
    obs = await make_backend().observe()
    res = by_id(obs)[f"aws/ec2-instance/{iid}"]
    assert (res.health, res.health_reason) == (Health.SUSPENDED, "stopped")
    assert any(f.resource == res.id and "worker-cpu-high" in f.message for f in obs.faults)  # still a fault


def _res(rid: str, health: Health, reason: str) -> Resource:
    return Resource(id=rid, backend="aws", kind=rid.split("/")[1], name=rid.rsplit("/", 1)[1],
                    health=health, health_reason=reason)


def test_alarms_lower_but_never_raise_health():
    """Healths moto cannot produce next to a firing alarm (Missing placeholder, Unknown,
    already Degraded, Progressing), fed as records shaped like describe_alarms answers."""
    def on(name: str, instance: str) -> dict:
        return {"AlarmName": name, "StateValue": "ALARM", "Dimensions": [{"Name": "InstanceId", "Value": instance}]}

    inv = Inventory(alarms=[on("cpu", "i-1"), on("disk", "i-1"), on("cpu-2", "i-2"), on("x", "i-3"),
                            on("y", "i-4"), on("z", "i-5")])
    resources = [
        _res("aws/ec2-instance/i-1", Health.DEGRADED, "running; instance status check failed"),
        _res("aws/ec2-instance/i-2", Health.PROGRESSING, "pending"),
        _res("aws/ec2-instance/i-3", Health.MISSING, "desired in config but absent"),
        _res("aws/ec2-instance/i-4", Health.UNKNOWN, "running; status checks not reported"),
        _res("aws/ec2-instance/i-5", Health.HEALTHY, ""),
        _res("aws/ec2-instance/i-6", Health.HEALTHY, "running; status checks ok"),
    ]
    alarm_health(resources, inv)
    assert [(r.health, r.health_reason) for r in resources] == [
        (Health.DEGRADED, "alarms cpu, disk in ALARM; running; instance status check failed"),
        (Health.DEGRADED, "alarm cpu-2 in ALARM; pending"),
        (Health.MISSING, "desired in config but absent"),
        (Health.UNKNOWN, "running; status checks not reported"),
        (Health.DEGRADED, "alarm z in ALARM"),
        (Health.HEALTHY, "running; status checks ok"),
    ]
