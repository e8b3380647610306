"""Two demo-like environments, `staging` and `prod`, with KNOWN differences, on the moto
server and the Kubernetes API emulator (shared by the compare tests).

What differs, and nothing else (`EXPECTED`):
- aws/ec2-instance web-1: t3.micro in staging, t3.small in prod;
- aws/s3-bucket assets: encrypted in staging, not in prod;
- aws/s3-bucket scratch: only in staging; the buckets `staging-db` / `prod-database` are
  the same role through the config's mapping, and alike;
- kubernetes/Deployment web: image web:1.5 vs web:1.4, a FEATURE_X variable only in
  staging, cpu request 100m vs 200m; replicas 1 vs 3 (ignored by the config's
  `compare.ignore: [replicas]`);
- kubernetes/Secret db: the value of `password` differs (never shown), `user` alike;
- kubernetes/ConfigMap app: alike (same values); kubernetes/Deployment worker: only in prod.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.aws.arrange import bucket, tags

STAGING_PASSWORD = "staging-pw-7f3a"  # noqa: S105 - planted to prove it is never shown
PROD_PASSWORD = "prod-pw-91c2"  # noqa: S105

EXPECTED_DIFFERING = {
    "aws/ec2-instance/web-1": [("instance_type", "t3.micro", "t3.small")],
    "aws/s3-bucket/assets": [("encryption", True, False)],
    "kubernetes/Deployment/web": [("env_keys[web]", "FEATURE_X,LOG_LEVEL", "LOG_LEVEL"),
                                  ("image[web]", "registry.example/web:1.5", "registry.example/web:1.4"),
                                  ("requests[web].cpu", "100m", "200m")],
    "kubernetes/Secret/db": [("secret[password]", "(hidden)", "(hidden)")],
}
EXPECTED_ONLY_A = ["aws/s3-bucket/scratch"]
EXPECTED_ONLY_B = ["kubernetes/Deployment/worker"]


def ec2(aws, env: str, name: str, instance_type: str) -> str:
    ec2c = aws("ec2")
    ami = ec2c.describe_images()["Images"][0]["ImageId"]
    return ec2c.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType=instance_type,
                              MetadataOptions={"HttpTokens": "required"},
                              TagSpecifications=[{"ResourceType": "instance", "Tags": tags(env, Name=name)}],
                              )["Instances"][0]["InstanceId"]


def deployment(env: str, name: str, image: str, replicas: int, env_keys: list[str], cpu: str) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": env},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [{
                         "name": name, "image": image,
                         "env": [{"name": k, "value": f"{env}-{k.lower()}"} for k in env_keys],
                         "resources": {"requests": {"cpu": cpu, "memory": "64Mi"},
                                       "limits": {"memory": "128Mi"}}}]}}}}


def arrange(aws, emu) -> None:
    ec2(aws, "staging", "staging-web-1", "t3.micro")
    ec2(aws, "prod", "prod-web-1", "t3.small")
    bucket(aws, "staging", "staging-assets", encrypted=True, blocked=True)
    bucket(aws, "prod", "prod-assets", encrypted=False, blocked=True)
    bucket(aws, "staging", "staging-scratch", encrypted=True, blocked=True)
    bucket(aws, "staging", "staging-db", encrypted=True, blocked=True)
    bucket(aws, "prod", "prod-database", encrypted=True, blocked=True)
    for env in ("staging", "prod"):
        emu.add_namespace(env)
        emu.create_configmap(env, "app", {"LOG_LEVEL": "info", "TIMEOUT": "30"})
        emu.create_secret(env, "db", {"user": "app", "password": STAGING_PASSWORD if env == "staging"
                                      else PROD_PASSWORD})
    emu.create("deployments", deployment("staging", "web", "registry.example/web:1.5", 1,
                                         ["LOG_LEVEL", "FEATURE_X"], "100m"))
    emu.create("deployments", deployment("prod", "web", "registry.example/web:1.4", 3, ["LOG_LEVEL"], "200m"))
    emu.create("deployments", deployment("prod", "worker", "registry.example/worker:2.0", 1, [], "50m"))


def write_config(path: Path, moto_url: str, kubeconfig: Path, access: dict | None = None) -> Path:
    def env_block(env: str) -> dict:
        block = {"aws": {"region": "us-east-1", "endpoint_url": moto_url, "tags": {"env": env}},
                 "kubernetes": {"kubeconfig": str(kubeconfig), "context": "emulator", "namespace": env}}
        if access is not None:
            block["access"] = access
        return block

    config = {"environments": {"staging": env_block("staging"), "prod": env_block("prod")},
              "compare": {"ignore": ["replicas"],
                          "mappings": [{"a": "staging", "b": "prod", "roles": {"staging-db": "prod-database"}}]}}
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)
    return path
