"""Xray links of AWS resources on the moto server (issue 17): load balancer → target group →
instances (its targets), Auto Scaling group → instances, instance → security group / EBS
volume, SQS queue → its dead-letter queue; and across backends, a Kubernetes Node whose
providerID names one of the environment's instances."""

from __future__ import annotations

import json
import os
import pwd

import yaml

from tests.aws import arrange_services as svc
from tests.aws.arrange import instance, security_group, volume
from tests.helpers import envdeck_inproc
from tui.core.env_state import EnvState
from tui.core.model import Health, Resource
from tui.core.xray import XrayNode, xray


def flat(nodes: list[XrayNode]) -> dict[str, XrayNode]:
    out = {}
    for node in nodes:
        out[node.resource_id] = node
        out.update(flat(node.children))
    return out


async def test_aws_links_on_moto(aws, make_backend):
    ids = svc.instances(aws, "staging", 2)
    web = svc.load_balancer(aws, "staging", "staging-web", targets=ids)
    svc.autoscaling_group(aws, "staging", "staging-workers", desired=2)
    group = security_group(aws, "staging", "web-hosts")
    ec2 = aws("ec2")
    ec2.modify_instance_attribute(InstanceId=ids[0], Groups=[group])
    vol = volume(aws, "staging", encrypted=True)
    ec2.attach_volume(VolumeId=vol, InstanceId=ids[0], Device="/dev/sdf")
    svc.queue(aws, "staging", "staging-jobs-dlq")
    svc.queue(aws, "staging", "staging-jobs", dead_letter="staging-jobs-dlq")
    backend = make_backend("staging")
    obs = await backend.observe()
    state = EnvState("staging", "observe", resources={"aws": {r.id: r for r in obs.resources}})
    sources = {"aws": backend.resource_links}

    lb = xray(state, "aws/load-balancer/staging-web", sources)
    below = {n.resource_id: n for n in lb.depends_on}
    tg = below["aws/target-group/staging-web-tg"]
    assert tg.relation == "forwards to"
    assert {c.resource_id for c in tg.children} == {f"aws/ec2-instance/{i}" for i in ids}
    assert all(c.relation.startswith("targets") for c in tg.children)
    assert below[f"aws/security-group/{web['security_group']}"].relation == "in group"
    instance = flat(lb.depends_on)[f"aws/ec2-instance/{ids[0]}"]
    assert {(c.resource_id, c.relation) for c in instance.children} >= {
        (f"aws/security-group/{group}", "in group"), (f"aws/ebs-volume/{vol}", "mounts")}

    # the other direction: the instance is behind the target group, and so behind the load balancer
    up = flat(xray(state, f"aws/ec2-instance/{ids[0]}", sources).depended_on_by)
    assert up["aws/target-group/staging-web-tg"].relation.startswith("targets")
    assert "aws/load-balancer/staging-web" in up
    assert set(flat(xray(state, f"aws/ebs-volume/{vol}", sources).depended_on_by)) >= {
        f"aws/ec2-instance/{ids[0]}", "aws/load-balancer/staging-web"}

    asg = xray(state, "aws/autoscaling-group/staging-workers", sources)
    launched = [n for n in asg.depends_on if n.relation == "launched"]
    assert len(launched) == 2 and all(n.kind == "ec2-instance" and not n.missing for n in launched)

    jobs = xray(state, "aws/sqs-queue/staging-jobs", sources)
    assert [(n.resource_id, n.relation) for n in jobs.depends_on] == [("aws/sqs-queue/staging-jobs-dlq",
                                                                        "dead-letters to")]

    # across backends: a Kubernetes node on one of these instances
    from backends.kubernetes import links as kubernetes_links

    node = Resource("kubernetes/Node/ip-10-0-0-1", "kubernetes", "Node", "ip-10-0-0-1", health=Health.HEALTHY,
                    attributes={"provider_id": f"aws:///us-east-1a/{ids[0]}"})
    state.resources["kubernetes"] = {node.id: node}
    state.revision += 1
    both = xray(state, node.id, {**sources, "kubernetes": kubernetes_links.resource_links})
    [inst] = both.depends_on
    assert (inst.resource_id, inst.relation) == (f"aws/ec2-instance/{ids[0]}", "is")
    assert {c.resource_id for c in inst.children} >= {f"aws/ebs-volume/{vol}"}


def test_cli_xray_by_name_for_a_viewer(aws, moto_url, tmp_path):
    iid = instance(aws, "staging", "bastion")
    group = security_group(aws, "staging", "bastion-ssh")
    aws("ec2").modify_instance_attribute(InstanceId=iid, Groups=[group])
    me = pwd.getpwuid(os.geteuid()).pw_name
    config = tmp_path / "envdeck.yaml"
    config.write_text(yaml.safe_dump({"environments": {"staging": {
        "access": {"viewer": [me]},
        "aws": {"region": "us-east-1", "endpoint_url": moto_url, "tags": {"env": "staging"}}}}}))
    common = ["--config", str(config), "--state-dir", str(tmp_path / "state")]
    proc = envdeck_inproc("xray", "staging", "aws/ec2-instance/bastion", "--json", *common)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["resource"]["id"] == f"aws/ec2-instance/{iid}" and data["resource"]["name"] == "bastion"
    assert [(n["id"], n["relation"]) for n in data["depends_on"]] == [(f"aws/security-group/{group}", "in group")]
    evil = instance(aws, "staging", "evil\u202egnp.exe")  # a bidi override: XML (and AWS) carry no ESC
    aws("ec2").modify_instance_attribute(InstanceId=evil, Groups=[group])
    proc = envdeck_inproc("xray", "staging", f"aws/security-group/{group}", *common)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[1] == "depends on: nothing known" and lines[2] == "depended on by"
    assert lines[3].startswith("├── in group: ec2-instance/") and lines[4].startswith("└── in group: ec2-instance/")
    assert any("ec2-instance/bastion  Healthy" in line for line in lines[3:5])
    assert "\u202e" not in proc.stdout and len(lines) == 5, "one line per node"
    assert any("ec2-instance/evil\\u202egnp.exe" in line for line in lines)


def test_cli_xray_by_a_bare_name_native_id_or_kind_and_name(aws, moto_url, tmp_path):
    """`envdeck xray staging staging-web` (finding 9): a Name, a native id or KIND/NAME names the
    resource, as --help says; a Name several resources carry lists them (exit 2, no traceback)."""
    ids = svc.instances(aws, "staging", 2)  # both Named "web"
    svc.load_balancer(aws, "staging", "staging-web", targets=ids)
    svc.autoscaling_group(aws, "staging", "staging-workers", desired=1)
    bastion = instance(aws, "staging", "bastion")
    named_too = security_group(aws, "staging", "staging-web")  # a Name the load balancer's id also is
    config = tmp_path / "envdeck.yaml"
    config.write_text(yaml.safe_dump({"environments": {"staging": {
        "aws": {"region": "us-east-1", "endpoint_url": moto_url, "tags": {"env": "staging"}}}}}))
    common = ["--config", str(config), "--state-dir", str(tmp_path / "state")]

    def root(name: str) -> dict:
        proc = envdeck_inproc("xray", "staging", name, "--json", *common)
        assert proc.returncode == 0, (name, proc.stderr)
        return json.loads(proc.stdout)

    lb = root("staging-web")  # the load balancer's own id wins over the security group Named so
    assert lb["resource"]["id"] == "aws/load-balancer/staging-web"
    assert [n["id"] for n in lb["depends_on"] if n["relation"] == "forwards to"] == ["aws/target-group/staging-web-tg"]
    assert root("staging-workers")["resource"]["id"] == "aws/autoscaling-group/staging-workers"
    assert root("bastion")["resource"]["id"] == f"aws/ec2-instance/{bastion}"
    assert root(bastion)["resource"]["id"] == f"aws/ec2-instance/{bastion}"
    assert root("autoscaling-group/staging-workers")["resource"]["id"] == "aws/autoscaling-group/staging-workers"
    assert root("aws/ec2-instance/bastion")["resource"]["id"] == f"aws/ec2-instance/{bastion}"  # as `act`
    assert root(f"aws/security-group/{named_too}")["resource"]["name"] == "staging-web"

    proc = envdeck_inproc("xray", "staging", "web", *common)  # two instances carry the Name "web"
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "'web' names 2 resources in staging" in proc.stderr
    assert all(f"aws/ec2-instance/{i} (web)" in proc.stderr for i in ids)
    proc = envdeck_inproc("xray", "staging", "nothing-so-named", *common)
    assert proc.returncode == 1 and "no resource nothing-so-named in staging" in proc.stderr
