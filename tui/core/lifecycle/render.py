"""A template + an environment name + a creator + parameter values → a `RenderedEnvironment`.

Substitution is data, never code or structure:
- parameters are parsed by their `ParameterSpec` (typed, checked) before anything is filled;
- `{env}`, `{creator}` and `{PARAM}` fill strings only; a filled value is literal text
  (its braces escaped), so a value can never name another placeholder;
- manifests are parsed as YAML *first*, then strings inside the parsed documents are filled:
  a value holding `"\\nkind: Secret"` stays one string, it never adds a key or a document. A
  string that is exactly `"{PARAM}"` of an integer/boolean parameter becomes that typed value
  (`replicas: "{replicas}"` → `3`).

Step fields are in *template form*: literal braces written `{{`/`}}` and `{RESOURCE-ID}`
references left for `resolve_refs`, which the engine applies to every step's fields just
before the step starts (it fills the references and turns `{{`/`}}` back into braces).
What is shown before that (the plan's fields, `as_created`) is the final text with the
references as `{RESOURCE-ID}`: never the template form.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import ValidationError

from tui.core.config import ENV_NAME_RE, EnvdeckConfig, EnvironmentConfig, KubernetesConfig
from tui.core.config_files import template_refusals
from tui.core.errors import InvalidRequest
from tui.core.lifecycle.k8s_names import check_name
from tui.core.lifecycle.records import (
    AWS_ENV_TAG,
    DEFAULT_STEP_TIMEOUT_S,
    K8S_ENV_LABEL,
    K8S_STEP_LABEL,
    K8S_TEMPLATE_LABEL,
    RenderedEnvironment,
    StepSpec,
    k8s_label_value,
)
from tui.core.lifecycle.template import (
    EDGE_STEP,
    NAMESPACE_STEP,
    TemplateConfig,
    escape,
    pieces,
    read_manifests,
)
from tui.core.model import Resource

_WORKLOAD_KINDS = ("Deployment", "StatefulSet")
#: Manifest documents by the name of their source (a file of `manifests:`).
Documents = list[tuple[str, list[dict[str, Any]]]]


def render(config: EnvdeckConfig, template: str, env: str, creator: str,
           params: dict[str, str]) -> RenderedEnvironment:
    """Render `template` for environment `env`; InvalidRequest names what is wrong."""
    tpl = config.templates.get(template)
    if tpl is None:
        known = ", ".join(sorted(config.templates)) or "none"
        raise InvalidRequest(f"unknown template {template!r} (templates: {known})")
    check_env_name(env)
    values = parse_parameters(tpl, template, params)
    return render_template(config, template, tpl, env, creator, values)


def render_clone(config: EnvdeckConfig, source_env: str, new_env: str, creator: str,
                 observed: list[Resource]) -> RenderedEnvironment:
    """A new environment like the config environment `source_env`, from its declared desired
    state (tui/core/lifecycle/clone.py says what can and cannot be cloned)."""
    from tui.core.lifecycle.clone import render_clone as clone

    return clone(config, source_env, new_env, creator, observed)


def check_env_name(env: str) -> None:
    if not isinstance(env, str) or not ENV_NAME_RE.match(env) or env.startswith("-") or env.endswith("-"):
        raise InvalidRequest(f"environment name {str(env)[:80]!r} must be 1-63 lowercase letters, digits or '-', "
                             "starting and ending with a letter or digit")


def parse_parameters(tpl: TemplateConfig, template: str, params: dict[str, str]) -> dict[str, Any]:
    """Strings from the CLI/TUI → typed values; unknown or missing ones refused by name."""
    unknown = sorted(set(params) - set(tpl.parameters))
    if unknown:
        known = ", ".join(sorted(tpl.parameters)) or "none"
        raise InvalidRequest(f"template {template!r} has no parameter {unknown[0][:80]!r} (parameters: {known})")
    values: dict[str, Any] = {}
    for name, spec in tpl.parameters.items():
        if name in params:
            try:
                values[name] = spec.parse(params[name])
            except ValueError as exc:
                raise InvalidRequest(f"parameter {name!r}: {exc}") from None
        elif spec.default is not None:
            values[name] = spec.default
        else:
            raise InvalidRequest(f"parameter {name!r} is required by template {template!r} (--param {name}=VALUE)")
    return values


def render_template(config: EnvdeckConfig, template: str, tpl: TemplateConfig, env: str, creator: str,
                    values: dict[str, Any], *, documents: Documents | None = None) -> RenderedEnvironment:
    """The rendering proper, with parameters already typed. `documents` replaces reading the
    manifest files (`render_clone` synthesises its manifests)."""
    filler = Filler({"env": env, "creator": creator, **values}, set(tpl.resource_ids()))
    steps: list[StepSpec] = []
    environment: dict[str, Any] = {
        "description": filler.final(tpl.description, "description"),
        "repair": tpl.repair,
        "access": _access(tpl, filler, creator),
    }
    if tpl.aws is not None:
        aws = tpl.aws
        default_timeout = aws.timeout or DEFAULT_STEP_TIMEOUT_S
        desired: list[dict[str, Any]] = []
        for res in aws.resources:
            where = f"aws.resources.{res.id}"
            raw = res.model_dump(exclude={"id", "kind", "depends_on", "timeout"})
            if res.kind == "ec2-instance" and raw.get("state") is None:
                raw["state"] = "running"
            fields = filler.template_form(raw, where)
            name = filler.final(res.name, f"{where}.name")
            if res.kind == "ec2-instance":
                desired.append({"kind": "ec2-instance", "name": name, "state": fields["state"]})
            elif res.kind == "s3-bucket":
                desired.append({"kind": "s3-bucket", "name": name, "encryption": res.encryption,
                                "public_access_blocked": res.public_access_blocked})
            steps.append(StepSpec(id=res.id, backend="aws", kind=res.kind, fields=fields,
                                  depends_on=tuple(res.depends_on), timeout_s=res.timeout or default_timeout))
        section = {key: filler.final(getattr(aws, key), f"aws.{key}")
                   for key in ("region", "profile", "endpoint_url", "ssh_user", "identity_file")}
        environment["aws"] = {**{k: v for k, v in section.items() if v is not None}, "shell": aws.shell,
                              **({"interval": aws.interval} if aws.interval else {}),
                              "tags": {AWS_ENV_TAG: env}, "desired": desired}
    if tpl.kubernetes is not None:
        cloned = documents is not None
        if documents is None:
            documents = []
            for entry in tpl.kubernetes.manifests:
                try:
                    documents.append((entry, read_manifests(entry, config.source)))
                except ValueError as exc:
                    raise InvalidRequest(f"template {template!r}: manifest {entry}: {exc}") from None
        environment["kubernetes"], k8s_steps = _kubernetes(template, tpl, filler, env, documents)
        refused = template_refusals(config, template, environment["kubernetes"].get("kubeconfig"),
                                   manifests=not cloned,  # files another user can change: never applied
                                   context=environment["kubernetes"].get("context"))
        if refused:
            raise InvalidRequest("; ".join(refused))
        steps.extend(k8s_steps)
    edge_pool, edge_count = None, 0
    if tpl.edge is not None:
        pool = config.edge_pools.get(tpl.edge.pool)
        if pool is None:
            raise InvalidRequest(f"template {template!r}: edge pool {tpl.edge.pool!r} is not declared")
        edge_pool, edge_count = tpl.edge.pool, tpl.edge.count
        environment["edge"] = {**pool.model_dump(mode="json", exclude={"nodes"}), "nodes": []}
        steps.append(StepSpec(id=EDGE_STEP, backend="edge", kind="edge-claim",
                              fields={"pool": tpl.edge.pool, "count": tpl.edge.count,
                                      "services": list(tpl.edge.services)},
                              timeout_s=tpl.edge.timeout or DEFAULT_STEP_TIMEOUT_S))
    try:
        EnvironmentConfig.model_validate(environment)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc") or ())
        raise InvalidRequest(f"template {template!r} rendered for {env!r}: {where}: "
                             f"{str(first.get('msg', 'invalid')).removeprefix('Value error, ')}") from None
    return RenderedEnvironment(name=env, template=template, parameters=dict(values), creator=creator,
                               steps=steps, environment=environment, ttl_s=tpl.ttl, max_ttl_s=tpl.max_ttl,
                               on_failure=tpl.on_failure, edge_pool=edge_pool, edge_count=edge_count)


def _access(tpl: TemplateConfig, filler: Filler, creator: str) -> dict[str, list[str]]:
    if tpl.access is None:
        return {"viewer": [], "operator": [], "admin": [creator]}
    return {role: [filler.final(who, f"access.{role}") for who in getattr(tpl.access, role)]
            for role in ("viewer", "operator", "admin")}


def _kubernetes(template: str, tpl: TemplateConfig, filler: Filler, env: str,
                documents: Documents) -> tuple[dict[str, Any], list[StepSpec]]:
    k = tpl.kubernetes
    assert k is not None
    namespace = filler.final(k.namespace, "kubernetes.namespace")
    if not _valid_namespace(namespace):
        raise InvalidRequest(f"kubernetes.namespace renders to {namespace[:80]!r}, which is not a namespace name "
                             "(1-63 lowercase letters, digits or '-', starting and ending with a letter or digit)")
    timeout = k.timeout or DEFAULT_STEP_TIMEOUT_S

    def labels(step_id: str) -> dict[str, str]:
        return {K8S_ENV_LABEL: k8s_label_value(env), K8S_TEMPLATE_LABEL: k8s_label_value(template),
                K8S_STEP_LABEL: k8s_label_value(step_id)}

    steps = [StepSpec(id=NAMESPACE_STEP, backend="kubernetes", kind="Namespace",
                      fields={"name": escape(namespace), "labels": labels(NAMESPACE_STEP)}, timeout_s=timeout)]
    desired: list[dict[str, Any]] = []
    seen: set[str] = set()
    for entry, docs in documents:
        for number, doc in enumerate(docs, start=1):
            where = f"{entry} document {number}"
            manifest = filler.manifest(doc, where)
            meta = manifest["metadata"]
            name = unescape(meta.get("name")) if isinstance(meta.get("name"), str) else None
            if not name:
                raise InvalidRequest(f"{where}: metadata.name must be plain text (no resource's id)")
            # the name goes into API paths: a kind's name rules, checked at plan time (k8s_names.py)
            check_name(str(manifest["kind"]), name, doc["metadata"].get("name") if isinstance(doc.get("metadata"), dict)
                       else None, filler.values, f"template {template!r}, {where}")
            step_id = f"{manifest['kind']}/{name}"
            if step_id in seen:
                raise InvalidRequest(f"{where}: {step_id} is rendered twice")
            seen.add(step_id)
            meta["namespace"] = escape(namespace)
            meta["labels"] = {**(meta.get("labels") if isinstance(meta.get("labels"), dict) else {}),
                              **labels(step_id)}
            steps.append(StepSpec(id=step_id, backend="kubernetes", kind=str(manifest["kind"]),
                                  fields={"manifest": manifest}, timeout_s=timeout))
            if manifest["kind"] in _WORKLOAD_KINDS:
                desired.append(_workload_desired(manifest, name))
    section = {"kubeconfig": filler.final(k.kubeconfig, "kubernetes.kubeconfig"),
               "context": filler.final(k.context, "kubernetes.context")}
    return {**{key: v for key, v in section.items() if v is not None}, "namespace": namespace,
            "desired": desired}, steps


def _valid_namespace(name: str) -> bool:
    try:
        KubernetesConfig.model_validate({"namespace": name})
    except ValidationError:
        return False
    return True


def _workload_desired(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    """What the reconciler holds for a created Deployment/StatefulSet: its replicas and images."""
    out: dict[str, Any] = {"kind": manifest["kind"], "name": name}
    spec = manifest.get("spec") if isinstance(manifest.get("spec"), dict) else {}
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and not isinstance(replicas, bool):
        out["replicas"] = replicas
    pod = ((spec.get("template") or {}).get("spec") or {}) if isinstance(spec.get("template"), dict) else {}
    containers = pod.get("containers") if isinstance(pod, dict) else None
    images: dict[str, str] = {}
    for container in containers if isinstance(containers, list) else []:
        if isinstance(container, dict) and isinstance(container.get("name"), str):
            image = container.get("image")
            final = unescape(image) if isinstance(image, str) else None
            if final is None:
                return out  # an image from a resource's id: not known before it exists
            images[container["name"]] = final
    if len(images) == 1:
        out["image"] = next(iter(images.values()))
    elif images:
        out["image"] = images
    return out


class Filler:
    """Fills placeholders of one rendering: `values` ({env}, {creator}, parameters) and
    `refs` (resource ids, kept as references in template form)."""

    def __init__(self, values: dict[str, Any], refs: set[str]):
        self.values = values
        self.refs = refs

    def _fill(self, text: str, where: str, *, keep_refs: bool) -> str:
        try:
            parts = pieces(text)
        except ValueError as exc:
            raise InvalidRequest(f"{where}: {exc}") from None
        out: list[str] = []
        for part in parts:
            if not part.placeholder:
                out.append(escape(part.text) if keep_refs else part.text)
            elif part.text in self.values:
                value = _as_text(self.values[part.text])
                out.append(escape(value) if keep_refs else value)
            elif keep_refs and part.text in self.refs:
                out.append("{" + part.text + "}")
            elif part.text in self.refs:
                raise InvalidRequest(f"{where}: {{{part.text}}} (a resource's id) cannot be used here")
            else:
                raise InvalidRequest(f"{where}: unknown placeholder {{{part.text}}}")
        return "".join(out)

    def final(self, text: str | None, where: str) -> str | None:
        """Plain text: every placeholder filled, no reference allowed."""
        return None if text is None else self._fill(text, where, keep_refs=False)

    def template_form(self, value: Any, where: str) -> Any:
        """Every string (and mapping key) of `value` filled, in template form."""
        return self._walk(value, where, typed=False)

    def manifest(self, doc: dict[str, Any], where: str) -> dict[str, Any]:
        """A parsed manifest document filled in its string scalars (and keys) only; a scalar
        that is exactly one integer/boolean parameter becomes that typed value."""
        return self._walk(doc, where, typed=True)

    def _walk(self, value: Any, where: str, *, typed: bool) -> Any:
        if isinstance(value, str):
            if typed:
                try:
                    parts = pieces(value)
                except ValueError as exc:
                    raise InvalidRequest(f"{where}: {exc}") from None
                only = parts[0].text if len(parts) == 1 and parts[0].placeholder else None
                if only is not None and isinstance(self.values.get(only), int | bool):
                    return self.values[only]  # "{replicas}" of an integer parameter → 3
            return self._fill(value, where, keep_refs=True)
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for key, item in value.items():
                new_key = self._fill(key, where, keep_refs=True) if isinstance(key, str) else key
                if new_key in out:
                    raise InvalidRequest(f"{where}: two keys become {str(new_key)[:80]!r}")
                out[new_key] = self._walk(item, f"{where}.{key}", typed=typed)
            return out
        if isinstance(value, list):
            return [self._walk(item, f"{where}.{i}", typed=typed) for i, item in enumerate(value)]
        return copy.deepcopy(value)


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def unescape(text: str) -> str | None:
    """A template-form string as plain text, or None when it holds a reference."""
    try:
        parts = pieces(text)
    except ValueError:
        return None
    if any(p.placeholder for p in parts):
        return None
    return "".join(p.text for p in parts)


def references(value: Any) -> set[str]:
    """The `{step-id}` references in the strings (and keys) of template-form `value`."""
    found: set[str] = set()
    if isinstance(value, str):
        try:
            found.update(p.text for p in pieces(value) if p.placeholder)
        except ValueError:
            pass
    elif isinstance(value, dict):
        for key, item in value.items():
            found |= references(key) | references(item)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


def resolve_refs(fields: dict[str, Any], native_ids: dict[str, str]) -> dict[str, Any]:
    """Step fields in template form → plain values: `{step-id}` becomes that step's native
    id, `{{`/`}}` become braces. InvalidRequest when a referenced step has no native id."""
    return _resolve(fields, native_ids, "fields")


def as_created(fields: dict[str, Any]) -> dict[str, Any]:
    """Step fields in template form as the create makes them, for showing before it runs (the
    plan): literal braces as they are (`b{{x}}` → `b{x}`, the engine's template form never shown),
    a `{step-id}` reference as `{step-id}` (that step's native id is known once it exists)."""
    return _resolve(fields, {ref: "{" + ref + "}" for ref in references(fields)}, "fields")


def _resolve(value: Any, native_ids: dict[str, str], where: str) -> Any:
    if isinstance(value, str):
        try:
            parts = pieces(value)
        except ValueError as exc:
            raise InvalidRequest(f"{where}: {exc}") from None
        out: list[str] = []
        for part in parts:
            if not part.placeholder:
                out.append(part.text)
            elif native_ids.get(part.text):
                out.append(str(native_ids[part.text]))
            else:
                raise InvalidRequest(f"{where}: step {part.text!r} has no native id yet")
        return "".join(out)
    if isinstance(value, dict):
        return {(_resolve(k, native_ids, where) if isinstance(k, str) else k): _resolve(v, native_ids, f"{where}.{k}")
                for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(item, native_ids, f"{where}.{i}") for i, item in enumerate(value)]
    return value
