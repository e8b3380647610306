"""The lifecycle end to end through the real CLI against real servers (moto, the Kubernetes
emulator, simulated edge nodes): create → ready, a step that never becomes healthy → failed
with its reason, destroy leaves nothing marked, a create handed to `reconcile`, sleep/wake
restores what it stopped, extend is capped by max_ttl, an expired TTL is destroyed.
Everything created or left is counted on the servers, not in envdeck's store."""

from __future__ import annotations

import json
import time

from tests.lifecycle.conftest import World
from tests.security.access_setup import audit_rows
from tui.core.lifecycle.records import (
    AWS_ENV_TAG,
    AWS_INSTANCE_TAG,
    AWS_STEP_TAG,
    AWS_TEMPLATE_TAG,
    K8S_ENV_LABEL,
)

NOTHING = {"instances": [], "security_groups": [], "buckets": [], "tagged": [], "namespaces": [], "objects": []}
ONE_EACH = {"instances": 1, "security_groups": 1, "buckets": 1, "namespaces": 1, "deployments": 1}


def _ok(proc, what: str = "") -> None:
    assert proc.returncode == 0, (what, proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr


def _create(world: World, name: str, *extra: str, template: str = "preview", branch: str = "main"):
    return world.envdeck("env", "create", name, "--template", template, "--param", f"branch={branch}", *extra)


def _tags(resource: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def test_create_wait_ready_everywhere_then_destroy_leaves_nothing(world: World):
    proc = _create(world, "pr-1", "--param", "replicas=2", "--wait", "--json")
    _ok(proc, "create")
    created = json.loads(proc.stdout)
    assert created["state"] == "ready" and created["name"] == "pr-1"
    assert "pr-1: " in proc.stderr, "progress lines during --wait"

    # on the servers: one of each, carrying the owner marks
    assert world.counts("pr-1") == ONE_EACH
    [instance] = world.instances("pr-1")
    tags = _tags(instance)
    assert (tags[AWS_ENV_TAG], tags[AWS_TEMPLATE_TAG], tags[AWS_STEP_TAG]) == ("pr-1", "preview", "web")
    [sg] = world.security_groups("pr-1")
    assert sg["GroupId"] in {g["GroupId"] for g in instance["SecurityGroups"]}, "the instance names the SG"
    [ns] = world.namespaces("pr-1")
    deployment = world.deployment(ns)
    assert deployment["spec"]["replicas"] == 2
    assert deployment["metadata"]["labels"][K8S_ENV_LABEL] == "pr-1"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/web:main"
    assert world.k8s.emu.get("services", ns, "web") is not None
    assert len(world.nodes_running()) == 1, "one node claimed from the pool, nginx started"

    # env list --json and status --json
    row = world.env_rows()["pr-1"]
    for key in ("name", "template", "parameters", "owner", "state", "step", "created_at", "expires_at", "orphans"):
        assert key in row, key
    assert (row["template"], row["state"], row["orphans"]) == ("preview", "ready", [])
    assert row["parameters"]["branch"] == "main" and row["parameters"]["replicas"] == 2
    assert row["expires_at"]
    status = world.envdeck("status", "--json")
    assert "Traceback" not in status.stderr
    assert "pr-1" in [e["name"] for e in json.loads(status.stdout)["environments"]]
    human = world.envdeck("env", "list")
    _ok(human)
    assert "pr-1" in human.stdout and "ready" in human.stdout

    # every step audited
    actions = {(r["action"], r["result"]) for r in audit_rows(world.state_dir)}
    assert any(a == "lifecycle.create" for a, _ in actions), actions

    proc = world.envdeck("env", "destroy", "pr-1", "--yes", "--wait")
    _ok(proc, "destroy")
    assert "pr-1: web deleted" in proc.stderr and "pr-1: destroyed" in proc.stderr, proc.stderr
    assert world.leftovers("pr-1") == NOTHING
    assert world.nodes_running() == [], "nginx stopped, node released"
    rows = world.env_rows()
    assert "pr-1" not in rows or rows["pr-1"]["state"] == "destroyed"
    assert any(r["action"] == "lifecycle.destroy" for r in audit_rows(world.state_dir))


def test_step_never_healthy_fails_with_step_and_reason(world: World):
    proc = _create(world, "stuck-1", "--wait", "--json", template="stuck")
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert "stuck-1: step Deployment/web failed: " in proc.stderr, proc.stderr
    failed = json.loads(proc.stdout)
    assert (failed["state"], failed["step"]["id"]) == ("failed", "Deployment/web")
    assert failed["step"]["reason"] in proc.stderr
    row = world.env_rows()["stuck-1"]
    assert row["state"] == "failed"
    assert row["step"]["id"] == "Deployment/web" and row["step"]["reason"]
    # on_failure: keep (the default): what was made is still there for a look
    assert len(world.namespaces("stuck-1")) == 1
    _ok(world.envdeck("env", "destroy", "stuck-1", "--yes", "--wait"), "destroy of a failed env")
    assert world.leftovers("stuck-1") == NOTHING


def test_create_handed_to_reconcile(world: World):
    proc = _create(world, "later-1")
    _ok(proc)
    assert "reconcile" in proc.stdout
    assert world.instances("later-1") == [], "without --wait nothing is created by the command"
    row = world.env_rows()["later-1"]
    assert row["state"] in ("planned", "provisioning") and row["operation"] == "create"
    proc = world.envdeck("reconcile", "--once")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert world.env_rows()["later-1"]["state"] == "ready", proc.stderr
    assert world.counts("later-1") == ONE_EACH
    _ok(world.envdeck("env", "destroy", "later-1", "--yes"))
    world.envdeck("reconcile", "--once")
    assert world.leftovers("later-1") == NOTHING
    assert world.nodes_running() == []


def test_sleep_wake_round_trip(world: World):
    _ok(_create(world, "nap-1", "--param", "replicas=3", "--wait"))
    [ns] = world.namespaces("nap-1")
    [node] = world.nodes_running()
    proc = world.envdeck("env", "sleep", "nap-1", "--wait")
    _ok(proc, "sleep")
    assert "nap-1: sleeping" in proc.stderr and "assets healthy" not in proc.stderr, "only changes are news"
    assert world.deployment(ns)["spec"]["replicas"] == 0
    [instance] = world.instances("nap-1")
    assert instance["State"]["Name"] in ("stopping", "stopped")
    assert world.nodes_running() == []
    assert world.env_rows()["nap-1"]["state"] == "sleeping"

    _ok(world.envdeck("env", "wake", "nap-1", "--wait"), "wake")
    assert world.deployment(ns)["spec"]["replicas"] == 3, "wake restores the replicas before sleep"
    [instance] = world.instances("nap-1")
    assert instance["State"]["Name"] in ("pending", "running")
    assert world.nodes_running() == [node]
    assert world.env_rows()["nap-1"]["state"] == "ready"
    assert world.counts("nap-1") == ONE_EACH, "sleep/wake made nothing new"


def test_extend_up_to_max_ttl(world: World):
    _ok(_create(world, "ext-1", "--ttl", "30m", "--wait"))
    before = world.env_rows()["ext-1"]["expires_at"]
    proc = world.envdeck("env", "extend", "ext-1", "45m", "--json")  # now + 45m: later than the create's 30m
    _ok(proc, "extend within max_ttl (2h)")
    after = json.loads(proc.stdout)["expires_at"]
    assert after > before
    proc = world.envdeck("env", "extend", "ext-1", "3h")
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "max_ttl" in proc.stderr and "Traceback" not in proc.stderr
    assert world.env_rows()["ext-1"]["expires_at"] == after


def test_ttl_expiry_destroys_on_reconcile(world: World):
    _ok(_create(world, "ttl-1", "--ttl", "1s", "--wait"))
    assert world.counts("ttl-1") == ONE_EACH
    time.sleep(1.5)  # past its expiry (not a timing assertion: the next pass must see it expired)
    proc = world.envdeck("reconcile", "--once")
    assert "Traceback" not in proc.stderr, proc.stderr
    for _ in range(3):  # a destroy requested in one pass may be carried out by the next
        if world.leftovers("ttl-1") == NOTHING:
            break
        world.envdeck("reconcile", "--once")
    assert world.leftovers("ttl-1") == NOTHING
    assert world.nodes_running() == []
    rows = [r for r in audit_rows(world.state_dir) if r["action"] == "lifecycle.destroy"]
    assert rows and any(r["origin"] == "ttl" for r in rows), rows


def test_edge_claim_on_real_sshd(world: World, edge_lab):
    """The edge step on OpenSSH: the claimed node's service is started through sshd and stopped
    at teardown; a pool of one cannot serve a second environment at the same time."""
    server = edge_lab.start_sshd("pool-a")
    edge_lab.trust(server)
    config = world.config()
    config["edge_pools"]["lab"] = edge_lab.config([edge_lab.node("sshd-01", server)]).model_dump(mode="json")
    config["templates"]["lab-edge"] = {"description": "one sshd node", "parameters": {},
                                       "edge": {"pool": "lab", "count": 1, "services": ["nginx"], "timeout": "20s"}}
    world.write_config(config)
    _ok(world.envdeck("env", "create", "ssh-1", "--template", "lab-edge", "--wait"))
    assert edge_lab.is_active("nginx")
    assert "start|nginx" in edge_lab.calls()
    second = world.envdeck("env", "create", "ssh-2", "--template", "lab-edge", "--wait")
    assert second.returncode != 0 and "Traceback" not in second.stderr, second.stderr
    assert edge_lab.calls().count("start|nginx") == 1, "the claimed node is not started twice"
    _ok(world.envdeck("env", "destroy", "ssh-1", "--yes", "--wait"))
    assert not edge_lab.is_active("nginx")


def test_clone_takes_the_source_template_and_parameters(world: World):
    _ok(_create(world, "src-1", "--param", "replicas=2", "--wait", branch="feature-a"))
    proc = world.envdeck("env", "clone", "src-1", "copy-1", "--wait", "--json")
    _ok(proc, "clone")
    clone = json.loads(proc.stdout)
    assert (clone["template"], clone["parameters"]["branch"], clone["parameters"]["replicas"]) == \
        ("preview", "feature-a", 2)
    assert world.counts("copy-1") == ONE_EACH and world.counts("src-1") == ONE_EACH
    [ns] = world.namespaces("copy-1")
    assert world.deployment(ns)["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/web:feature-a"
    assert len(world.nodes_running()) == 2, "each environment claims its own node"
    proc = world.envdeck("env", "clone", "nope-1", "copy-2")
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, (proc.returncode, proc.stderr)


def test_what_the_sweep_cannot_delete_is_an_orphan_in_env_list(world: World):
    """Something else carrying the environment's marks and instance id (a queue envdeck does not
    create) is found by the sweep; what cannot be deleted is listed with the reason, never silently
    left. A queue merely tagged with the name is left alone (tests/lifecycle/test_sweep_ownership.py)."""
    _ok(_create(world, "orph-1", "--wait"))
    instance = _tags(world.instances("orph-1")[0])[AWS_INSTANCE_TAG]
    sqs = world.aws("sqs")
    url = sqs.create_queue(QueueName="orph-1-extra", tags={AWS_ENV_TAG: "orph-1", AWS_STEP_TAG: "web",
                                                          AWS_INSTANCE_TAG: instance})["QueueUrl"]
    alone = sqs.create_queue(QueueName="orph-1-not-ours", tags={AWS_ENV_TAG: "orph-1"})["QueueUrl"]
    proc = world.envdeck("env", "destroy", "orph-1", "--yes", "--wait")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert world.counts("orph-1") == {"instances": 0, "security_groups": 0, "buckets": 0, "namespaces": 0,
                                      "deployments": 0}
    queue_left = url in sqs.list_queues().get("QueueUrls", [])
    assert alone in sqs.list_queues().get("QueueUrls", []), "merely tagged with the name: left alone"
    listed = world.envdeck("env", "list", "--json")
    _ok(listed)
    rows = {r["name"]: r for r in json.loads(listed.stdout)["environments"]}
    if queue_left:
        assert proc.returncode == 1, "a teardown that left orphans is not a success"
        assert "orph-1: orphan aws " in proc.stderr and "orph-1-extra" in proc.stderr, proc.stderr
        assert "orph-1" in rows, "a destroyed environment with orphans stays listed"
        [orphan] = rows["orph-1"]["orphans"]
        assert "orph-1-extra" in orphan["resource"] and orphan["reason"], orphan
        human = world.envdeck("env", "list")
        assert "orphan orph-1" in human.stdout and "orph-1-extra" in human.stdout, human.stdout
    else:  # the sweep deleted it: nothing left, nothing to list
        assert [a for a in world.tagged_arns("orph-1") if "orph-1-not-ours" not in a] == []
        assert "orph-1" not in rows or rows["orph-1"]["orphans"] == []
