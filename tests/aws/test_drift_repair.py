"""Field-level drift and repair for every desired field: through the backend API, and through
`envdeck reconcile --once [--repair] --json` (the contract of issue 2; the CLI's main() run in
the test process: exit code, JSON and stderr are the point)."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from tests.aws import arrange
from tests.aws.arrange import by_id
from tests.helpers import envdeck_inproc
from tui.core.errors import NotFound
from tui.core.model import Drift


def bucket_state(aws, name: str) -> tuple[bool, bool]:
    s3 = aws("s3")
    try:
        s3.get_bucket_encryption(Bucket=name)
        encrypted = True
    except s3.exceptions.ClientError:
        encrypted = False
    try:
        flags = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        blocked = all(flags.values())
    except s3.exceptions.ClientError:
        blocked = False
    return encrypted, blocked


def instance_state(aws, iid: str) -> str:
    return aws("ec2").describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"]


async def repair_all(backend) -> list[tuple[str, str, str]]:
    done = []
    for item in backend.diff(await backend.observe()):
        result = await backend.repair(item)
        assert result.ok, result.message
        done.append((item.resource, item.field, backend.repair_action(item)))
    return sorted(done)


async def test_ec2_state_drift_both_ways(aws, make_backend):
    stopped = arrange.instance(aws, "staging", "worker-1")
    running = arrange.instance(aws, "staging", "batch-1")
    aws("ec2").stop_instances(InstanceIds=[stopped])
    backend = make_backend(desired=[
        {"kind": "ec2-instance", "name": "worker-1", "state": "running"},
        {"kind": "ec2-instance", "name": "batch-1", "state": "stopped"},
    ])
    obs = await backend.observe()
    items = sorted((d.resource, d.field, d.desired, d.actual) for d in backend.diff(obs))
    assert items == sorted([
        (f"aws/ec2-instance/{stopped}", "state", "running", "stopped"),
        (f"aws/ec2-instance/{running}", "state", "stopped", "running"),
    ])
    assert by_id(obs)[f"aws/ec2-instance/{stopped}"].drift == Drift.DRIFTED
    assert await repair_all(backend) == sorted([
        (f"aws/ec2-instance/{stopped}", "state", "start"),
        (f"aws/ec2-instance/{running}", "state", "stop"),
    ])
    assert instance_state(aws, stopped) == "running" and instance_state(aws, running) == "stopped"
    obs = await backend.observe()
    assert backend.diff(obs) == []
    assert by_id(obs)[f"aws/ec2-instance/{stopped}"].drift == Drift.IN_SYNC


async def test_ecs_desired_count_drift(aws, make_backend):
    arrange.ecs_service(aws, "staging", "main", "api", desired=2)
    backend = make_backend(desired=[{"kind": "ecs-service", "cluster": "main", "name": "api", "desired_count": 4}])
    [item] = backend.diff(await backend.observe())
    assert (item.resource, item.field, item.desired, item.actual) == ("aws/ecs-service/main/api", "desired_count", 4, 2)
    assert backend.repair_action(item) == "scale"
    await backend.repair(item)
    assert aws("ecs").describe_services(cluster="main", services=["api"])["services"][0]["desiredCount"] == 4
    assert backend.diff(await backend.observe()) == []


@pytest.mark.parametrize("want", [True, False])
async def test_s3_encryption_and_public_access_block_drift_both_ways(aws, make_backend, want):
    arrange.bucket(aws, "staging", "staging-assets", encrypted=not want, blocked=not want)
    backend = make_backend(desired=[
        {"kind": "s3-bucket", "name": "staging-assets", "encryption": want, "public_access_blocked": want}])
    items = {d.field: d for d in backend.diff(await backend.observe())}
    assert set(items) == {"encryption", "public_access_blocked"}
    assert items["encryption"].actual is (not want)
    actions = {f: backend.repair_action(d) for f, d in items.items()}
    assert actions == ({"encryption": "enable-encryption", "public_access_blocked": "block-public-access"} if want
                       else {"encryption": "disable-encryption", "public_access_blocked": "unblock-public-access"})
    for item in items.values():
        await backend.repair(item)
    assert bucket_state(aws, "staging-assets") == (want, want)
    assert backend.diff(await backend.observe()) == []


async def test_in_transition_state_is_not_drift(aws, make_backend):
    iid = arrange.instance(aws, "staging", "web-1")
    backend = make_backend(desired=[{"kind": "ec2-instance", "name": "web-1", "state": "running"}])
    obs = await backend.observe()
    res = by_id(obs)[f"aws/ec2-instance/{iid}"]
    res.attributes["state"] = "pending"  # moto switches states at once; AWS passes through pending
    assert backend.diff(obs) == []


async def test_missing_desired_resource_drifts_but_cannot_be_repaired(aws, make_backend):
    backend = make_backend(desired=[{"kind": "s3-bucket", "name": "nowhere", "encryption": True}])
    [item] = backend.diff(await backend.observe())
    assert (item.resource, item.field, item.actual) == ("aws/s3-bucket/nowhere", "encryption", None)
    with pytest.raises(NotFound, match="a drift repair does not create a missing resource"):
        await backend.repair(item)
    s3_names = [b["Name"] for b in aws("s3").list_buckets()["Buckets"]]
    assert "nowhere" not in s3_names


async def test_a_desired_resource_named_without_fields_drifts_only_when_absent(aws, make_backend):
    backend = make_backend(desired=[{"kind": "ec2-instance", "name": "web-1"}])
    [item] = backend.diff(await backend.observe())
    assert (item.resource, item.field, item.desired, item.actual) == ("aws/ec2-instance/web-1", "exists", True, False)
    with pytest.raises(NotFound):
        await backend.repair(item)
    iid = arrange.instance(aws, "staging", "web-1")
    obs = await backend.observe()
    assert backend.diff(obs) == []
    assert by_id(obs)[f"aws/ec2-instance/{iid}"].drift == Drift.IN_SYNC
    assert "aws/ec2-instance/web-1" not in by_id(obs)


# -- through the CLI ---------------------------------------------------------------------------

def run_cli(config_path, state_dir, *args: str) -> tuple[int, dict, str]:
    proc = envdeck_inproc(*args, "--config", str(config_path), "--state-dir", str(state_dir))
    try:
        payload = json.loads(proc.stdout) if proc.stdout.strip() else {}
    except json.JSONDecodeError:
        pytest.fail(f"not JSON (exit {proc.returncode}): {proc.stdout[:500]} {proc.stderr[-1500:]}")
    return proc.returncode, payload, proc.stderr


@pytest.fixture
def drifted_environment(aws, moto_url, tmp_path):
    """Every desired field drifted, in both directions where the field allows."""
    worker = arrange.instance(aws, "staging", "worker-1")
    batch = arrange.instance(aws, "staging", "batch-1")
    aws("ec2").stop_instances(InstanceIds=[worker])
    arrange.ecs_service(aws, "staging", "main", "api", desired=2)
    arrange.bucket(aws, "staging", "staging-uploads")
    arrange.bucket(aws, "staging", "staging-public", encrypted=True, blocked=True)
    arrange.instance(aws, "prod", "worker-1")  # another environment's namesake stays untouched
    config = {"environments": {"staging": {"repair": "propose", "aws": {
        "region": "us-east-1", "endpoint_url": moto_url, "tags": {"env": "staging"},
        "desired": [
            {"kind": "ec2-instance", "name": "worker-1", "state": "running"},
            {"kind": "ec2-instance", "name": "batch-1", "state": "stopped"},
            {"kind": "ecs-service", "cluster": "main", "name": "api", "desired_count": 3},
            {"kind": "s3-bucket", "name": "staging-uploads", "encryption": True, "public_access_blocked": True},
            {"kind": "s3-bucket", "name": "staging-public", "encryption": False, "public_access_blocked": False},
        ]}}}}
    path = tmp_path / "envdeck.yaml"
    path.write_text(yaml.safe_dump(config))
    return {"config": path, "state": tmp_path / "state", "worker": worker, "batch": batch}


EXPECTED_REPAIRS = {
    ("ec2:worker", "state", "start"), ("ec2:batch", "state", "stop"),
    ("aws/ecs-service/main/api", "desired_count", "scale"),
    ("aws/s3-bucket/staging-uploads", "encryption", "enable-encryption"),
    ("aws/s3-bucket/staging-uploads", "public_access_blocked", "block-public-access"),
    ("aws/s3-bucket/staging-public", "encryption", "disable-encryption"),
    ("aws/s3-bucket/staging-public", "public_access_blocked", "unblock-public-access"),
}


def _named(rid: str, env: dict) -> str:
    return {f"aws/ec2-instance/{env['worker']}": "ec2:worker", f"aws/ec2-instance/{env['batch']}": "ec2:batch"}.get(
        rid, rid)


@pytest.mark.slow
def test_cli_reconcile_once_reports_then_repairs_every_field(aws, drifted_environment):
    env = drifted_environment
    code, report, stderr = run_cli(env["config"], env["state"], "reconcile", "--once", "--json")
    assert code == 0, stderr
    [staging] = report["environments"]
    assert {(_named(d["resource"], env), d["field"]) for d in staging["drifts"]} == {
        (r, f) for r, f, _ in EXPECTED_REPAIRS}
    assert staging["repairs"] == []  # propose mode without --repair only reports
    assert instance_state(aws, env["worker"]) == "stopped"

    code, report, stderr = run_cli(env["config"], env["state"], "reconcile", "--once", "--repair", "--json")
    assert code == 0, stderr
    [staging] = report["environments"]
    repairs = {(_named(r["resource"], env), r["field"], r["action"]) for r in staging["repairs"]}
    assert repairs == EXPECTED_REPAIRS
    assert all(r["result"] == "succeeded" for r in staging["repairs"]), staging["repairs"]

    assert instance_state(aws, env["worker"]) == "running"
    assert instance_state(aws, env["batch"]) == "stopped"
    assert aws("ecs").describe_services(cluster="main", services=["api"])["services"][0]["desiredCount"] == 3
    assert bucket_state(aws, "staging-uploads") == (True, True)
    assert bucket_state(aws, "staging-public") == (False, False)

    code, report, stderr = run_cli(env["config"], env["state"], "reconcile", "--once", "--json")
    assert code == 0, stderr
    assert report["environments"][0]["drifts"] == []


@pytest.mark.slow
def test_cli_audit_records_the_repairs(aws, drifted_environment):
    env = drifted_environment
    code, _, stderr = run_cli(env["config"], env["state"], "reconcile", "--once", "--repair", "--json")
    assert code == 0, stderr
    code, audit, stderr = run_cli(env["config"], env["state"], "audit", "--json")
    assert code == 0, stderr
    actions = {(e["target"], e["action"], e["result"]) for e in audit["entries"]}
    assert ("aws/ecs-service/main/api", "scale", "succeeded") in actions
    assert ("aws/s3-bucket/staging-uploads", "enable-encryption", "succeeded") in actions
    assert os.environ["AWS_SECRET_ACCESS_KEY"] not in json.dumps(audit)


@pytest.mark.slow
def test_cli_act_scales_an_ecs_service_and_read_only_denies_it(aws, moto_url, tmp_path):
    arrange.ecs_service(aws, "staging", "main", "api", desired=2)
    config = tmp_path / "envdeck.yaml"
    config.write_text(yaml.safe_dump({"environments": {"staging": {"aws": {
        "region": "us-east-1", "endpoint_url": moto_url, "tags": {"env": "staging"}}}}}))
    state = tmp_path / "state"
    code, _, stderr = run_cli(config, state, "act", "staging", "aws/ecs-service/main/api", "scale",
                              "--param", "desired_count=4", "--yes", "--json", "--read-only")
    assert code == 3, stderr
    assert aws("ecs").describe_services(cluster="main", services=["api"])["services"][0]["desiredCount"] == 2

    code, result, stderr = run_cli(config, state, "act", "staging", "aws/ecs-service/main/api", "scale",
                                   "--param", "desired_count=4", "--yes", "--json")
    assert code == 0, stderr
    assert aws("ecs").describe_services(cluster="main", services=["api"])["services"][0]["desiredCount"] == 4

    code, bad, stderr = run_cli(config, state, "act", "staging", "aws/ecs-service/main/api", "scale",
                                "--param", "desired_count=lots", "--yes", "--json")
    assert code in (1, 2), stderr
    assert "desired_count" in stderr + json.dumps(bad)
    code, audit, _ = run_cli(config, state, "audit", "--json")
    results = [(e["action"], e["result"]) for e in audit["entries"] if e["target"] == "aws/ecs-service/main/api"]
    assert ("scale", "denied") in results and ("scale", "succeeded") in results
