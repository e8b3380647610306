"""`envdeck demo` ships a `preview` template that creates in seconds on its embedded servers:
the demo's world in this process, the CLI in a subprocess with the demo's config (as the
demo tells a user to run it), effects counted on the demo's moto, emulator and pool. The
world seeds none of its staging/prod environments (envs=()): the template uses none of
them, and seeding them is three quarters of the world's start."""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
import pytest
import yaml

from backends.sim.demo_world import POOL_NODES, DemoWorld
from tests.helpers import repo_root
from tui.cli.demo import cli_environment, write_config
from tui.core.config import load_config
from tui.core.lifecycle.records import AWS_ENV_TAG, K8S_ENV_LABEL


def test_demo_preview_template_creates_and_destroys(tmp_path):
    with DemoWorld(tmp_path / "servers", log_interval_s=5.0, envs=()) as world:
        config_path = write_config(world, tmp_path)
        config = load_config(config_path)
        assert "preview" in config.templates
        assert set(config.templates["preview"].parameters) == {"branch", "replicas"}
        env = {**cli_environment(config_path), "PYTHONPATH": str(repo_root()),
               "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}

        def envdeck(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True,
                                  cwd=repo_root(), env=env, timeout=120, stdin=subprocess.DEVNULL)

        proc = envdeck("env", "create", "pr-1", "--template", "preview", "--param", "branch=feature-x",
                       "--param", "replicas=2", "--wait", "--json")
        assert proc.returncode == 0, (proc.stdout, proc.stderr)
        assert json.loads(proc.stdout)["state"] == "ready"

        ec2 = boto3.client("ec2", region_name=world.aws["region"], endpoint_url=world.aws["endpoint_url"],
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        tagged = [{"Name": f"tag:{AWS_ENV_TAG}", "Values": ["pr-1"]}]
        live = tagged + [{"Name": "instance-state-name", "Values": ["pending", "running"]}]
        assert sum(len(r["Instances"]) for r in ec2.describe_instances(Filters=live)["Reservations"]) == 1
        assert len(ec2.describe_security_groups(Filters=tagged)["SecurityGroups"]) == 1
        namespaces = world.emulator.list("namespaces", label_selector=f"{K8S_ENV_LABEL}=pr-1")
        assert [ns["metadata"]["name"] for ns in namespaces] == ["pr-1"]
        assert world.emulator.get("apps/deployments", "pr-1", "web")["spec"]["replicas"] == 2
        # the demo's cluster answers only this run's token (another local user may find its port)
        # over HTTPS with a certificate of this run, which the kubeconfigs carry (kubectl sends a token
        # to an HTTPS server only)
        url = f"{world.emulator.url}/api/v1/namespaces/pr-1/pods"
        assert url.startswith("https://")
        kubeconfig = yaml.safe_load(world.kubeconfigs["preview"].read_text())
        ca = base64.b64decode(kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]).decode()
        trusted = ssl.create_default_context(cadata=ca)
        with pytest.raises(urllib.error.URLError):  # a client that does not trust it gets nowhere
            urllib.request.urlopen(url, timeout=10)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url, timeout=10, context=trusted)
        assert refused.value.code == 401
        token = kubeconfig["users"][0]["user"]["token"]
        assert len(token) >= 32
        with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"}),
                                    timeout=10, context=trusted) as ok:
            assert ok.status == 200
        running = [n for n in POOL_NODES if world.pool.nodes[n].services.get("nginx")]
        assert len(running) == 1

        proc = envdeck("env", "destroy", "pr-1", "--yes", "--wait")
        assert proc.returncode == 0, (proc.stdout, proc.stderr)
        assert sum(len(r["Instances"]) for r in ec2.describe_instances(Filters=live)["Reservations"]) == 0
        assert ec2.describe_security_groups(Filters=tagged)["SecurityGroups"] == []
        assert world.emulator.list("namespaces", label_selector=f"{K8S_ENV_LABEL}=pr-1") == []
        assert not any(world.pool.nodes[n].services.get("nginx") for n in POOL_NODES)
