"""Clone a *config* environment: a new environment made from the source's declared desired
state (a managed environment is cloned by rendering its template again, in the service).

What is cloned, and what cannot be:
- Kubernetes `desired` Deployments/StatefulSets → a manifest each with the declared replicas
  (1 when not declared) and image; a workload declared without `image` cannot be cloned
  (nothing says what to run). The namespace is the source's with the source name replaced by
  the new one, or the new environment's name.
- AWS `desired` s3-bucket → a bucket whose name has the source environment's name replaced by
  the new one (bucket names are global: a name without the source's name cannot be copied);
  ec2-instance → an instance with the image and type of the *observed* instance of that name
  (none observed: not cloned); ecs-service → not cloned (envdeck does not create services).
- edge nodes belong to the source; they are not cloned.
What is left out is listed in the clone's description ("not cloned: ..."); when nothing is
left, InvalidRequest lists every reason.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from tui.core.config import EnvdeckConfig, EnvironmentConfig
from tui.core.errors import InvalidRequest, NotFound
from tui.core.lifecycle.records import RenderedEnvironment
from tui.core.lifecycle.render import Documents, check_env_name, render_template
from tui.core.lifecycle.template import TemplateConfig, escape
from tui.core.model import Resource

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def clone_template_name(source_env: str) -> str:
    return f"clone:{source_env}"


def render_clone(config: EnvdeckConfig, source_env: str, new_env: str, creator: str,
                 observed: list[Resource]) -> RenderedEnvironment:
    source = config.environments.get(source_env)
    if source is None:
        raise NotFound(f"no environment {source_env!r} in the config to clone")
    check_env_name(new_env)
    if new_env == source_env:
        raise InvalidRequest("a clone needs a name of its own")
    skipped: list[str] = []
    section: dict[str, Any] = {"repair": source.repair}
    documents: Documents | None = None
    ids: set[str] = set()
    if source.aws is not None:
        resources = _aws_resources(source, source_env, new_env, observed, ids, skipped)
        if resources:
            aws = source.aws
            section["aws"] = {"region": escape(aws.region), "shell": aws.shell, "resources": resources,
                              **{k: escape(getattr(aws, k)) for k in ("profile", "endpoint_url", "ssh_user",
                                                                      "identity_file") if getattr(aws, k)}}
    if source.kubernetes is not None:
        docs = _workloads(source, skipped)
        if docs:
            k = source.kubernetes
            namespace = (k.namespace.replace(source_env, new_env) if source_env in k.namespace else new_env)
            section["kubernetes"] = {"namespace": escape(namespace), "manifests": [],
                                     **{key: escape(getattr(k, key)) for key in ("kubeconfig", "context")
                                        if getattr(k, key)}}
            documents = [(f"desired state of {source_env}", docs)]
    if source.edge is not None and source.edge.nodes:
        skipped.append(f"edge: the {len(source.edge.nodes)} node(s) of {source_env} are its own, not a pool")
    if "aws" not in section and "kubernetes" not in section:
        reasons = "; ".join(skipped) or "it declares no desired state"
        raise InvalidRequest(f"nothing of {source_env!r} can be cloned: {reasons}")
    description = f"clone of {source_env}" + (f"; not cloned: {'; '.join(skipped)}" if skipped else "")
    section["description"] = escape(description)
    try:
        tpl = TemplateConfig.model_validate(section)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc") or ())
        raise InvalidRequest(f"{source_env!r} cannot be cloned: {where}: {first.get('msg')}") from None
    return render_template(config, clone_template_name(source_env), tpl, new_env, creator, {},
                           documents=documents or [])


def _renamed(name: str, source_env: str, new_env: str) -> str | None:
    return name.replace(source_env, new_env) if source_env in name else None


def _unique_id(name: str, ids: set[str]) -> str:
    base = _ID_UNSAFE.sub("-", name).strip("-_")[:55] or "resource"
    candidate, n = base, 2
    while candidate in ids or candidate in ("namespace", "edge"):
        candidate, n = f"{base}-{n}", n + 1
    ids.add(candidate)
    return candidate


def _aws_resources(source: EnvironmentConfig, source_env: str, new_env: str, observed: list[Resource],
                   ids: set[str], skipped: list[str]) -> list[dict[str, Any]]:
    assert source.aws is not None
    instances = {r.name: r for r in observed if r.backend == "aws" and r.kind == "ec2-instance"}
    out: list[dict[str, Any]] = []
    for desired in source.aws.desired:
        if desired.kind == "s3-bucket":
            name = _renamed(desired.name, source_env, new_env)
            if name is None:
                skipped.append(f"s3-bucket {desired.name}: its name does not contain {source_env!r}, and "
                               "bucket names are global")
                continue
            out.append({"id": _unique_id(name, ids), "kind": "s3-bucket", "name": escape(name),
                        "encryption": desired.encryption is not False,
                        "public_access_blocked": desired.public_access_blocked is not False})
        elif desired.kind == "ec2-instance":
            seen = instances.get(desired.name)
            attrs = seen.attributes if seen else {}
            image, itype = attrs.get("image_id"), attrs.get("instance_type")
            if not isinstance(image, str) or not isinstance(itype, str) or not image or not itype:
                skipped.append(f"ec2-instance {desired.name}: no observed instance of that name gives "
                               "its image and type")
                continue
            name = _renamed(desired.name, source_env, new_env) or f"{new_env}-{desired.name}"
            out.append({"id": _unique_id(name, ids), "kind": "ec2-instance", "name": escape(name),
                        "image_id": escape(image), "instance_type": escape(itype),
                        "state": desired.state or "running"})
        else:
            skipped.append(f"ecs-service {desired.cluster}/{desired.name}: envdeck does not create ECS services")
    return out


def _workloads(source: EnvironmentConfig, skipped: list[str]) -> list[dict[str, Any]]:
    """A manifest per declared Deployment/StatefulSet, strings escaped (template form)."""
    assert source.kubernetes is not None
    docs: list[dict[str, Any]] = []
    for desired in source.kubernetes.desired:
        if desired.image is None:
            skipped.append(f"{desired.kind}/{desired.name}: no image declared in its desired state")
            continue
        images = desired.image if isinstance(desired.image, dict) else {desired.name: desired.image}
        selector = {"app.kubernetes.io/name": escape(desired.name)}
        spec: dict[str, Any] = {
            "replicas": desired.replicas if desired.replicas is not None else 1,
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": dict(selector)},
                         "spec": {"containers": [{"name": escape(c), "image": escape(i)}
                                                 for c, i in images.items()]}},
        }
        if desired.kind == "StatefulSet":
            spec["serviceName"] = escape(desired.name)
        docs.append({"apiVersion": "apps/v1", "kind": desired.kind,
                     "metadata": {"name": escape(desired.name)}, "spec": spec})
    return docs
