"""Every verb is scoped to the environment it names, and decided before any backend call.

- Every CLI verb taking an environment (status, reconcile, act, audit, logs, run, doctor,
  tui, desired, diff) refuses an environment where the user has no role and one that does not
  exist alike: exit 3, the same words, nothing on stdout, the attempt audited.
- Every resource id must belong to the environment named: another environment's EC2
  instance or CloudWatch log group, a Kubernetes path out of the namespace, another
  environment's edge node: refused (exit 3), audited `denied`, nothing read or changed.
- Deny first: a viewer's or a `--read-only` action is refused without any backend call,
  even when the endpoint does not work (a loopback listener counts the connections).
- `act` refuses parameters the action does not take (exit 2, nothing stored).
- `status` observes only: it never repairs, not even in `auto` mode, and writes no row.
- Log reads are audited: one `read` row per stream opened.

Real servers: moto (EC2, CloudWatch Logs), the Kubernetes API emulator; edge nodes are
configured but never reached (membership is decided from the config).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from backends.sim.k8s_emulator import Emulator, EmulatorThread
from tests.aws.arrange import instance
from tests.helpers import envdeck, envdeck_inproc
from tests.moto_server import reset
from tests.security.access_setup import access, audit_rows, write_config
from tests.security.test_access_matrix import aws_block, ec2_state, stopped_instance
from tui.core.identity import current_user

PROD_LINE = "PROD-DB-SECRET-LINE"


def put_lines(aws, group: str, lines: list[str], tags: dict[str, str] | None = None) -> None:
    logs = aws("logs")
    logs.create_log_group(logGroupName=group, **({"tags": tags} if tags else {}))
    logs.create_log_stream(logGroupName=group, logStreamName="app-1")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName=group, logStreamName="app-1",
                        logEvents=[{"timestamp": now - 1000 + i, "message": m} for i, m in enumerate(lines)])


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def arrange_prod_pod(emu) -> None:
    """prod's namespace on the emulator, with a pod whose log is prod's secret line."""
    emu.add_namespace("prod")
    emu.create("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db", "namespace": "prod"},
                        "spec": {"containers": [{"name": "db", "image": "postgres:16"}]}})
    emu.append_log("prod", "db", PROD_LINE)


def arrange_aws(aws) -> dict:
    """dev's and prod's instances and log groups on moto: the ids moto gave."""
    dev_iid = instance(aws, "dev", "web-1", **{"envdeck:log-group": "/dev/tagged"})
    prod_iid = instance(aws, "prod", "db-1")
    put_lines(aws, "/dev/web", ["dev web line"])
    put_lines(aws, "/dev/tagged", ["dev tagged line"], tags={"env": "dev"})  # the group is dev's too
    put_lines(aws, "/prod/db", [PROD_LINE], tags={"env": "prod"})
    put_lines(aws, "/prod/declared", [PROD_LINE], tags={"env": "dev"})  # dev's tags, but prod's config names it
    return {"dev_iid": dev_iid, "prod_iid": prod_iid}


def world_of(tmp_path, moto_url: str, kubeconfig, arranged: dict) -> dict:
    """The test's configs (one per role, in its tmp_path) and state dir over an arranged world."""
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")

    def edge(node: str) -> dict:
        return {"known_hosts": str(known_hosts), "connect_timeout": "1s",
                "nodes": [{"name": node, "host": "127.0.0.1", "port": closed_port(), "services": ["web"]}]}

    def config(role: str, **dev_extra) -> str:
        dev = {"access": access(role),
               "aws": aws_block(moto_url, logs=[{"resource": "web-1", "group": "/dev/web"}]),
               "kubernetes": {"kubeconfig": str(kubeconfig), "context": "emulator", "namespace": "staging"},
               "edge": edge("gw-dev"), **dev_extra}
        prod_logs = [{"resource": "db-1", "group": "/prod/db"}, {"resource": "db-2", "group": "/prod/declared"}]
        prod = {"access": access("none"), "aws": {**aws_block(moto_url, logs=prod_logs), "tags": {"env": "prod"}},
                "edge": edge("gw-prod")}
        return str(write_config(tmp_path / f"envdeck-{role}.yaml", {"dev": dev, "prod": prod}))

    return {**arranged, "config": config, "state": tmp_path / "state"}


@pytest.fixture
def world(tmp_path, aws, moto_url, k8s_emulator):
    """`dev` (the role under test) and `prod` (no role) on moto (freshly reset) and an emulator
    of the test's own: a world the test may change."""
    thread, kubeconfig, _token = k8s_emulator
    arrange_prod_pod(thread.emu)
    return world_of(tmp_path, moto_url, kubeconfig, {**arrange_aws(aws), "emu": thread.emu})


@pytest.fixture(scope="module")
def _shared_emulator(tmp_path_factory):
    """An emulator for the module's readers, arranged once."""
    thread = EmulatorThread(Emulator(token="planted-k8s-bearer-" + uuid.uuid4().hex))
    thread.start()
    thread.emu.add_namespace("staging")
    arrange_prod_pod(thread.emu)
    kubeconfig = thread.emu.write_kubeconfig(tmp_path_factory.mktemp("verb-scope") / "kubeconfig",
                                             namespace="staging", context="emulator")
    try:
        yield thread.emu, kubeconfig
    finally:
        thread.stop()


@pytest.fixture(scope="module")
def _shared_ids() -> dict:
    return {}


def _instance_exists(aws, iid: str) -> bool:
    try:
        aws("ec2").describe_instances(InstanceIds=[iid])
    except ClientError:
        return False
    return True


@pytest.fixture
def read_world(tmp_path, moto_server, _arrange_clients, _shared_emulator, _shared_ids):
    """The same world arranged once per module, for the tests that only read it (every call
    they make is refused or reads; each has its own configs and state dir). moto is shared
    with the tests that reset it: when the world's instance is gone, moto is reset and the
    AWS part arranged again."""
    emu, kubeconfig = _shared_emulator
    if not _shared_ids or not _instance_exists(_arrange_clients, _shared_ids["dev_iid"]):
        reset(moto_server)
        _shared_ids.update(arrange_aws(_arrange_clients))
    return world_of(tmp_path, moto_server, kubeconfig, {**_shared_ids, "emu": emu})


# -- hidden and unknown environments, every verb ----------------------------------
VERBS = {  # the common options (--config, --state-dir) go where `opts` is
    "status": lambda env, opts: ["status", "--env", env, "--json", *opts],
    "reconcile": lambda env, opts: ["reconcile", "--once", "--repair", "--env", env, *opts],
    "act": lambda env, opts: ["act", env, "aws/ec2-instance/i-0123456789abcdef0", "stop", "--yes", *opts],
    "audit": lambda env, opts: ["audit", "--env", env, "--json", *opts],
    "logs": lambda env, opts: ["logs", env, "aws/log-group//prod/db", *opts],
    "run": lambda env, opts: ["run", *opts, env, "--", "true"],
    "doctor": lambda env, opts: ["doctor", "--env", env, *opts],
    "tui": lambda env, opts: ["tui", "--env", env, *opts],
    "desired": lambda env, opts: ["desired", env, "--json", *opts],
    "diff": lambda env, opts: ["diff", "dev", env, "--json", *opts],
}


@pytest.mark.parametrize("verb", list(VERBS))
def test_hidden_and_unknown_environments_are_refused_alike(read_world, verb):
    cfg, state = read_world["config"]("admin"), read_world["state"]
    run = envdeck if verb == "tui" else envdeck_inproc  # the TUI verb needs a process of its own
    answers = {}
    for env in ("prod", "nope"):
        proc = run(*VERBS[verb](env, ["--config", cfg, "--state-dir", str(state)]), timeout=90)
        assert proc.returncode == 3, (env, proc.returncode, proc.stdout, proc.stderr)
        assert proc.stdout == "", "nothing of the environment is shown"
        answers[env] = proc.stderr
        denied = [r for r in audit_rows(state) if r["env"] == env]
        assert [(r["action"], r["target"], r["result"], r["user"]) for r in denied] == [
            ("access", env, "denied", current_user())], "the attempt is audited once"
    assert answers["nope"] == "envdeck: denied: no environment 'nope' that you can see\n"
    assert answers["prod"] == answers["nope"].replace("'nope'", "'prod'"), "the two cannot be told apart"
    assert PROD_LINE not in "".join(answers.values())


# -- a resource id of another environment ------------------------------------------
def resource_cases(world) -> dict[str, list[str]]:
    return {
        "act-ec2": ["act", "dev", f"aws/ec2-instance/{world['prod_iid']}", "stop", "--yes"],
        "logs-log-group": ["logs", "dev", "aws/log-group//prod/db"],
        "logs-ec2": ["logs", "dev", f"aws/ec2-instance/{world['prod_iid']}"],
        "logs-k8s-path": ["logs", "dev", "kubernetes/Pod/../../prod/pods/db"],
        "act-k8s-path": ["act", "dev", "kubernetes/Pod/../../prod/pods/db", "delete", "--yes"],
        "logs-edge": ["logs", "dev", "edge/node/gw-prod"],
        "act-edge": ["act", "dev", "edge/node/gw-prod", "reboot", "--yes"],
    }


@pytest.mark.parametrize("case", ["act-ec2", "logs-log-group", "logs-ec2", "logs-k8s-path", "act-k8s-path",
                                  "logs-edge", "act-edge"])
def test_a_resource_of_another_environment_is_refused(read_world, _arrange_clients, case):
    world, aws = read_world, _arrange_clients
    argv = resource_cases(world)[case]
    state = world["state"]
    proc = envdeck_inproc(*argv, "--config", world["config"]("admin"), "--state-dir", str(state))
    assert proc.returncode == 3, (proc.returncode, proc.stdout, proc.stderr)
    assert PROD_LINE not in proc.stdout and proc.stdout == ""
    refusal, _, hint = proc.stderr.partition(" (did you mean ")
    assert refusal.rstrip("\n") == f"envdeck: denied: {argv[2]} is not a resource of environment dev"
    assert world["prod_iid"] not in hint and "db-1" not in hint and "gw-prod" not in hint, "only dev's ids are hinted"
    [row] = audit_rows(state)
    assert (row["env"], row["target"], row["result"]) == ("dev", argv[2], "denied")
    assert row["action"] == ("logs" if argv[0] == "logs" else argv[3])
    assert ec2_state(aws, world["prod_iid"]) == "running", "nothing of prod changed"


def test_log_groups_of_the_environment_are_read_and_audited_once_per_stream(read_world):
    world = read_world
    cfg, state = world["config"]("operator"), world["state"]
    for rid, line in (("aws/log-group//dev/web", "dev web line"),       # aws.logs in the config
                      ("aws/log-group//dev/tagged", "dev tagged line"),  # the tag of a dev instance
                      (f"aws/ec2-instance/{world['dev_iid']}", "dev web line")):
        proc = envdeck_inproc("logs", "dev", rid, "--config", cfg, "--state-dir", str(state))
        assert proc.returncode == 0, proc.stderr
        [printed] = proc.stdout.splitlines()
        assert printed.endswith(line), printed  # a group's lines may carry their stream
    rows = audit_rows(state)
    assert [(r["action"], r["target"], r["result"], r["origin"]) for r in rows] == [
        ("read", "aws/log-group//dev/web", "succeeded", "cli"),
        ("read", "aws/log-group//dev/tagged", "succeeded", "cli"),
        ("read", f"aws/ec2-instance/{world['dev_iid']}", "succeeded", "cli")]


@pytest.mark.parametrize("group", ["/prod/db", "/prod/declared", "/nobody/untagged"])
def test_a_tag_naming_a_log_group_does_not_make_it_the_environments(world, aws, group):
    """A resource's `envdeck:log-group` tag is outside data: tagging a dev instance with
    prod's group reads nothing of it, neither through the group's id nor through the
    instance. The group counts only when it carries dev's tags itself and no other
    environment's config declares it (/prod/declared carries dev's tags but prod declares it)."""
    if group == "/nobody/untagged":
        put_lines(aws, group, [PROD_LINE])
    iid = instance(aws, "dev", "sneaky", **{"envdeck:log-group": group})
    cfg, state = world["config"]("admin"), world["state"]
    for rid in (f"aws/log-group/{group}", f"aws/ec2-instance/{iid}"):
        proc = envdeck_inproc("logs", "dev", rid, "--config", cfg, "--state-dir", str(state))
        assert proc.returncode == 3, (rid, proc.returncode, proc.stdout, proc.stderr)
        assert PROD_LINE not in proc.stdout + proc.stderr and proc.stdout == ""
        assert proc.stderr.startswith("envdeck: denied: ") and "Traceback" not in proc.stderr
    rows = audit_rows(state)
    assert [(r["target"], r["action"], r["result"]) for r in rows] == [
        (f"aws/log-group/{group}", "logs", "denied"), (f"aws/ec2-instance/{iid}", "logs", "denied")]


def test_an_ecs_task_definitions_log_group_must_be_the_environments(world, aws):
    """The awslogs group of a dev ECS service's task definition is outside data too."""
    ecs = aws("ecs")
    ecs.create_cluster(clusterName="dev-cluster", tags=[{"key": "env", "value": "dev"}])
    for name, group in (("api", "/dev/tagged"), ("thief", "/prod/db")):
        task = ecs.register_task_definition(family=name, containerDefinitions=[{
            "name": name, "image": "nginx", "memory": 128, "logConfiguration": {
                "logDriver": "awslogs", "options": {"awslogs-group": group, "awslogs-region": "us-east-1"}}}])
        ecs.create_service(cluster="dev-cluster", serviceName=name, desiredCount=0,
                           taskDefinition=task["taskDefinition"]["taskDefinitionArn"],
                           tags=[{"key": "env", "value": "dev"}])
    cfg, state = world["config"]("admin"), world["state"]
    proc = envdeck_inproc("status", "--env", "dev", "--json", "--config", cfg, "--state-dir", str(state))
    [env] = json.loads(proc.stdout)["environments"]
    ids = {r["name"]: r["id"] for r in env["resources"] if r["kind"] == "ecs-service"}
    own = envdeck_inproc("logs", "dev", ids["api"], "--config", cfg, "--state-dir", str(state))
    assert own.returncode == 0 and own.stdout.splitlines()[-1].endswith("dev tagged line"), own.stderr
    stolen = envdeck_inproc("logs", "dev", ids["thief"], "--config", cfg, "--state-dir", str(state))
    assert stolen.returncode == 3, (stolen.returncode, stolen.stdout, stolen.stderr)
    assert PROD_LINE not in stolen.stdout + stolen.stderr and stolen.stdout == ""
    assert [(r["target"], r["result"]) for r in audit_rows(state)] == [
        (ids["api"], "succeeded"), (ids["thief"], "denied")]


def test_an_aws_name_in_place_of_the_id(world, aws):
    """`aws/ec2-instance/web-1` (the Name tag) is the id of the one dev resource so named:
    read, acted on and audited under its id. A name naming nothing of dev (or another
    environment's, or two of dev's) is refused, with the closest ids of dev as hints."""
    cfg, state, dev_iid = world["config"]("operator"), world["state"], world["dev_iid"]
    instance(aws, "dev", "twin")
    instance(aws, "dev", "twin")
    logs = envdeck_inproc("logs", "dev", "aws/ec2-instance/web-1", "--config", cfg, "--state-dir", str(state))
    assert logs.returncode == 0 and logs.stdout.splitlines()[-1].endswith("dev web line"), logs.stderr
    act = envdeck_inproc("act", "dev", "aws/ec2-instance/web-1", "reboot", "--yes", "--config", cfg, "--state-dir", str(state))
    assert act.returncode == 0, act.stderr
    assert f"reboot aws/ec2-instance/{dev_iid}: ok" in act.stdout
    assert [(r["action"], r["target"], r["result"]) for r in audit_rows(state)] == [
        ("read", f"aws/ec2-instance/{dev_iid}", "succeeded"), ("reboot", f"aws/ec2-instance/{dev_iid}", "succeeded")]

    typo = envdeck_inproc("logs", "dev", "aws/ec2-instance/web-2", "--config", cfg, "--state-dir", str(state))
    assert typo.returncode == 3, typo.stderr
    assert typo.stderr == ("envdeck: denied: aws/ec2-instance/web-2 is not a resource of environment dev "
                           f"(did you mean aws/ec2-instance/{dev_iid} (web-1)?)\n")
    for refused in ("aws/ec2-instance/db-1", "aws/ec2-instance/twin"):  # prod's name; two of dev's
        proc = envdeck_inproc("logs", "dev", refused, "--config", cfg, "--state-dir", str(state))
        assert proc.returncode == 3, proc.stderr
        assert proc.stderr.startswith(f"envdeck: denied: {refused} is not a resource of environment dev")
        assert world["prod_iid"] not in proc.stderr and PROD_LINE not in proc.stdout + proc.stderr
    assert [r["result"] for r in audit_rows(state)][2:] == ["denied"] * 3

    status = envdeck_inproc("status", "--env", "dev", "--config", cfg, "--state-dir", str(state))
    [row] = [line for line in status.stdout.splitlines() if " web-1 " in line]
    assert row.split()[:4] == ["aws", "ec2-instance", "web-1", f"aws/ec2-instance/{dev_iid}"], "the id beside the name"


# -- deny first ---------------------------------------------------------------------
class CountingListener:
    """A loopback port that accepts and drops connections, counting them: an AWS endpoint
    that does not work, and a witness of every attempt to reach it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(): close() alone does not
        except OSError:
            pass
        self.sock.close()
        self._thread.join(timeout=10)


@pytest.mark.parametrize("role,read_only", [("viewer", False), ("admin", True)], ids=["viewer", "admin-read-only"])
def test_a_denial_never_waits_for_an_unreachable_backend(tmp_path, role, read_only):
    listener = CountingListener()
    try:
        cfg = write_config(tmp_path / "envdeck.yaml", {"dev": {
            "access": access(role), "aws": aws_block(f"http://127.0.0.1:{listener.port}")}})
        state = tmp_path / "state"
        proc = envdeck_inproc("act", "dev", "aws/ec2-instance/i-0123456789abcdef0", "start", "--yes", "--config", str(cfg),
                       "--state-dir", str(state), *(["--read-only"] if read_only else []))
        assert proc.returncode == 3, (proc.returncode, proc.stderr)
        assert "unreachable" not in proc.stderr
        assert ("read-only" in proc.stderr) if read_only else ("operator role" in proc.stderr)
        [row] = audit_rows(state)
        assert (row["action"], row["target"], row["result"]) == ("start", "aws/ec2-instance/i-0123456789abcdef0",
                                                                 "denied")
        assert listener.accepted == 0, "no backend call before the denial"
    finally:
        listener.close()


# -- parameters ----------------------------------------------------------------------
def test_a_parameter_the_action_does_not_take_is_refused(tmp_path, aws, moto_url):
    iid = instance(aws, "dev", "web-1")
    cfg = write_config(tmp_path / "envdeck.yaml", {"dev": {"access": access("operator"), "aws": aws_block(moto_url)}})
    state = tmp_path / "state"
    proc = envdeck_inproc("act", "dev", f"aws/ec2-instance/{iid}", "reboot", "--param", "pwd=hunter2", "--yes",
                   "--config", str(cfg), "--state-dir", str(state))
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "--param pwd" in proc.stderr and "hunter2" not in proc.stderr
    assert audit_rows(state) == [], "nothing stored"


def test_a_missing_required_parameter_is_a_usage_error_naming_it(world):
    """`act … scale` without `--param replicas=N`: exit 2 naming the parameter, before any
    change (no audit row), not a backend failure quoting `None`."""
    from backends.sim.k8s_emulator.manifests import deployment

    world_emu = world["emu"]
    world_emu.create("deployments", deployment("staging", "web", 2, "nginx:1.27", None, None))
    state = world["state"]
    proc = envdeck_inproc("act", "dev", "kubernetes/Deployment/web", "scale", "--yes",
                   "--config", world["config"]("operator"), "--state-dir", str(state))
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stderr == "envdeck: scale on kubernetes/Deployment/web needs --param replicas=VALUE\n"
    assert "None" not in proc.stderr
    assert audit_rows(state) == [], "nothing performed"


# -- status observes only ------------------------------------------------------------
@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_status_never_repairs(tmp_path, aws, moto_url, role):
    iid = stopped_instance(aws)
    desired = [{"kind": "ec2-instance", "name": "web-1", "state": "running"}]
    cfg = write_config(tmp_path / "envdeck.yaml", {"dev": {"repair": "auto", "access": access(role),
                                                           "aws": aws_block(moto_url, desired=desired)}})
    state = tmp_path / "state"
    for _ in range(2):
        proc = envdeck_inproc("status", "--json", "--config", str(cfg), "--state-dir", str(state))
        assert proc.returncode == 0, proc.stderr
        [env] = json.loads(proc.stdout)["environments"]
        [res] = [r for r in env["resources"] if r["id"] == f"aws/ec2-instance/{iid}"]
        assert res["drift"] == "Drifted" and ec2_state(aws, iid) == "stopped"
    assert audit_rows(state) == [], "status writes no repair and no denied row"
