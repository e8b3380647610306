"""`envdeck agent` against a moto server: a polling backend whose boto3 calls run in worker
threads. A stopped instance that should run is started (seen on moto), the passes are
counted, and SIGTERM still ends the process with 0."""

from __future__ import annotations

import signal

import yaml

from tests.agent.support import Agent
from tests.aws import arrange
from tests.kubernetes_emulator.support import wait_for


def _state(aws, iid: str) -> str:
    return aws("ec2").describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"]


def test_agent_starts_a_stopped_instance_and_exits_0(aws, moto_url, tmp_path):
    iid = arrange.instance(aws, "staging", "worker-1")
    aws("ec2").stop_instances(InstanceIds=[iid])
    config = tmp_path / "envdeck.yaml"
    config.write_text(yaml.safe_dump({
        "defaults": {"interval": "1s"},
        "environments": {"staging": {"repair": "auto", "aws": {
            "region": "us-east-1", "endpoint_url": moto_url, "tags": {"env": "staging"},
            "desired": [{"kind": "ec2-instance", "name": "worker-1", "state": "running"}]}}}}))
    agent = Agent(config, tmp_path / "state")
    try:
        agent.wait_listening()
        repaired = agent.wait_record(lambda r: r["msg"] == "repair succeeded", "the repair", timeout=90)
        assert repaired["resource"] == f"aws/ec2-instance/{iid}" and repaired["field"] == "state"
        wait_for(lambda: _state(aws, iid) in ("pending", "running"), what="the instance started")
        # polling: the passes go on, one interval after another
        wait_for(lambda: (agent.metric("envdeck_reconcile_passes_total", env="staging", backend="aws",
                                       result="ok") or 0) >= 3, timeout=60, what="three passes")
        assert agent.health()[0] == 200
    finally:
        code = agent.stop(signal.SIGTERM)
    assert code == 0, agent.stderr
    assert "Traceback" not in agent.stderr
