"""How observe() behaves for its consumers: it never blocks the event loop, keeps to its
bounded worker pool, keeps unchanged resources as the same objects, and samples metrics."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta

import boto3

from tests.aws import arrange
from tests.aws.arrange import by_id


async def test_observe_never_blocks_the_event_loop_and_stays_within_its_workers(aws, make_backend):
    for n in range(12):
        arrange.bucket(aws, "staging", f"bucket-{n:02d}")  # one worker job per bucket
    arrange.instance(aws, "staging", "web-1")
    backend = make_backend()
    assert backend.clients.workers == 8

    ticks = 0
    peak_threads = 0
    done = asyncio.Event()

    async def heartbeat():
        nonlocal ticks, peak_threads
        while not done.is_set():
            ticks += 1
            workers = [t for t in threading.enumerate() if t.name.startswith("envdeck-aws")]
            peak_threads = max(peak_threads, len(workers))
            await asyncio.sleep(0)

    beat = asyncio.create_task(heartbeat())
    obs = await backend.observe()
    done.set()
    await beat
    assert sum(1 for r in obs.resources if r.kind == "s3-bucket") == 12
    # The loop kept running while boto3 waited on HTTP: thousands of heartbeats, where a
    # blocking call would leave only one per await point of observe() (a few dozen).
    assert ticks > 500
    assert 1 <= peak_threads <= 8


async def test_unchanged_resources_are_the_same_objects_and_changed_ones_are_new(aws, make_backend):
    web = arrange.instance(aws, "staging", "web-1")
    db = arrange.db_instance(aws, "staging", "staging-db")
    backend = make_backend()
    first = by_id(await backend.observe())
    second = by_id(await backend.observe())
    assert second[f"aws/rds-instance/{db}"] is first[f"aws/rds-instance/{db}"]
    assert second[f"aws/ec2-instance/{web}"] is first[f"aws/ec2-instance/{web}"]
    aws("ec2").stop_instances(InstanceIds=[web])
    third = by_id(await backend.observe())
    assert third[f"aws/ec2-instance/{web}"] is not second[f"aws/ec2-instance/{web}"]
    assert third[f"aws/ec2-instance/{web}"].status == "stopped"
    assert third[f"aws/rds-instance/{db}"] is second[f"aws/rds-instance/{db}"]


async def test_observe_samples_the_latest_metrics_in_the_background(aws, make_backend):
    web = arrange.instance(aws, "staging", "web-1")
    rid = f"aws/ec2-instance/{web}"
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    aws("cloudwatch").put_metric_data(Namespace="AWS/EC2", MetricData=[
        {"MetricName": "CPUUtilization", "Dimensions": [{"Name": "InstanceId", "Value": web}],
         "Value": v, "Timestamp": now - timedelta(minutes=m)} for m, v in ((3, 10.0), (2, 20.0), (1, 42.0))])
    backend = make_backend()
    first = await backend.observe()  # starts the query; never waits for CloudWatch
    assert first.samples == []
    await backend.sampler.wait_idle()
    second = await backend.observe()
    assert (rid, "cpu", 42.0) in second.samples
    assert by_id(second)[rid].metrics["cpu"] == 42.0
    third = await backend.observe()  # within the interval: no new query, values kept, no repeated samples
    await backend.sampler.wait_idle()
    assert third.samples == [] and (await backend.observe()).samples == []
    assert by_id(third)[rid].metrics["cpu"] == 42.0
    assert by_id(third)[rid] is by_id(second)[rid]


async def test_a_cloudwatch_denial_never_fails_the_observation(auth_moto, make_backend, monkeypatch):
    url, users = auth_moto
    key_id, secret = users["no-metrics"]  # may do anything except cloudwatch:GetMetricData
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    # An explicit session: boto3.client() would reuse credentials cached by an earlier test.
    ec2 = boto3.Session(aws_access_key_id=key_id, aws_secret_access_key=secret).client(
        "ec2", endpoint_url=url, region_name="us-east-1")
    web = arrange.instance(lambda _name: ec2, "metrics-denied", "web-1")
    backend = make_backend("metrics-denied", endpoint_url=url)
    obs = await backend.observe()
    await backend.sampler.wait_idle()
    assert "access denied" in (backend.sampler.last_error or "")
    again = await backend.observe()
    assert {r.id for r in obs.resources} == {r.id for r in again.resources} == {f"aws/ec2-instance/{web}"}
    assert again.samples == []


async def test_ecs_service_logs_come_from_the_task_definitions_awslogs_settings(aws, make_backend):
    ecs = aws("ecs")
    ecs.create_cluster(clusterName="main", tags=[{"key": "env", "value": "staging"}])
    ecs.register_task_definition(family="api", containerDefinitions=[
        {"name": "sidecar", "image": "envoy", "memory": 64},
        {"name": "app", "image": "nginx", "memory": 128, "logConfiguration": {"logDriver": "awslogs", "options": {
            "awslogs-group": "/ecs/api", "awslogs-stream-prefix": "ecs", "awslogs-region": "us-east-1"}}}])
    ecs.create_service(cluster="main", serviceName="api", taskDefinition="api", desiredCount=1,
                       tags=[{"key": "env", "value": "staging"}])
    logs = aws("logs")
    logs.create_log_group(logGroupName="/ecs/api", tags={"env": "staging"})  # named by the task definition: staging's
    for stream in ("ecs/app/task-1", "other/app/task-1"):
        logs.create_log_stream(logGroupName="/ecs/api", logStreamName=stream)
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="/ecs/api", logStreamName="ecs/app/task-1",
                        logEvents=[{"timestamp": now, "message": "listening on :8080"}])
    logs.put_log_events(logGroupName="/ecs/api", logStreamName="other/app/task-1",
                        logEvents=[{"timestamp": now + 1, "message": "not this service"}])
    backend = make_backend()
    await backend.observe()
    lines = [line async for line in backend.logs("aws/ecs-service/main/api", tail=10)]
    assert [(line.text, line.source) for line in lines] == [("listening on :8080", "ecs/app/task-1")]
