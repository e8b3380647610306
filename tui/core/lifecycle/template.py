"""Config models of `templates:` and `edge_pools:` (issue 15), placeholders, and the
manifest files a template names.

A template is YAML in the config, validated like the rest of it (unknown keys refused,
`PATH:LINE:COL` errors). The checks that need more than one key (resource ids, cycles,
placeholders, manifests on disk, pools) live in `template_check.py`; `parse_config` calls
it after the models validated and places each problem on the key it is about.

Placeholders: `{env}`, `{creator}`, `{PARAM}` and, in the fields of what a template creates,
`{RESOURCE-ID}` (that resource's native id once it exists). `{{` and `}}` are literal braces.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from tui.core.config import (
    INT32_MAX,
    Access,
    Duration,
    EdgeConfig,
    RepairMode,
    SafeName,
    StrictModel,
)

TemplateName = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
#: ids of resources: safe in AWS tags, step ids and placeholders (no '/', which Kubernetes step ids use)
ResourceId = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]
PoolName = SafeName
ParamName = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")]

#: Step ids the renderer gives to what is not an AWS resource (docs/lifecycle.md).
NAMESPACE_STEP = "namespace"
EDGE_STEP = "edge"
RESERVED_STEP_IDS = frozenset({NAMESPACE_STEP, EDGE_STEP})
#: Placeholders every template knows.
BUILTIN_PLACEHOLDERS = ("env", "creator")
#: The longest parameter value accepted from a CLI or a form.
MAX_PARAMETER_CHARS = 1024
#: A manifest file bigger than this is refused.
MAX_MANIFEST_BYTES = 1024 * 1024

# libyaml's safe loader when PyYAML was built with it (5-10x faster on big manifests), else PyYAML's
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_INT_RE = re.compile(r"^[+-]?[0-9]{1,19}$")
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


# --- placeholders ------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Piece:
    """A part of a string with placeholders: literal text, or a placeholder's name."""

    text: str
    placeholder: bool = False


def pieces(text: str) -> list[Piece]:
    """Split `text` into literal pieces and `{name}` placeholders (`{{`/`}}` are literal
    braces). ValueError names what is wrong, for `check` and for `render`."""
    if "{" not in text and "}" not in text:
        return [Piece(text)] if text else []
    out: list[Piece] = []
    literal: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "{":
            if text.startswith("{{", i):
                literal.append("{")
                i += 2
                continue
            end = text.find("}", i + 1)
            name = text[i + 1:end] if end >= 0 else ""
            if end < 0 or not _NAME_RE.match(name):
                raise ValueError(f"a '{{' at character {i + 1} opens no placeholder; write {{{{ for a literal brace")
            if literal:
                out.append(Piece("".join(literal)))
                literal = []
            out.append(Piece(name, True))
            i = end + 1
        elif ch == "}":
            if text.startswith("}}", i):
                literal.append("}")
                i += 2
                continue
            raise ValueError(f"a '}}' at character {i + 1} closes no placeholder; write }}}} for a literal brace")
        else:
            literal.append(ch)
            i += 1
    if literal:
        out.append(Piece("".join(literal)))
    return out


def placeholders(text: str) -> list[str]:
    return [p.text for p in pieces(text) if p.placeholder]


def escape(text: str) -> str:
    """`text` as literal text inside a string with placeholders."""
    return text.replace("{", "{{").replace("}", "}}")


def walk_strings(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Every string in nested dicts and lists (keys too), with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield path + (key,), key
            yield from walk_strings(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk_strings(item, path + (index,))


# --- parameters --------------------------------------------------------------

class ParameterSpec(StrictModel):
    type: Literal["string", "integer", "boolean"] = "string"
    pattern: str | None = None
    default: str | int | bool | None = None
    minimum: int | None = None
    maximum: int | None = None
    description: str = ""

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _rules_fit_type(self) -> ParameterSpec:
        if self.pattern is not None and self.type != "string":
            raise ValueError("'pattern' applies to a string parameter only")
        if (self.minimum is not None or self.maximum is not None) and self.type != "integer":
            raise ValueError("'minimum' and 'maximum' apply to an integer parameter only")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum} is larger than maximum {self.maximum}")
        return self

    def parse(self, text: str) -> Any:
        """A CLI/TUI string → the typed value; ValueError says which rule it breaks."""
        if not isinstance(text, str):
            raise ValueError("must be text")
        if len(text) > MAX_PARAMETER_CHARS:
            raise ValueError(f"must be at most {MAX_PARAMETER_CHARS} characters")
        if self.type == "integer":
            if not _INT_RE.match(text.strip()):
                raise ValueError("must be a whole number")
            return self.check(int(text.strip()))
        if self.type == "boolean":
            word = text.strip().lower()
            if word in _TRUE:
                return True
            if word in _FALSE:
                return False
            raise ValueError("must be true or false")
        return self.check(text)

    def check(self, value: Any) -> Any:
        """A typed value (a parsed one, or the default) against the rules."""
        if self.type == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError("must be a whole number")
            if self.minimum is not None and value < self.minimum:
                raise ValueError(f"must be at least {self.minimum}")
            if self.maximum is not None and value > self.maximum:
                raise ValueError(f"must be at most {self.maximum}")
            if abs(value) > INT32_MAX:
                raise ValueError(f"must be at most {INT32_MAX} in size")
            return value
        if self.type == "boolean":
            if not isinstance(value, bool):
                raise ValueError("must be true or false")
            return value
        if not isinstance(value, str):
            raise ValueError("must be text")
        if len(value) > MAX_PARAMETER_CHARS:
            raise ValueError(f"must be at most {MAX_PARAMETER_CHARS} characters")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise ValueError(f"must match {self.pattern}")
        return value


# --- AWS resources -----------------------------------------------------------

class _Resource(StrictModel):
    id: ResourceId
    depends_on: list[ResourceId] = Field(default_factory=list)
    timeout: Duration | None = None


class S3BucketResource(_Resource):
    kind: Literal["s3-bucket"]
    name: str = Field(min_length=1)
    encryption: bool = True
    public_access_blocked: bool = True


class IngressRule(StrictModel):
    port: int = Field(ge=0, le=65535)
    cidr: str = Field(min_length=1)
    protocol: Literal["tcp", "udp", "icmp", "-1"] = "tcp"

    @field_validator("cidr")
    @classmethod
    def _network(cls, value: str) -> str:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"{value!r} is not a CIDR block such as 10.0.0.0/8") from None
        return value


class SecurityGroupResource(_Resource):
    kind: Literal["security-group"]
    name: str = Field(min_length=1)
    description: str = "created by envdeck for {env}"
    ingress: list[IngressRule] = Field(default_factory=list)


class Ec2InstanceResource(_Resource):
    kind: Literal["ec2-instance"]
    name: str = Field(min_length=1)
    image_id: str = Field(min_length=1)
    instance_type: str = Field(min_length=1)
    security_groups: list[str] = Field(default_factory=list)
    state: Literal["running", "stopped"] | None = None


TemplateResource = Annotated[S3BucketResource | SecurityGroupResource | Ec2InstanceResource,
                             Field(discriminator="kind")]


class TemplateAws(StrictModel):
    region: str = Field(min_length=1)
    profile: str | None = None
    endpoint_url: str | None = Field(default=None, pattern=r"^https?://")
    shell: Literal["ssh", "ssm"] = "ssh"
    ssh_user: str | None = None
    identity_file: str | None = None
    interval: Duration | None = None
    timeout: Duration | None = None
    resources: list[TemplateResource] = Field(default_factory=list)


class TemplateKubernetes(StrictModel):
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str = Field(default="{env}", min_length=1)
    manifests: list[str] = Field(default_factory=list)
    timeout: Duration | None = None


class TemplateEdge(StrictModel):
    pool: SafeName
    count: int = Field(default=1, ge=1, le=1000)
    services: list[SafeName] = Field(default_factory=list)
    timeout: Duration | None = None


class EdgePoolConfig(EdgeConfig):
    """Nodes an environment of a template may claim (one environment each), with the
    settings of an environment's `edge:` section."""


class TemplateConfig(StrictModel):
    description: str = ""
    parameters: dict[ParamName, ParameterSpec] = Field(default_factory=dict)
    creators: list[str] = Field(default_factory=lambda: ["*"])
    ttl: Duration | None = None
    max_ttl: Duration | None = None
    repair: RepairMode = "propose"
    access: Access | None = None        # default: admin [creator]
    on_failure: Literal["keep", "destroy"] = "keep"
    aws: TemplateAws | None = None
    kubernetes: TemplateKubernetes | None = None
    edge: TemplateEdge | None = None

    def resource_ids(self) -> list[str]:
        return [r.id for r in self.aws.resources] if self.aws else []

    def backend_names(self) -> list[str]:
        return [n for n in ("aws", "kubernetes", "edge") if getattr(self, n) is not None]


# --- manifests on disk -------------------------------------------------------

def manifest_path(entry: str, config_source: str) -> Path:
    """A `manifests:` entry, relative to the config file's directory."""
    path = Path(entry).expanduser()
    if not path.is_absolute():
        base = Path(config_source).expanduser().parent if config_source else Path.cwd()
        path = base / path
    return path


def read_manifests(entry: str, config_source: str) -> list[dict[str, Any]]:
    """The documents of one manifest file (empty documents skipped); ValueError says why
    not: missing, unreadable, not YAML, a document that is not a mapping with `kind` and
    `metadata.name`."""
    from tui.core.config import read_regular_file
    from tui.core.errors import ConfigError

    path = manifest_path(entry, config_source)
    try:
        raw = read_regular_file(path)
    except ConfigError as exc:
        raise ValueError(str(exc).removeprefix(f"{path}: ").split(" (pass --config")[0]) from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise ValueError(f"is more than {MAX_MANIFEST_BYTES // 1024} KiB")
    try:
        docs = list(yaml.load_all(raw.decode("utf-8"), Loader=_SAFE_LOADER))
    except UnicodeDecodeError:
        raise ValueError("is not valid UTF-8") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"is not valid YAML{where}: {exc.problem or exc.context}") from None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as exc:
        raise ValueError(f"is not valid YAML: {exc}") from None
    out: list[dict[str, Any]] = []
    for number, doc in enumerate(docs, start=1):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ValueError(f"document {number} is not a YAML mapping")
        kind = doc.get("kind")
        meta = doc.get("metadata")
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"document {number} has no 'kind'")
        if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
            raise ValueError(f"document {number} ({kind}) has no 'metadata.name'")
        if kind == "Namespace":
            raise ValueError(f"document {number} is a Namespace; the namespace comes from 'kubernetes.namespace'")
        out.append(doc)
    return out


def _complete_config_model() -> None:
    # When this module is imported before tui.core.config, EnvdeckConfig was defined while
    # these models did not exist yet: complete it now (docs in tui/core/config.py).
    from tui.core.config import EnvdeckConfig

    if not EnvdeckConfig.__pydantic_complete__:
        EnvdeckConfig.model_rebuild(raise_errors=False)  # config-first: tui.core.config rebuilds


_complete_config_model()
