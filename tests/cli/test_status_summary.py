"""`envdeck status --summary` (on-call finding, session 8: `status` printed 188 lines ~150
columns wide on the demo): a line per environment and one per backend with its state and the
counts of resources, faults and drifts, fitting 80 columns; the counts are those of
`status --json` (unchanged). Real servers: instances (one stopped) and a bucket on
the shared moto server, and an edge node whose port refuses connections (unreachable, its
error on its line)."""

from __future__ import annotations

import json
import socket

import yaml

from tests.helpers import envdeck_inproc
from tui.cli.status_summary import summary_lines


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]   # closed again: connecting is refused


def _seed(aws) -> None:
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "env", "Value": "staging"}]}]
    made = aws("ec2").run_instances(ImageId="ami-12c6146b", InstanceType="t3.micro", MinCount=3, MaxCount=3,
                                    TagSpecifications=tags)
    aws("ec2").stop_instances(InstanceIds=[made["Instances"][0]["InstanceId"]])
    aws("s3").create_bucket(Bucket="staging-assets")
    aws("s3").put_bucket_tagging(Bucket="staging-assets", Tagging={"TagSet": [{"Key": "env", "Value": "staging"}]})


def test_status_summary_is_a_line_per_environment_and_backend_in_80_columns(moto_url, aws, tmp_path):
    _seed(aws)
    known = tmp_path / "known_hosts"
    known.write_text("")
    cloud = {"region": "us-east-1", "endpoint_url": moto_url, "tags": {"env": "staging"}}
    edge = {"known_hosts": str(known), "connect_timeout": "5s",
            "nodes": [{"name": "gw-with-a-rather-long-name-01", "host": "127.0.0.1", "port": _closed_port(),
                       "user": "nobody"}]}
    config = tmp_path / "envdeck.yaml"
    config.write_text(yaml.safe_dump({"defaults": {"timeout": "3s"}, "environments": {
        "staging": {"aws": cloud, "edge": edge},
        "a-preview-environment-with-a-long-name": {}}}))
    config.chmod(0o600)
    common = ("--config", str(config), "--state-dir", str(tmp_path / "state"))

    as_json = envdeck_inproc("status", "--json", *common)
    assert as_json.returncode == 1, as_json.stderr   # the edge node is unreachable
    envs = json.loads(as_json.stdout)["environments"]
    staging = next(e for e in envs if e["name"] == "staging")
    assert staging["backends"]["edge"]["reachable"] is False

    text = envdeck_inproc("status", "--summary", *common)
    assert text.returncode == 1, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["ENVIRONMENT/BACKEND", "STATE", "RESOURCES", "FAULTS", "DRIFT"]
    assert len(lines) == 1 + sum(1 + len(e["backends"]) for e in envs), lines   # nothing else
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    aws_count = sum(1 for r in staging["resources"] if r["id"].startswith("aws/"))
    assert aws_count >= 4 and rows["aws"][1] == "ok" and int(rows["aws"][3]) == aws_count, rows["aws"]
    assert rows["staging"][1:5] == [staging["health"], str(len(staging["resources"])), str(len(staging["faults"])),
                                    str(len(staging["drifts"]))], rows["staging"]
    edge_line = next(line for line in lines if line.startswith("  edge"))
    assert "UNREACHABLE" in edge_line and staging["backends"]["edge"]["error"] in edge_line, edge_line

    # on an 80-column terminal: every line fits, the long name cut in its middle
    fitted = summary_lines(envs, 80)
    assert all(len(line) <= 80 for line in fitted), [line for line in fitted if len(line) > 80]
    assert any(line.split()[0] == "a-preview…-long-name" for line in fitted), fitted   # its end whole
