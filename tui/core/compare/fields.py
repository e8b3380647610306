"""Per kind, the fields two environments are compared on.

`comparable(env_name, resource)` flattens a resource into `{field path: value}`; a path is
a base field name, optionally followed by a detail in brackets: `image[web]`,
`requests[web].cpu`, `env_keys[web]`, `configmap[LOG_LEVEL]`. Ignore rules name either a
base (`replicas`, `image`) or a whole path (`image[sidecar]`).

| kind | fields |
|---|---|
| Kubernetes workloads | image[container], replicas, requests[container].R, limits[container].R, env_keys[container] |
| ConfigMap | configmap[key] (value digest, see `ContentDigests`) |
| Secret | secret[key] (value digest; never the value) |
| ec2-instance | instance_type, ami |
| autoscaling-group | replicas (desired capacity), launch_template |
| ecs-service | task_definition (family without the environment, `:revision`), replicas (desired count) |
| lambda-function | lambda_version, code_sha256, runtime |
| s3-bucket | encryption, public_access_blocked |
| rds-instance | instance_class, engine_version |
| edge service | service_version (the node's `version` command), active |

Values that carry the environment's own name structurally (an ECS task definition family,
a launch template's name) are compared without it. Everything else is compared literally.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tui.core.compare.roles import strip_env
from tui.core.model import Resource

Fields = dict[str, Any]

# The base names an ignore rule may use (config `compare.ignore`, `envdeck diff --ignore`).
FIELD_NAMES = ("image", "replicas", "requests", "limits", "env_keys", "configmap", "secret", "instance_type",
               "ami", "launch_template", "task_definition", "lambda_version", "code_sha256", "runtime",
               "encryption", "public_access_blocked", "instance_class", "engine_version", "service_version",
               "active")
# Fields whose values are digests of secret content: shown as "differs", never as values.
SECRET_FIELDS = frozenset({"secret"})
# Fields read on request (ConfigMap and Secret values), not from the observed Resource.
CONTENT_KINDS = frozenset({"ConfigMap", "Secret"})

WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"})


def base_name(path: str) -> str:
    return path.split("[", 1)[0].split(".", 1)[0]


def _workload(env: str, res: Resource) -> Fields:
    a = res.attributes
    out: Fields = {}
    for container, image in sorted((a.get("images") or {}).items()):
        out[f"image[{container}]"] = image
    if "replicas" in a and res.kind != "DaemonSet":
        out["replicas"] = a.get("replicas")
    for container, parts in sorted((a.get("container_resources") or {}).items()):
        for part in ("requests", "limits"):
            for name, value in sorted((parts.get(part) or {}).items()):
                out[f"{part}[{container}].{name}"] = value
    for container, keys in sorted((a.get("env_keys") or {}).items()):
        out[f"env_keys[{container}]"] = ",".join(keys)
    return out


def _ec2(env: str, res: Resource) -> Fields:
    return {"instance_type": res.attributes.get("instance_type"), "ami": res.attributes.get("image_id")}


def _asg(env: str, res: Resource) -> Fields:
    a = res.attributes
    return {"replicas": a.get("desired_capacity"), "launch_template": strip_env(env, str(a.get("launch_template") or ""))}


def _ecs(env: str, res: Resource) -> Fields:
    a = res.attributes
    task = str(a.get("task_definition") or "").rsplit("/", 1)[-1]  # arn:…:task-definition/FAMILY:REV
    family, _, revision = task.rpartition(":")
    return {"task_definition": f"{strip_env(env, family)}:{revision}" if family else task,
            "replicas": a.get("desired_count")}


def _lambda(env: str, res: Resource) -> Fields:
    a = res.attributes
    return {"lambda_version": a.get("version"), "code_sha256": a.get("code_sha256"), "runtime": a.get("runtime")}


def _bucket(env: str, res: Resource) -> Fields:
    a = res.attributes
    return {"encryption": a.get("encryption"), "public_access_blocked": a.get("public_access_blocked")}


def _rds(env: str, res: Resource) -> Fields:
    a = res.attributes
    return {"instance_class": a.get("instance_class"), "engine_version": a.get("engine_version")}


def _edge_service(env: str, res: Resource) -> Fields:
    a = res.attributes
    return {"service_version": a.get("version"), "active": a.get("active")}


_BY_KIND: dict[tuple[str, str], Callable[[str, Resource], Fields]] = {
    ("aws", "ec2-instance"): _ec2,
    ("aws", "autoscaling-group"): _asg,
    ("aws", "ecs-service"): _ecs,
    ("aws", "lambda-function"): _lambda,
    ("aws", "s3-bucket"): _bucket,
    ("aws", "rds-instance"): _rds,
    ("edge", "service"): _edge_service,
    **{("kubernetes", kind): _workload for kind in WORKLOAD_KINDS},
}


def comparable(env_name: str, resource: Resource, contents: Mapping[str, str] | None = None) -> Fields:
    """The comparable fields of `resource` observed in `env_name` (empty for kinds without
    any). `contents`: for a ConfigMap or Secret, its per-key value digests (ContentDigests)."""
    if resource.backend == "kubernetes" and resource.kind in CONTENT_KINDS:
        prefix = "secret" if resource.kind == "Secret" else "configmap"
        keys = resource.attributes.get("keys") or ()
        if contents is not None:
            return {f"{prefix}[{k}]": digest for k, digest in sorted(contents.items())}
        return {f"{prefix}[{k}]": "(present)" for k in sorted(keys)}
    extract = _BY_KIND.get((resource.backend, resource.kind))
    return extract(env_name, resource) if extract is not None else {}


def ignored(path: str, rules: frozenset[str]) -> bool:
    return path in rules or base_name(path) in rules
