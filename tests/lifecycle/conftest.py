"""The lifecycle world: a moto server (AWS), the Kubernetes API emulator and a pool of simulated
edge nodes (asyncssh servers on the emulator's loop), with a config whose templates touch all
three backends. The CLI runs against it in this process (`world.envdeck(...)`, envdeck_inproc) or in a
subprocess (`world.envdeck_process(...)`, `world.popen(...)`); what was
created or left behind is counted on the SERVERS (moto's tagging API and describes, the
emulator's object lists, the simulated nodes' services), never through envdeck's store.

Templates (see `templates()`):
- `preview`: a bucket, a security group, an instance naming it, a namespace with a
  Deployment + Service, one edge node claimed from the `gateways` pool (nginx started);
- `small`: the same without the Service (crash trials);
- `stuck`: a namespace and a Deployment whose image comes from a `.invalid` registry (the
  emulator keeps its pods in ImagePullBackOff), with a 3s kubernetes timeout;
- `note`: a namespace with a ConfigMap carrying a free-text parameter (hostile values);
- `locked`: creators name somebody else (create is denied);
- `viewer-only`: the creator only gets viewer (destroy/sleep/wake/extend are denied).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from backends.sim.edge.simulator import EdgeSimulator
from backends.sim.k8s_emulator import EmulatorThread
from tests.helpers import envdeck_inproc, repo_root
from tests.moto_server import REGION
from tui.core.lifecycle.records import AWS_ENV_TAG, K8S_ENV_LABEL
from tui.core.store import DB_NAME

POOL = ("pool-01", "pool-02", "pool-03")
OTHER = "envdeck-nobody-else"
AMI = "ami-12c6146b"
LIVE_INSTANCE_STATES = ["pending", "running", "stopping", "stopped", "shutting-down"]

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: "{replicas}"
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: "registry.example/web:{branch}"
"""

SERVICE = """\
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
    - port: 80
      targetPort: 8080
"""

NOTE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: note
  annotations: {envdeck.example/note: "{note}"}
data:
  note: "{note}"
  greeting: "hello {note}"
"""


def _parameters() -> dict[str, Any]:
    return {"branch": {"type": "string", "pattern": "^[a-z0-9-]{1,30}$"},
            "replicas": {"type": "integer", "default": 1, "minimum": 0, "maximum": 10}}


@dataclass
class World:
    workdir: Path
    moto_url: str
    aws: Any                      # client("ec2") etc. against moto
    k8s: EmulatorThread
    kubeconfig: Path
    edge: EdgeSimulator
    state_dir: Path = field(init=False)
    config_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.state_dir = self.workdir / "state"
        self.config_path = self.workdir / "envdeck.yaml"
        (self.workdir / "templates").mkdir(exist_ok=True)
        (self.workdir / "templates" / "web.yaml").write_text(MANIFEST + SERVICE)
        (self.workdir / "templates" / "web-only.yaml").write_text(MANIFEST)
        (self.workdir / "templates" / "note.yaml").write_text(NOTE)
        # the emulator keeps images from *.invalid registries in ImagePullBackOff: never healthy
        (self.workdir / "templates" / "broken.yaml").write_text(
            MANIFEST.replace("registry.example/web", "registry.invalid/web"))

    # -- config ---------------------------------------------------------------------------------
    def aws_section(self, resources: list[dict[str, Any]]) -> dict[str, Any]:
        return {"region": REGION, "endpoint_url": self.moto_url, "resources": resources}

    def add_k8s_template(self, name: str, timeout: str) -> None:
        """A template `name` of the Kubernetes section alone (templates/web-only.yaml), its steps'
        timeout `timeout`, written into the config."""
        config = self.config()
        config["templates"][name] = {
            "description": "kubernetes only", "parameters": _parameters(), "ttl": "1h", "max_ttl": "2h",
            "repair": "auto", "access": {"admin": ["{creator}"], "viewer": ["*"]},
            "kubernetes": self.kubernetes_section(["templates/web-only.yaml"], timeout=timeout)}
        self.write_config(config)

    def kubernetes_section(self, manifests: list[str], **extra: Any) -> dict[str, Any]:
        return {"kubeconfig": str(self.kubeconfig), "context": "emulator", "namespace": "{env}",
                "manifests": manifests, **extra}

    def pool(self) -> dict[str, Any]:
        edge = self.edge.edge_config_dict()
        for node in edge["nodes"]:
            node["services"] = []
            node["log_files"] = []
        return edge

    def templates(self) -> dict[str, Any]:
        aws_full = [
            {"id": "assets", "kind": "s3-bucket", "name": "{env}-assets", "encryption": True,
             "public_access_blocked": True},
            {"id": "web-sg", "kind": "security-group", "name": "{env}-web",
             "ingress": [{"port": 443, "cidr": "10.0.0.0/8"}]},
            {"id": "web", "kind": "ec2-instance", "name": "{env}-web-1", "image_id": AMI,
             "instance_type": "t3.micro", "security_groups": ["{web-sg}"], "depends_on": ["assets"]},
        ]
        edge = {"pool": "gateways", "count": 1, "services": ["nginx"]}
        common = {"parameters": _parameters(), "ttl": "1h", "max_ttl": "2h", "repair": "auto",
                  "access": {"admin": ["{creator}"], "viewer": ["*"]}}
        return {
            "preview": {"description": "Preview environment of a branch", **common,
                        "aws": self.aws_section(aws_full),
                        "kubernetes": self.kubernetes_section(["templates/web.yaml"], timeout="30s"),
                        "edge": edge},
            "small": {"description": "crash trials", **common,
                      "aws": self.aws_section(aws_full),
                      "kubernetes": self.kubernetes_section(["templates/web-only.yaml"], timeout="30s"),
                      "edge": edge},
            "stuck": {"description": "never healthy", **common,
                      "kubernetes": self.kubernetes_section(["templates/broken.yaml"], timeout="3s")},
            "note": {"description": "a free-text parameter, kept as data", **common,
                     "parameters": {"note": {"type": "string"}},
                     "kubernetes": self.kubernetes_section(["templates/note.yaml"], timeout="30s")},
            "locked": {"description": "somebody else's", **common, "creators": [OTHER],
                       "aws": self.aws_section(aws_full[:1])},
            "viewer-only": {"description": "creator is only a viewer", **common,
                            "access": {"admin": [OTHER], "viewer": ["{creator}"]},
                            "aws": self.aws_section(aws_full[:1])},
        }

    def config(self) -> dict[str, Any]:
        return {"defaults": {"interval": "10s", "timeout": "5s", "max_backoff": "10s"},
                "edge_pools": {"gateways": self.pool()},
                "templates": self.templates()}

    def write_config(self, config: dict[str, Any] | None = None) -> Path:
        """JSON is YAML: the loader reads it like any config file."""
        self.config_path.write_text(json.dumps(config or self.config(), indent=2))
        self.config_path.chmod(0o600)
        return self.config_path

    # -- the CLI ------------------------------------------------------------------------------------
    def cli_env(self) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(repo_root()), "ENVDECK_CONFIG": str(self.config_path),
                "ENVDECK_STATE_DIR": str(self.state_dir)}

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "tui.cli", *args]

    def envdeck(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """The CLI's main() in this process (tests/helpers.py envdeck_inproc: same exit code,
        stdout and stderr as a subprocess; stdin is not a terminal)."""
        return envdeck_inproc(*args, timeout=timeout, ENVDECK_CONFIG=str(self.config_path),
                              ENVDECK_STATE_DIR=str(self.state_dir))

    def envdeck_process(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        """The real CLI in a subprocess of its own (stdin is not a terminal): for trials where the
        process ending (killed, resumed by another) is the point."""
        return subprocess.run(self.argv(*args), capture_output=True, text=True, cwd=repo_root(),
                              env=self.cli_env(), timeout=timeout, stdin=subprocess.DEVNULL)

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=repo_root(), env=self.cli_env(), stdin=subprocess.DEVNULL)

    def env_rows(self) -> dict[str, dict[str, Any]]:
        out = self.envdeck("env", "list", "--json")
        assert out.returncode == 0, out.stderr
        return {row["name"]: row for row in json.loads(out.stdout)["environments"]}

    def stored_state(self, env: str) -> str | None:
        """The environment's state as the store keeps it (read directly: fast, for steering a
        test; what exists is always counted on the servers)."""
        path = self.state_dir / DB_NAME
        if not path.exists():
            return None
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            row = db.execute("SELECT state FROM managed_env WHERE name = ?", (env,)).fetchone()
        except sqlite3.OperationalError:  # no lifecycle tables yet
            return None
        finally:
            db.close()
        return row[0] if row else None

    # -- what the servers hold (counted there, not in envdeck's store) ---------------------------
    def instances(self, env: str) -> list[dict[str, Any]]:
        pages = self.aws("ec2").get_paginator("describe_instances").paginate(
            Filters=[{"Name": f"tag:{AWS_ENV_TAG}", "Values": [env]},
                     {"Name": "instance-state-name", "Values": LIVE_INSTANCE_STATES}])
        return [i for page in pages for r in page["Reservations"] for i in r["Instances"]]

    def security_groups(self, env: str) -> list[dict[str, Any]]:
        return self.aws("ec2").describe_security_groups(
            Filters=[{"Name": f"tag:{AWS_ENV_TAG}", "Values": [env]}])["SecurityGroups"]

    def buckets(self, env: str) -> list[str]:
        s3 = self.aws("s3")
        found = []
        for bucket in s3.list_buckets()["Buckets"]:
            try:
                tags = s3.get_bucket_tagging(Bucket=bucket["Name"])["TagSet"]
            except s3.exceptions.ClientError:
                continue
            if {"Key": AWS_ENV_TAG, "Value": env} in tags:
                found.append(bucket["Name"])
        return found

    def tagged_arns(self, env: str) -> list[str]:
        """The tagging API's view, without instances that are terminated (moto, like AWS, keeps
        them visible for a while)."""
        pages = self.aws("resourcegroupstaggingapi").get_paginator("get_resources").paginate(
            TagFilters=[{"Key": AWS_ENV_TAG, "Values": [env]}])
        arns = [m["ResourceARN"] for page in pages for m in page["ResourceTagMappingList"]]
        live = {i["InstanceId"] for i in self.instances(env)}
        return [a for a in arns if ":instance/" not in a or a.rsplit("/", 1)[-1] in live]

    def namespaces(self, env: str) -> list[str]:
        return [ns["metadata"]["name"] for ns in self.k8s.emu.list("namespaces", label_selector=f"{K8S_ENV_LABEL}={env}")]

    def k8s_objects(self, env: str) -> list[str]:
        """Labelled objects in every namespace (a Deployment or Service outliving its namespace
        would be an orphan)."""
        found = []
        for resource in ("apps/deployments", "services", "configmaps"):
            for obj in self.k8s.emu.list(resource, None, f"{K8S_ENV_LABEL}={env}"):
                found.append(f"{obj['kind'] if 'kind' in obj else resource}/{obj['metadata']['namespace']}/"
                             f"{obj['metadata']['name']}")
        return found

    def deployment(self, namespace: str, name: str = "web") -> dict[str, Any] | None:
        return self.k8s.emu.get("apps/deployments", namespace, name)

    def nodes_running(self, service: str = "nginx") -> list[str]:
        return [name for name, node in self.edge.nodes.items() if node.services.get(service)]

    def leftovers(self, env: str) -> dict[str, list[str]]:
        """Everything still carrying the environment's marks, per server (empty after a destroy)."""
        return {"instances": [i["InstanceId"] for i in self.instances(env)],
                "security_groups": [g["GroupId"] for g in self.security_groups(env)],
                "buckets": self.buckets(env), "tagged": self.tagged_arns(env),
                "namespaces": self.namespaces(env), "objects": self.k8s_objects(env)}

    def counts(self, env: str) -> dict[str, int]:
        return {"instances": len(self.instances(env)), "security_groups": len(self.security_groups(env)),
                "buckets": len(self.buckets(env)), "namespaces": len(self.namespaces(env)),
                "deployments": len(self.k8s.emu.list("apps/deployments", None, f"{K8S_ENV_LABEL}={env}"))}


@pytest.fixture
def world(tmp_path, aws, moto_url) -> Iterator[World]:
    """moto (fresh), the Kubernetes emulator and three simulated edge nodes (nginx stopped),
    with the lifecycle config written to `world.config_path`."""
    token = "lifecycle-k8s-bearer"
    from backends.sim.k8s_emulator import Emulator

    thread = EmulatorThread(Emulator(token=token))
    thread.start()
    kubeconfig = thread.emu.write_kubeconfig(tmp_path / "kubeconfig", namespace="default", context="emulator")
    sim = EdgeSimulator(nodes=POOL, seed=7, services=("nginx",), scenario="clean", workdir=tmp_path / "edge")
    for node in sim.nodes.values():
        node.services["nginx"] = False
    thread.call(sim.start)
    w = World(tmp_path, moto_url, aws, thread, kubeconfig, sim)
    w.write_config()
    try:
        yield w
    finally:
        try:
            thread.call(sim.close)
        finally:
            thread.stop()
