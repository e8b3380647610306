"""CloudWatch metrics (batched get_metric_data, period from window) and CloudWatch Logs
(tail N, follow with a cursor: every new event exactly once, in order)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from backends.aws.cloudwatch_metrics import fetch_metrics, period_for
from tests.aws import arrange
from tui.core.errors import InvalidRequest, NotFound
from tui.core.model import Resource

DEADLINE_S = 60


@pytest.mark.parametrize(("window_s", "period"), [
    (900, 60), (3600, 60), (6 * 3600, 60), (24 * 3600, 300), (3 * 86400, 900), (7 * 86400, 3600),
    (30 * 86400, 21600), (90 * 86400, 21600),
])
def test_period_follows_the_window(window_s, period):
    assert period_for(window_s) == period
    assert window_s / period_for(window_s) <= 400


def put_cpu(aws, namespace: str, dims: list[dict], values: list[float], metric: str = "CPUUtilization") -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    aws("cloudwatch").put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": metric, "Dimensions": dims, "Value": v, "Timestamp": now - timedelta(minutes=len(values) - i)}
        for i, v in enumerate(values)])


async def test_metrics_of_instances_databases_and_services(aws, make_backend):
    web = arrange.instance(aws, "staging", "web-1")
    other = arrange.instance(aws, "prod", "web-1")
    arrange.db_instance(aws, "staging", "staging-db")
    arrange.ecs_service(aws, "staging", "main", "api")
    put_cpu(aws, "AWS/EC2", [{"Name": "InstanceId", "Value": web}], [10.0, 20.0, 30.0])
    put_cpu(aws, "AWS/EC2", [{"Name": "InstanceId", "Value": web}], [1000.0, 2000.0], metric="NetworkIn")
    put_cpu(aws, "AWS/EC2", [{"Name": "InstanceId", "Value": other}], [99.0])
    put_cpu(aws, "AWS/RDS", [{"Name": "DBInstanceIdentifier", "Value": "staging-db"}], [5.0, 6.0])
    put_cpu(aws, "AWS/ECS", [{"Name": "ClusterName", "Value": "main"}, {"Name": "ServiceName", "Value": "api"}],
            [40.0], metric="MemoryUtilization")
    backend = make_backend()
    await backend.observe()

    series = {(s.resource, s.name): s for s in await backend.metrics(None, 3600)}
    assert set(series) == {
        (f"aws/ec2-instance/{web}", "cpu"), (f"aws/ec2-instance/{web}", "network_in"),
        ("aws/rds-instance/staging-db", "cpu"), ("aws/ecs-service/main/api", "memory"),
    }
    cpu = series[(f"aws/ec2-instance/{web}", "cpu")]
    assert cpu.unit == "%"
    assert [v for _, v in cpu.points] == [10.0, 20.0, 30.0]  # oldest first
    assert [t for t, _ in cpu.points] == sorted(t for t, _ in cpu.points)

    one = await backend.metrics(f"aws/ec2-instance/{web}", 3600)
    assert {s.name for s in one} == {"cpu", "network_in"}
    with pytest.raises(NotFound):  # another environment's instance
        await backend.metrics(f"aws/ec2-instance/{other}", 3600)


async def test_more_than_500_queries_are_split_into_batches(aws, make_backend):
    backend = make_backend()
    resources = [Resource(id=f"aws/ec2-instance/i-{n:04d}", backend="aws", kind="ec2-instance", name=f"n{n}",
                          attributes={"instance_id": f"i-{n:04d}"}) for n in range(200)]  # 600 queries
    for n in (0, 199):
        put_cpu(aws, "AWS/EC2", [{"Name": "InstanceId", "Value": f"i-{n:04d}"}], [float(n)])
    series = await fetch_metrics(backend.clients, resources, 3600)
    assert {(s.resource, s.name, s.points[0][1]) for s in series} == {
        ("aws/ec2-instance/i-0000", "cpu", 0.0), ("aws/ec2-instance/i-0199", "cpu", 199.0)}


# -- logs --------------------------------------------------------------------------------------

def put_lines(aws, group: str, stream: str, lines: list[str], *, at_ms: int | None = None) -> None:
    base = at_ms if at_ms is not None else int(time.time() * 1000)
    aws("logs").put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
        {"timestamp": base + i, "message": line} for i, line in enumerate(lines)])


def make_group(aws, group: str, *streams: str, tags: dict[str, str] | None = None) -> None:
    aws("logs").create_log_group(logGroupName=group, **({"tags": tags} if tags else {}))
    for stream in streams:
        aws("logs").create_log_stream(logGroupName=group, logStreamName=stream)


async def read_until(agen, last: str, seen: list[str]) -> None:
    async with asyncio.timeout(DEADLINE_S):
        while not seen or seen[-1] != last:
            seen.append((await anext(agen)).text)


async def test_tail_by_config_mapping_and_by_tag(aws, make_backend):
    iid = arrange.instance(aws, "staging", "web-1")
    tagged = arrange.instance(aws, "staging", "web-2", **{"envdeck:log-group": "/app/tagged"})
    make_group(aws, "/app/web", "web-1/a", "web-2/a")
    make_group(aws, "/app/tagged", "s", tags={"env": "staging"})  # named by a tag: must be staging's itself
    now = int(time.time() * 1000)
    put_lines(aws, "/app/web", "web-1/a", [f"one {i}" for i in range(10)], at_ms=now - 1000)
    put_lines(aws, "/app/web", "web-2/a", ["not mine"], at_ms=now)
    put_lines(aws, "/app/tagged", "s", ["tagged 1", "tagged 2"])
    backend = make_backend(logs=[{"resource": "web-1", "group": "/app/web", "stream_prefix": "web-1/"}])
    await backend.observe()

    lines = [line async for line in backend.logs(f"aws/ec2-instance/{iid}", tail=3)]
    assert [line.text for line in lines] == ["one 7", "one 8", "one 9"]
    assert all(line.source == "web-1/a" and line.at is not None for line in lines)
    assert [line.text async for line in backend.logs(f"aws/ec2-instance/{tagged}", tail=10)] == ["tagged 1", "tagged 2"]
    assert [line.text async for line in backend.logs("aws/log-group//app/web", tail=1)] == ["not mine"]


async def test_resource_without_a_log_group_is_an_invalid_request(aws, make_backend):
    iid = arrange.instance(aws, "staging", "web-1")
    backend = make_backend()
    await backend.observe()
    with pytest.raises(InvalidRequest, match="envdeck:log-group"):
        async for _ in backend.logs(f"aws/ec2-instance/{iid}"):
            pass


async def test_follow_yields_each_new_event_exactly_once_in_order(aws, make_backend):
    make_group(aws, "/app/web", "a", "b")
    put_lines(aws, "/app/web", "a", ["old 1", "old 2", "old 3"])
    backend = make_backend(logs=[{"resource": "aws/log-group/x", "group": "/app/web"}])
    backend.log_poll_s = 0.2
    agen = backend.logs("aws/log-group//app/web", follow=True, tail=2)
    seen: list[str] = []
    await read_until(agen, "old 3", seen)
    assert seen == ["old 2", "old 3"]

    # Two streams, several polls, identical timestamps across streams.
    now = int(time.time() * 1000)
    put_lines(aws, "/app/web", "a", ["a1", "a2"], at_ms=now)
    put_lines(aws, "/app/web", "b", ["b1"], at_ms=now + 5)
    await read_until(agen, "b1", seen)
    put_lines(aws, "/app/web", "b", ["b2", "b3"], at_ms=now + 10)
    put_lines(aws, "/app/web", "a", ["a3"], at_ms=now + 10)  # same timestamp as b2
    await read_until(agen, "b3", seen)
    # An event ingested late, with a timestamp older than the newest already shown: not lost.
    put_lines(aws, "/app/web", "a", ["late"], at_ms=now + 7)
    await read_until(agen, "late", seen)
    put_lines(aws, "/app/web", "a", ["end"], at_ms=now + 20)
    await read_until(agen, "end", seen)
    put_lines(aws, "/app/web", "b", ["after end"], at_ms=now + 30)
    await read_until(agen, "after end", seen)

    assert seen[:2] == ["old 2", "old 3"]
    new = seen[2:]
    assert sorted(new) == sorted(["a1", "a2", "b1", "b2", "b3", "a3", "late", "end", "after end"])
    assert len(new) == len(set(new))  # exactly once
    assert new.index("a1") < new.index("a2") < new.index("b1") < new.index("end") < new.index("after end")
    assert new.index("b2") < new.index("b3")
    await agen.aclose()
    with pytest.raises(StopAsyncIteration):
        await anext(agen)


async def test_follow_with_tail_zero_shows_only_new_events(aws, make_backend):
    make_group(aws, "/app/web", "a")
    put_lines(aws, "/app/web", "a", ["before"])
    backend = make_backend()
    backend.log_poll_s = 0.2
    agen = backend.logs("aws/log-group//app/web", follow=True, tail=0)
    first = asyncio.ensure_future(anext(agen))
    await asyncio.sleep(0)  # let the generator read its starting position before the next put
    # A line whose timestamp is after the follow started.
    seen: list[str] = []
    async with asyncio.timeout(DEADLINE_S):
        while not first.done():
            put_lines(aws, "/app/web", "a", [f"new {len(seen)}"])
            seen.append("put")
            await asyncio.wait({first}, timeout=0.5)
    assert first.result().text.startswith("new ")
    await agen.aclose()


def test_moto_filter_log_events_ignores_the_stream_prefix(aws):
    """Documents a moto 5.2.5 gap: `filter_log_events(logStreamNamePrefix=…)` returns every
    stream's events (AWS filters them). The backend also filters by prefix on its side."""
    make_group(aws, "/app/web", "web-1/a", "web-2/a")
    put_lines(aws, "/app/web", "web-1/a", ["mine"])
    put_lines(aws, "/app/web", "web-2/a", ["other"])
    answer = aws("logs").filter_log_events(logGroupName="/app/web", logStreamNamePrefix="web-1/")
    assert {e["logStreamName"] for e in answer["events"]} == {"web-1/a", "web-2/a"}
