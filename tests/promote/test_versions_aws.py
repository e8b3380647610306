"""envdeck versions and promote --plan on the moto server: ECS task definition revisions and
Lambda code are versions in the matrix (matched by role across `staging-…`/`prod-…` names);
the plan lists them as skipped with the reason (envdeck promotes Kubernetes images only) and
changes nothing on the server."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile

from tests.helpers import repo_root


def _zip(body: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", body)
    return buf.getvalue()


def _arrange(aws) -> None:
    ecs = aws("ecs")
    for rev in (1, 2):
        ecs.register_task_definition(family="api", containerDefinitions=[
            {"name": "api", "image": f"api:{rev}.0", "memory": 128}])
    role = aws("iam").create_role(RoleName="promote-test-fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    for env, rev in (("staging", 2), ("prod", 1)):
        ecs.create_cluster(clusterName=f"{env}-main", tags=[{"key": "env", "value": env}])
        ecs.create_service(cluster=f"{env}-main", serviceName="api", taskDefinition=f"api:{rev}", desiredCount=1,
                           tags=[{"key": "env", "value": env}])
        aws("lambda").create_function(
            FunctionName=f"{env}-thumbnailer", Runtime="python3.12", Role=role, Handler="handler.handler",
            Code={"ZipFile": _zip(f"def handler(e, c):\n    return {rev}\n")}, Tags={"env": env})


def _cli(tmp_path, moto_url: str, *args: str) -> subprocess.CompletedProcess:
    config = tmp_path / "envdeck.yaml"
    config.write_text("environments:\n" + "".join(f"""  {env}:
    aws: {{region: us-east-1, endpoint_url: "{moto_url}", tags: {{env: {env}}}}}
""" for env in ("staging", "prod")))
    env = {**os.environ, "PYTHONPATH": str(repo_root()), "ENVDECK_CONFIG": str(config),
           "ENVDECK_STATE_DIR": str(tmp_path / "state"), "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true"}
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, cwd=repo_root(),
                          env=env, timeout=120, stdin=subprocess.DEVNULL)


def test_task_definitions_and_lambda_code_are_versions_not_promoted(tmp_path, aws, moto_url):
    _arrange(aws)
    out = _cli(tmp_path, moto_url, "versions", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["component"]: r for r in json.loads(out.stdout)["components"]}
    api = rows["aws/ecs-service/api"]
    assert api["differs"] and (api["versions"]["staging"]["version"], api["versions"]["prod"]["version"]) == (
        "api:2", "api:1")
    fn = rows["aws/lambda-function/thumbnailer"]
    assert fn["differs"] and fn["versions"]["staging"]["version"].startswith("$LATEST sha256:")
    plan = _cli(tmp_path, moto_url, "promote", "staging", "prod", "--plan", "--json")
    assert plan.returncode == 0, plan.stderr
    data = json.loads(plan.stdout)
    assert data["changes"] == []
    assert {s["component"] for s in data["skipped"]} == {"aws/ecs-service/api", "aws/lambda-function/thumbnailer"}
    assert all("not promoted" in s["reason"] for s in data["skipped"])
    svc = aws("ecs").describe_services(cluster="prod-main", services=["api"])["services"][0]
    assert svc["taskDefinition"].endswith("/api:1")      # nothing changed on the server
