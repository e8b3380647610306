"""Whose things a teardown may delete, on the real servers (moto, the Kubernetes emulator) through
the real CLI.

An environment's things carry its instance id (a uuid fixed when its row is stored: AWS tag
`envdeck:instance`, label `envdeck.io/instance`). find() adopts only what carries it; the sweep
deletes only what carries it AND the mark of one of the environment's steps. Whatever else merely
carries `envdeck:env=NAME` / `envdeck.io/env=NAME` (anyone who may tag or label can put it there)
is left alone and named, never deleted, never an orphan. Counted on the servers."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from tests.helpers import envdeck_inproc
from tests.lifecycle.conftest import AMI, World
from tests.lifecycle.memory_provisioner import managed_env
from tests.security.access_setup import audit_rows
from tui.core.lifecycle.lifecycle_store import LifecycleStore
from tui.core.lifecycle.records import (
    AWS_ENV_TAG,
    AWS_INSTANCE_TAG,
    AWS_STEP_TAG,
    K8S_ENV_LABEL,
    K8S_INSTANCE_LABEL,
    K8S_STEP_LABEL,
    StepSpec,
)
from tui.core.store import DB_NAME

ONE_EACH = {"instances": 1, "security_groups": 1, "buckets": 1, "namespaces": 1, "deployments": 1}
NOTHING = {"instances": 0, "security_groups": 0, "buckets": 0, "namespaces": 0, "deployments": 0}


def _ok(proc: subprocess.CompletedProcess, what: str = "") -> None:
    assert proc.returncode == 0, (what, proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr


def _tags(resource: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags") or resource.get("TagSet") or []}


def _with_own_template(world: World) -> None:
    """`own`: the preview's AWS part and a namespace with a Deployment, no edge node (the edge
    claims live in each store: two stores would share the pool)."""
    config = world.config()
    preview = config["templates"]["preview"]
    config["templates"]["own"] = {"description": "aws + kubernetes", "parameters": preview["parameters"],
                                  "access": preview["access"], "aws": preview["aws"],
                                  "kubernetes": world.kubernetes_section(["templates/web-only.yaml"], timeout="30s")}
    world.write_config(config)


def _create(world: World, name: str, template: str = "own", state_dir: Path | None = None):
    return _envdeck(world, state_dir, "env", "create", name, "--template", template, "--param", "branch=main",
                    "--wait")


def _envdeck(world: World, state_dir: Path | None, *args: str) -> subprocess.CompletedProcess:
    if state_dir is None:
        return world.envdeck(*args)
    return envdeck_inproc(*args, timeout=120, ENVDECK_CONFIG=str(world.config_path),
                          ENVDECK_STATE_DIR=str(state_dir))


def _timeline(state_dir: Path, env: str) -> list[str]:
    db = sqlite3.connect(state_dir / DB_NAME, timeout=30)
    try:
        return [f"{r[0]}: {r[1]}" for r in db.execute(
            "SELECT reason, message FROM timeline WHERE env = ? AND kind = 'lifecycle' ORDER BY id", (env,))]
    finally:
        db.close()


def _sweep_messages(state_dir: Path, env: str) -> str:
    return "\n".join(r["message"] or "" for r in audit_rows(state_dir)
                     if r["action"] == "lifecycle.destroy" and r["target"].startswith(f"{env}/sweep:"))


def _instance_of(world: World, env: str) -> str:
    [instance] = world.instances(env)
    return _tags(instance)[AWS_INSTANCE_TAG]


def test_things_merely_carrying_the_name_survive_destroy_and_are_named(world: World):
    """The three reproductions: a namespace of somebody else's labelled envdeck.io/env=sw1 (with a
    workload), a bucket with data tagged envdeck:env=sw1 (even with a step tag of sw1's), an
    instance prod-db tagged the same: destroy leaves them, names each, no orphan. A duplicate of
    sw1's own (its instance id and step) is deleted and named."""
    _with_own_template(world)
    _ok(_create(world, "sw1"), "create")
    assert world.counts("sw1") == ONE_EACH
    instance = _instance_of(world, "sw1")
    assert len(instance) == 32, instance
    [ns] = world.namespaces("sw1")
    labels = world.k8s.emu.get("namespaces", None, ns)["metadata"]["labels"]
    assert labels[K8S_INSTANCE_LABEL] == instance
    assert world.deployment(ns)["metadata"]["labels"][K8S_INSTANCE_LABEL] == instance

    # someone else's things, marked with sw1's name
    world.k8s.emu.add_namespace("staging", {K8S_ENV_LABEL: "sw1", K8S_STEP_LABEL: "namespace"})
    world.k8s.emu.create_deployment("staging", "api", replicas=1)
    s3, ec2 = world.aws("s3"), world.aws("ec2")
    s3.create_bucket(Bucket="victim-assets")
    s3.put_object(Bucket="victim-assets", Key="customers.csv", Body=b"precious")
    s3.put_bucket_tagging(Bucket="victim-assets", Tagging={"TagSet": [
        {"Key": AWS_ENV_TAG, "Value": "sw1"}, {"Key": AWS_STEP_TAG, "Value": "assets"}]})
    prod = ec2.run_instances(ImageId=AMI, InstanceType="t3.micro", MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "prod-db"},
                                              {"Key": AWS_ENV_TAG, "Value": "sw1"}]}])["Instances"][0]["InstanceId"]
    # a duplicate of sw1's own web instance (what a crash window can leave): its marks, its instance id
    dup = ec2.run_instances(ImageId=AMI, InstanceType="t3.micro", MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": AWS_ENV_TAG, "Value": "sw1"}, {"Key": AWS_STEP_TAG, "Value": "web"},
                                              {"Key": AWS_INSTANCE_TAG, "Value": instance}]}])["Instances"][0]["InstanceId"]

    proc = world.envdeck("env", "destroy", "sw1", "--yes", "--wait")
    _ok(proc, "destroy")

    # on the servers: sw1's own things are gone, the others' are all there
    assert world.k8s.emu.get("namespaces", None, "staging") is not None
    assert world.deployment("staging", "api") is not None
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="victim-assets")["Contents"]] == ["customers.csv"]
    assert [i["InstanceId"] for i in world.instances("sw1")] == [prod]
    assert world.instances("sw1")[0]["State"]["Name"] in ("pending", "running")
    assert world.security_groups("sw1") == [] and world.buckets("sw1") == ["victim-assets"]
    assert world.namespaces("sw1") == ["staging"]
    assert dup not in {i["InstanceId"] for i in world.instances("sw1")}, "sw1's own duplicate is swept"

    # named: in the audit rows of the sweep and in the timeline; not orphans
    swept = _sweep_messages(world.state_dir, "sw1")
    assert f"ec2-instance {dup}" in swept or f"instance/{dup}" in swept, swept
    for name in ("staging", "victim-assets", prod):
        assert "left alone: " in swept and name in swept, (name, swept)
    timeline = _timeline(world.state_dir, "sw1")
    for name in ("Namespace staging", "victim-assets", prod):
        assert any(line.startswith("Left alone: left alone: ") and name in line
                   and "but was not created by this environment" in line for line in timeline), (name, timeline)
    rows = world.env_rows()
    assert "sw1" not in rows or rows["sw1"]["orphans"] == [], rows.get("sw1")


def test_two_stores_creating_one_name_never_adopt_or_delete_each_other(world: World, tmp_path: Path):
    """Two users with their own stores both create `shared`: the second create fails clearly at the
    first step that meets the first one's things, and its destroy deletes none of them."""
    _with_own_template(world)
    _ok(_create(world, "shared"), "first create")
    assert world.counts("shared") == ONE_EACH
    first = _instance_of(world, "shared")
    [ns] = world.namespaces("shared")
    before = (world.instances("shared")[0]["InstanceId"], world.security_groups("shared")[0]["GroupId"],
              world.k8s.emu.get("namespaces", None, ns)["metadata"]["uid"])

    other = tmp_path / "other-store"
    proc = _create(world, "shared", state_dir=other)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert "belongs to another envdeck environment named shared (instance " in proc.stderr, proc.stderr
    assert f"instance {first}" in proc.stderr, proc.stderr
    assert world.counts("shared") == ONE_EACH, "nothing adopted twice, nothing created twice"

    proc = _envdeck(world, other, "env", "destroy", "shared", "--yes", "--wait")
    _ok(proc, "the second store's destroy")
    assert world.counts("shared") == ONE_EACH, "the second store's destroy deleted nothing of the first's"
    assert (world.instances("shared")[0]["InstanceId"], world.security_groups("shared")[0]["GroupId"],
            world.k8s.emu.get("namespaces", None, ns)["metadata"]["uid"]) == before
    assert world.instances("shared")[0]["State"]["Name"] in ("pending", "running")
    assert "left alone" in _sweep_messages(other, "shared") or "Not ours" in "\n".join(_timeline(other, "shared"))

    _ok(world.envdeck("env", "destroy", "shared", "--yes", "--wait"), "the first store's destroy")
    assert world.counts("shared") == NOTHING


def test_a_refused_foreign_namespace_is_not_an_orphan_of_the_environment(world: World):
    """Finding 8: the namespace `victim` exists and is not envdeck's; the create is refused, and the
    destroy says nothing of ours was there (a note), no orphan; `victim` stays."""
    world.k8s.emu.add_namespace("victim", {"team": "payments"})
    proc = world.envdeck("env", "create", "victim", "--template", "note", "--param", "note=hi", "--wait")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, (proc.returncode, proc.stderr)
    assert "exists and is not envdeck's" in proc.stderr, proc.stderr

    proc = world.envdeck("env", "destroy", "victim", "--yes", "--wait")
    _ok(proc, "destroy")
    assert "orphan" not in proc.stderr, proc.stderr
    assert world.k8s.emu.get("namespaces", None, "victim") is not None
    rows = world.env_rows()
    assert "victim" not in rows or rows["victim"]["orphans"] == [], rows.get("victim")
    timeline = _timeline(world.state_dir, "victim")
    assert any(line.startswith("Not ours: left alone: ") and "exists and is not envdeck's" in line
               for line in timeline), timeline


async def test_the_instance_id_is_fixed_when_stored_on_both_engines(any_store):
    store = await any_store.open()
    try:
        lstore = LifecycleStore(store)
        step = StepSpec("ns", "kubernetes", "Namespace", {"name": "pr-1"})
        await lstore.insert(managed_env("pr-1", [step]))
        first = (await lstore.require("pr-1")).instance
        assert len(first) == 32 and (await lstore.require("pr-1")).spec.instance == first
        assert (await lstore.list())[0].instance == first, "kept as stored"
        await lstore.insert(managed_env("pr-2", [step]))
        assert (await lstore.require("pr-2")).instance not in ("", first)
    finally:
        await store.close()
