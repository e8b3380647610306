"""Faults under a running headless reconciler (`Session` + `reconciler.start()`, real
backends against real servers): the moto server stopped then restarted on the same
port, the Kubernetes API emulator answering 500 / timing out / `410 Gone` on every
watch, an sshd node killed then restarted. Expected: no crash and no unhandled
exception in the log, the affected resources `Unknown` with the age of their last
observation, the rest live, backoff visible (`failures`, `backoff_s` in the JSON of
`status`), and recovery once the fault ends.

Longer outages on demand: ENVDECK_FAULT_OUTAGE_S=30 python -m pytest tests/reliability/test_faults.py
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import time
from pathlib import Path

import boto3
import pytest

from backends.registry import create_backends
from tests.helpers import envdeck
from tui.core.config import parse_config
from tui.core.model import Health, iso
from tui.core.session import Session

WAIT_S = 120.0  # generous: other suites share the 2 cores
OUTAGE_S = float(os.environ.get("ENVDECK_FAULT_OUTAGE_S", "0"))
DEFAULTS = {"interval": "1s", "timeout": "3s", "max_backoff": "4s"}


async def eventually(predicate, what: str, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.1)


async def hold(seconds: float) -> None:
    """Keep a fault up for a while (long runs only); assertions never depend on it."""
    if seconds:
        await asyncio.sleep(seconds)


def ec2_instance(url: str, name: str = "web-1") -> str:
    ec2 = boto3.client("ec2", endpoint_url=url, region_name="us-east-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    return ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, TagSpecifications=[{
        "ResourceType": "instance", "Tags": [{"Key": "env", "Value": "dev"}, {"Key": "Name", "Value": name}]}],
    )["Instances"][0]["InstanceId"]


@pytest.fixture
def no_unhandled(caplog):
    """After the test: nothing logged with a traceback, no asyncio task died unseen."""
    caplog.set_level(logging.WARNING)
    yield caplog
    bad = [r for r in caplog.records if r.exc_info or (r.name == "asyncio" and r.levelno >= logging.ERROR)]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]


def kill_tree(pid: int) -> None:
    """SIGKILL a process we started and every descendant (sshd keeps one child per open
    connection: killing only the listener would leave envdeck's session alive)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    todo, found = [pid], []
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    for victim in reversed(found):
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


def live(env, rid: str) -> bool:
    r = env.resource(rid)
    return r is not None and r.health not in (Health.UNKNOWN,)


async def open_session(tmp_path, envs: dict) -> Session:
    cfg = parse_config(json.dumps({"defaults": DEFAULTS, "environments": envs}))
    session = await Session.open(cfg, tmp_path / "state", backends_factory=create_backends)
    await session.reconciler.start()
    return session


def kube_block(kubeconfig) -> dict:
    return {"kubeconfig": str(kubeconfig), "context": "emulator", "namespace": "staging"}


async def aws_and_kubernetes(tmp_path, moto_life, kubeconfig):
    """A running session on `dev` = one tagged EC2 instance in moto + the emulator's
    `staging` namespace: (session, the aws config block, the instance's resource id)."""
    aws_id = f"aws/ec2-instance/{ec2_instance(moto_life.url)}"
    aws_block = {"region": "us-east-1", "endpoint_url": moto_life.url, "tags": {"env": "dev"}}
    session = await open_session(tmp_path, {"dev": {"aws": aws_block, "kubernetes": kube_block(kubeconfig)}})
    return session, aws_block, aws_id


async def test_moto_stopped_then_restarted(tmp_path, moto_life, k8s_emulator, no_unhandled):
    thread, kubeconfig, _ = k8s_emulator
    thread.emu.create_deployment("staging", "web", replicas=1)
    session, aws_block, aws_id = await aws_and_kubernetes(tmp_path, moto_life, kubeconfig)
    try:
        env = session.reconciler.envs["dev"]
        aws, kube = env.backends["aws"], env.backends["kubernetes"]
        await eventually(lambda: aws.reachable and live(env, aws_id) and kube.reachable
                         and live(env, "kubernetes/Deployment/web"), "both backends observed")
        last_good = aws.observed_at

        moto_life.stop()
        await eventually(lambda: aws.reachable is False, "aws unreachable")
        await eventually(lambda: aws.failures >= 3, "three failed passes (backing off)")
        await hold(OUTAGE_S)
        resource = env.resource(aws_id)
        assert resource.health == Health.UNKNOWN
        assert f"last observed {iso(last_good)}" in resource.health_reason
        shown = env.to_json()["backends"]["aws"]
        assert shown["reachable"] is False and shown["error"] and shown["observed_at"] == iso(last_good)
        assert shown["failures"] >= 3 and shown["backoff_s"] > 0
        assert kube.reachable and live(env, "kubernetes/Deployment/web"), "the other backend stays live"

        # the CLI, meanwhile, shows the same thing from a one-shot pass and the stored snapshot
        cfg = tmp_path / "envdeck.yaml"
        cfg.write_text(json.dumps({"defaults": DEFAULTS, "environments": {"dev": {
            "aws": aws_block, "kubernetes": kube_block(kubeconfig)}}}))
        proc = await asyncio.to_thread(envdeck, "status", "--json", "--config", str(cfg), "--state-dir",
                                       str(tmp_path / "state"))
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        [doc] = json.loads(proc.stdout)["environments"]
        assert doc["backends"]["aws"]["reachable"] is False and doc["backends"]["aws"]["failures"] >= 1
        assert doc["backends"]["aws"]["backoff_s"] > 0 and doc["backends"]["kubernetes"]["reachable"] is True
        [shown_resource] = [r for r in doc["resources"] if r["id"] == aws_id]
        assert shown_resource["health"] == "Unknown" and doc["health"] == "Unknown"

        moto_life.start()  # same port (moto keeps its state in-process: the instance is still there)
        new_id = f"aws/ec2-instance/{ec2_instance(moto_life.url, 'web-2')}"
        await eventually(lambda: aws.reachable and live(env, new_id) and live(env, aws_id), "aws recovered")
        assert aws.failures == 0 and aws.backoff_s == 0 and aws.error is None
        assert env.resource(aws_id).health == Health.HEALTHY
    finally:
        await session.close()


async def test_kubernetes_500_timeouts_and_gone_watches(tmp_path, moto_life, k8s_emulator, no_unhandled):
    thread, kubeconfig, _ = k8s_emulator
    emu = thread.emu
    emu.create_deployment("staging", "web", replicas=1)
    session, aws_block, aws_id = await aws_and_kubernetes(tmp_path, moto_life, kubeconfig)
    try:
        env = session.reconciler.envs["dev"]
        aws, kube = env.backends["aws"], env.backends["kubernetes"]
        web = "kubernetes/Deployment/web"
        await eventually(lambda: kube.reachable and live(env, web) and aws.reachable and live(env, aws_id),
                         "both backends observed")

        emu.set_failure(status=500)
        await eventually(lambda: kube.reachable is False, "kubernetes unreachable on HTTP 500")
        await eventually(lambda: kube.failures >= 2, "kubernetes backing off")
        await hold(OUTAGE_S)
        assert env.resource(web).health == Health.UNKNOWN and "last observed" in env.resource(web).health_reason
        assert env.to_json()["backends"]["kubernetes"]["backoff_s"] > 0
        assert aws.reachable and live(env, aws_id), "the other backend stays live"
        emu.set_failure()
        await eventually(lambda: kube.reachable and live(env, web), "recovery after the 500s")

        # an API server that stops answering: a one-shot `status` gives up after its timeout
        cfg = tmp_path / "envdeck.yaml"
        cfg.write_text(json.dumps({"defaults": DEFAULTS, "environments": {"dev": {
            "aws": aws_block, "kubernetes": kube_block(kubeconfig)}}}))
        emu.set_failure(delay_s=60.0)
        proc = await asyncio.to_thread(envdeck, "status", "--json", "--config", str(cfg), "--state-dir",
                                       str(tmp_path / "cli-state"))
        emu.set_failure()
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        [doc] = json.loads(proc.stdout)["environments"]
        assert doc["backends"]["kubernetes"]["reachable"] is False and doc["backends"]["kubernetes"]["error"]
        assert doc["backends"]["kubernetes"]["backoff_s"] > 0
        assert doc["backends"]["aws"]["reachable"] is True
        assert kube.reachable, "the running reconciler's open watches were not affected"

        # 410 Gone on every watch: the informers list again (not an outage). Each relist is
        # published (the backend stages relists), so a change made during the storm shows up
        # while every watch still gets 410; and once watches are accepted again, changes arrive.
        emu.set_failure(gone_watches=True)
        emu.create_deployment("staging", "api", replicas=1)
        await eventually(lambda: env.resource("kubernetes/Deployment/api") is not None,
                         "a change made during a 410 storm is published from the relists")
        await hold(OUTAGE_S)
        assert kube.reachable is not False and aws.reachable
        emu.set_failure()
        emu.create_deployment("staging", "worker", replicas=1)
        await eventually(lambda: kube.reachable and env.resource("kubernetes/Deployment/worker") is not None
                         and env.resource("kubernetes/Deployment/api") is not None, "watching again after the 410s")
    finally:
        await session.close()


async def test_sshd_killed_then_restarted(tmp_path, edge_lab, no_unhandled):
    servers = [edge_lab.start_sshd(name) for name in ("n1", "n2")]
    for server in servers:
        edge_lab.trust(server)
    nodes = [edge_lab.node(name, server) for name, server in zip(("gw-01", "gw-02"), servers, strict=True)]
    edge = edge_lab.config(nodes, connect_timeout=3, command_timeout=5).model_dump(mode="json", exclude_none=True)
    session = await open_session(tmp_path, {"dev": {"edge": edge}})
    try:
        env = session.reconciler.envs["dev"]
        await eventually(lambda: live(env, "edge/node/gw-01") and live(env, "edge/node/gw-02")
                         and env.resource("edge/node/gw-02").health == Health.HEALTHY, "both nodes observed")

        kill_tree(servers[1].proc.pid)
        servers[1].stop()  # reaps it
        await eventually(lambda: env.resource("edge/node/gw-02").health != Health.HEALTHY, "gw-02 down")
        await hold(OUTAGE_S)
        down = env.resource("edge/node/gw-02")
        assert down.health in (Health.UNKNOWN, Health.DEGRADED) and down.health_reason
        assert env.resource("edge/node/gw-01").health == Health.HEALTHY, "the other node stays live"
        assert env.backends["edge"].reachable, "one node down does not make the backend unreachable"

        servers[1].start()  # same port, same host key
        await eventually(lambda: env.resource("edge/node/gw-02").health == Health.HEALTHY, "gw-02 recovered")
    finally:
        await session.close()


async def test_network_link_cut_then_restored(tmp_path, edge_lab, no_unhandled):
    """Nodes in network namespaces of their own; one link is cut (a partition, not a
    refused connection), then restored."""
    from tests.edge.netns import (
        create_hosts,
        fresh_connect,
        netns_unavailable_reason,
        remove_hosts,
        start_sshd_in,
    )

    reason = netns_unavailable_reason()
    if reason:
        pytest.skip(f"cutting a link needs network namespaces: {reason}")
    hosts = create_hosts(2)
    try:
        servers = [start_sshd_in(h, edge_lab) for h in hosts]
        for server in servers:
            edge_lab.trust(server)
        nodes = [edge_lab.node(name, server) for name, server in zip(("gw-01", "gw-02"), servers, strict=True)]
        edge = edge_lab.config(nodes, connect_timeout=3, command_timeout=5, keepalive=2).model_dump(
            mode="json", exclude_none=True)
        session = await open_session(tmp_path, {"dev": {"edge": edge}})
        try:
            env = session.reconciler.envs["dev"]
            await eventually(lambda: all(getattr(env.resource(f"edge/node/{n}"), "health", None) == Health.HEALTHY
                                         for n in ("gw-01", "gw-02")), "both nodes observed")
            hosts[1].cut()
            refused = await fresh_connect(servers[1].address, servers[1].port)
            assert refused is not None and not isinstance(refused, ConnectionRefusedError), refused
            await eventually(lambda: env.resource("edge/node/gw-02").health == Health.UNKNOWN, "gw-02 cut off")
            await hold(OUTAGE_S)
            assert "last seen" in env.resource("edge/node/gw-02").health_reason
            assert env.resource("edge/node/gw-01").health == Health.HEALTHY, "the other node stays live"
            hosts[1].restore()
            await eventually(lambda: env.resource("edge/node/gw-02").health == Health.HEALTHY, "gw-02 back")
        finally:
            hosts[1].restore()
            await session.close()
    finally:
        for server in edge_lab.servers:
            server.stop()
        remove_hosts(hosts)
