"""The demo seeder: two tagged environments with drift, a non-compliant bucket, an alarm,
metrics and a log group that `feed_logs` keeps writing to."""

from __future__ import annotations

import asyncio

import pytest

from backends.aws import AwsBackend
from backends.sim.aws_demo_seed import feed_logs, seed_demo
from tests.aws.arrange import aws_config
from tests.moto_server import reset
from tui.core.config import AwsConfig, Defaults
from tui.core.model import Health


@pytest.fixture(scope="module")
def _seeded() -> dict:
    return {}


@pytest.fixture
def seeded_demo(moto_server, _arrange_clients, _seeded) -> dict:
    """moto reset and seeded once per module (staging and prod): the seeding is the expensive
    part and both tests start from its result; seeded again if another test reset moto since."""
    if _seeded:
        web = _seeded["environments"]["staging"]["instances"]["web-1"]
        found = _arrange_clients("ec2").describe_instances(Filters=[{"Name": "instance-id", "Values": [web]}])
        if not found["Reservations"]:
            _seeded.clear()
    if not _seeded:
        reset(moto_server)
        _seeded.update(seed_demo(moto_server, ("staging", "prod"), 1))
    return _seeded


@pytest.fixture
async def seeded_backend(moto_server):
    """AWS backends on the seeded (not reset) moto server."""
    made: list[AwsBackend] = []

    def factory(env: str = "staging", **extra) -> AwsBackend:
        backend = AwsBackend(env, aws_config(moto_server, env, **extra), Defaults(timeout=10.0))
        made.append(backend)
        return backend

    yield factory
    for backend in made:
        await backend.close()


async def test_seed_demo_gives_two_environments_with_drift_and_findings(moto_server, seeded_demo, seeded_backend):
    moto_url, info, make_backend = moto_server, seeded_demo, seeded_backend
    assert set(info["environments"]) == {"staging", "prod"}
    for env, seeded in info["environments"].items():
        cfg = AwsConfig.model_validate({"region": info["region"], "endpoint_url": moto_url,
                                        "tags": seeded["tags"], "desired": seeded["desired"], "logs": seeded["logs"]})
        backend = make_backend(env, **cfg.model_dump(exclude={"region", "endpoint_url", "tags"}))
        obs = await backend.observe()
        kinds = {r.kind for r in obs.resources}
        assert kinds == {"ec2-instance", "s3-bucket", "rds-instance", "ecs-service", "security-group", "ebs-volume",
                         "lambda-function", "load-balancer", "target-group", "autoscaling-group",
                         "dynamodb-table", "sqs-queue"}
        assert all(r.attributes.get("tags", {}).get("env", env) == env for r in obs.resources)
        drifts = {(d.resource.split("/")[1], d.field) for d in backend.diff(obs)}
        assert drifts == {("ec2-instance", "state"), ("ecs-service", "desired_count"),
                          ("s3-bucket", "encryption"), ("s3-bucket", "public_access_blocked")} | (
            {("autoscaling-group", "desired_capacity"), ("lambda-function", "reserved_concurrency")}
            if env == "prod" else set())
        rules = {f.rule for r in obs.resources for f in r.findings}
        assert {"s3-encryption", "sg-open-admin-port", "ec2-imdsv2", "ebs-encryption"} <= rules
        assert any(f.reason == "AlarmFiring" for f in obs.faults)
        assert any(r.health == Health.SUSPENDED for r in obs.resources)  # the stopped worker
        web = next(r for r in obs.resources if r.name == "web-1")
        assert web.health == Health.DEGRADED and f"{env}-web-1-cpu-high in ALARM" in web.health_reason
        series = await backend.metrics(web.id, 3600)
        assert {s.name for s in series} >= {"cpu", "network_in"} and len(series[0].points) >= 30
        assert len([line async for line in backend.logs(web.id, tail=5)]) == 5
        # the services, each with a fault worth finding
        assert {"lambda-public-url", "dynamodb-kms", "sqs-encryption"} <= rules
        assert ("elb-open-plaintext-listener" in rules) == (env == "staging")  # prod: HTTPS + redirect
        reasons = {(f.resource, f.reason) for f in obs.faults}
        worker = f"aws/ec2-instance/{seeded['instances']['worker-1']}"
        assert {(worker, "TargetUnhealthy"), (f"aws/load-balancer/{env}-web", "TargetsNotServing")} <= reasons
        assert ((f"aws/sqs-queue/{env}-jobs", "DeadLetterMessages") in reasons) == (env == "staging")
        assert ((f"aws/autoscaling-group/{env}-workers", "BelowDesiredCapacity") in reasons) == (env == "staging")


async def test_feed_logs_lines_reach_a_follower(moto_server, seeded_demo, seeded_backend):
    moto_url, info, make_backend = moto_server, seeded_demo, seeded_backend
    seeded = info["environments"]["staging"]
    backend = make_backend(logs=seeded["logs"])
    backend.log_poll_s = 0.2
    await backend.observe()
    web = f"aws/ec2-instance/{seeded['instances']['web-1']}"
    stop = asyncio.Event()
    feeder = asyncio.create_task(feed_logs(moto_url, seeded["log_group"], stop, interval_s=0.1))
    follower = backend.logs(web, follow=True, tail=0)
    fed = []
    async with asyncio.timeout(60):
        while len(fed) < 3:
            fed.append((await anext(follower)).text)
    stop.set()
    sent = await asyncio.wait_for(feeder, 60)
    await follower.aclose()
    assert sent >= 3
    numbers = [int(text.rsplit("req=", 1)[1]) for text in fed]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3

    other = asyncio.Event()
    other.set()  # already stopped: no line is sent, but the stream of its own is created
    assert await feed_logs(moto_url, seeded["log_group"], other, stream="web-1/other") == 0
    streams = [s["logStreamName"] for s in
               (await asyncio.to_thread(_streams, moto_url, seeded["log_group"]))]
    assert "web-1/other" in streams


def _streams(url: str, group: str) -> list[dict]:
    import boto3

    logs = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing").client(
        "logs", endpoint_url=url, region_name="us-east-1")
    return logs.describe_log_streams(logGroupName=group)["logStreams"]
