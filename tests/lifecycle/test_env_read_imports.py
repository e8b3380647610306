"""`envdeck env list` reads the store only and `envdeck env plan` the templates and the store:
neither imports a backend adapter (the Kubernetes client, aiohttp, asyncssh, boto3 cost seconds
of start-up for nothing). A guard on sys.modules of the real CLI, like
tests/bench/test_startup_quick.py does for `run`; no timings asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ADAPTERS = ("backends.kubernetes", "backends.aws", "backends.edge", "kubernetes", "aiohttp", "asyncssh", "boto3",
            "botocore", "textual")
RUN = """import json, sys
from tui.cli import main
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    json.dump({"exit": code, "modules": sorted(sys.modules)}, out)
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("env-read")
    config = tmp / "envdeck.yaml"   # environments of every backend: the adapters a session would build
    config.write_text(f"""
environments:
  staging:
    kubernetes: {{kubeconfig: "{tmp}/kubeconfig", context: emulator, namespace: s}}
  cloud:
    aws: {{region: eu-west-1, tags: {{team: ops}}}}
  gateways:
    edge:
      nodes:
        - {{name: n1, host: 127.0.0.1, port: 2222, user: ops}}
templates:
  note:
    description: a namespace
    parameters: {{note: {{type: string}}}}
    kubernetes: {{kubeconfig: "{tmp}/kubeconfig", context: emulator, namespace: "{{env}}", manifests: []}}
""")
    return {**os.environ, "PYTHONPATH": str(ROOT), "ENVDECK_CONFIG": str(config),
            "ENVDECK_STATE_DIR": str(tmp / "state"), "ENVDECK_TMP": str(tmp)}


def _run(env: dict[str, str], *args: str) -> tuple[dict, subprocess.CompletedProcess]:
    report = Path(env["ENVDECK_TMP"]) / "modules.json"
    proc = subprocess.run([sys.executable, "-c", RUN, str(report), *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    return json.loads(report.read_text()), proc


def _adapters(modules: list[str]) -> list[str]:
    return sorted({m for m in modules for a in ADAPTERS if m == a or m.startswith(a + ".")})


def test_env_list_imports_no_backend(setup):
    done, proc = _run(setup, "env", "list", "--json")
    assert done["exit"] == 0, proc.stderr
    assert json.loads(proc.stdout)["environments"] == []
    assert _adapters(done["modules"]) == [], "env list reads the store only"


def test_env_plan_imports_no_backend(setup):
    done, proc = _run(setup, "env", "plan", "pr-1", "--template", "note", "--param", "note=x", "--json")
    assert done["exit"] == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["env"] == "pr-1" and [s["kind"] for s in plan["steps"]] == ["Namespace"], plan
    assert _adapters(done["modules"]) == [], "env plan needs the templates and the store only"
