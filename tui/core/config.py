"""The configuration contract (YAML validated by pydantic; unknown keys rejected).

`load_config(path)` returns an `EnvdeckConfig` or raises `ConfigError` whose
problems read `PATH:LINE:COL: message`, positioned with the YAML marks.
"""

from __future__ import annotations

import os
import re
import stat
import string
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tui.core.config_read import (  # noqa: F401 - MAX_CONFIG_BYTES, read_regular_file re-exported
    MAX_CONFIG_BYTES,
    compose_config,
    read_config_text,
    read_regular_file,
)
from tui.core.config_yaml import locate
from tui.core.durations import MAX_DURATION_S, parse_duration  # noqa: F401 - re-exported
from tui.core.errors import ConfigError

ENV_NAME_RE = re.compile(r"^[a-z0-9-]{1,63}$")
# Counts sent to the APIs (replicas, ECS desiredCount) are int32 there.
INT32_MAX = 2**31 - 1


Duration = Annotated[float, BeforeValidator(parse_duration)]
# Names of resources given in config (nodes, services): safe to show and to log.
SafeName = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@:-]*$")]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, str_strip_whitespace=False)


class Defaults(StrictModel):
    interval: Duration = 30.0  # observe cadence of polling backends
    timeout: Duration = 10.0  # per-call timeout towards a backend
    max_backoff: Duration = 300.0


_KEY_NAME = re.compile(r"(?:(?:ctrl|shift|alt|super|meta|hyper)\+)*[A-Za-z0-9_]+|\S")


class UIConfig(StrictModel):
    theme: str | None = None
    keymap: dict[str, str] = Field(default_factory=dict)  # binding id -> keys, e.g. {"restart": "ctrl+r"}
    log_buffer_lines: int = Field(default=50_000, ge=100, le=5_000_000)

    @field_validator("keymap")
    @classmethod
    def _keys_are_keys(cls, keymap: dict[str, str]) -> dict[str, str]:
        """Each value is one key or several separated by commas (`ctrl+r`, `f5,ctrl+r`, `question_mark`):
        `",,"` or `"ctrl r"` bound nothing and showed a blank key in the footer."""
        for binding_id, text in keymap.items():
            names = [k.strip() for k in text.split(",")]
            bad = [k for k in names if not _KEY_NAME.fullmatch(k)]
            if bad:
                raise ValueError(f"{binding_id}: {text!r} is not a key or keys separated by commas "
                                 f"(e.g. ctrl+r, f5, question_mark; {'an empty key' if '' in bad else repr(bad[0])})")
        return keymap


class Access(StrictModel):
    viewer: list[str] = Field(default_factory=list)
    operator: list[str] = Field(default_factory=list)
    admin: list[str] = Field(default_factory=list)


# --- AWS -------------------------------------------------------------------

class Ec2InstanceDesired(StrictModel):
    kind: Literal["ec2-instance"]
    name: str = Field(min_length=1)  # the Name tag
    state: Literal["running", "stopped"] | None = None


class EcsServiceDesired(StrictModel):
    kind: Literal["ecs-service"]
    cluster: str = Field(min_length=1)
    name: str = Field(min_length=1)
    desired_count: int | None = Field(default=None, ge=0, le=INT32_MAX)


class S3BucketDesired(StrictModel):
    kind: Literal["s3-bucket"]
    name: str = Field(min_length=1)
    encryption: bool | None = None
    public_access_blocked: bool | None = None


class AutoscalingGroupDesired(StrictModel):
    kind: Literal["autoscaling-group"]
    name: str = Field(min_length=1)
    desired_capacity: int | None = Field(default=None, ge=0, le=INT32_MAX)


class LambdaFunctionDesired(StrictModel):
    kind: Literal["lambda-function"]
    name: str = Field(min_length=1)
    reserved_concurrency: int | None = Field(default=None, ge=0, le=INT32_MAX)


AwsDesired = Annotated[Ec2InstanceDesired | EcsServiceDesired | S3BucketDesired | AutoscalingGroupDesired
                       | LambdaFunctionDesired, Field(discriminator="kind")]


class AwsLogSource(StrictModel):
    resource: str = Field(min_length=1)  # a resource id (aws/ec2-instance/i-…) or a Name
    group: str = Field(min_length=1)
    stream_prefix: str | None = None


class AwsConfig(StrictModel):
    region: str = Field(min_length=1)
    profile: str | None = None
    endpoint_url: str | None = Field(default=None, pattern=r"^https?://")
    tags: dict[str, str] = Field(min_length=1)
    desired: list[AwsDesired] = Field(default_factory=list)
    logs: list[AwsLogSource] = Field(default_factory=list)
    shell: Literal["ssh", "ssm"] = "ssh"
    ssh_user: str | None = None
    identity_file: str | None = None
    interval: Duration | None = None


# --- Kubernetes ------------------------------------------------------------

class WorkloadDesired(StrictModel):
    kind: Literal["Deployment", "StatefulSet"]
    name: str = Field(min_length=1)
    replicas: int | None = Field(default=None, ge=0, le=INT32_MAX)
    image: str | dict[str, str] | None = None


class KubernetesConfig(StrictModel):
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str = Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    desired: list[WorkloadDesired] = Field(default_factory=list)


# --- Edge ------------------------------------------------------------------

# What each command template is filled with when it runs (backends/edge: actions, backend).
_TEMPLATE_FIELDS = {
    "status": {"service"}, "start": {"service"}, "stop": {"service"}, "restart": {"service"},
    "logs": {"service", "lines"}, "file_logs": {"file", "lines"}, "reboot": set(), "version": {"service"},
}


class EdgeCommands(StrictModel):
    status: str = "systemctl is-active {service}"
    start: str = "sudo systemctl start {service}"
    stop: str = "sudo systemctl stop {service}"
    restart: str = "sudo systemctl restart {service}"
    logs: str = "journalctl -u {service} -f -n {lines} -o cat"
    file_logs: str = "tail -n {lines} -F {file}"
    reboot: str = "sudo systemctl reboot"
    # issue 18: prints the service's version (first line of its output), e.g.
    # "dpkg-query -W -f '${Version}' {service}"; none: services show no version
    version: str | None = None

    @field_validator("*")
    @classmethod
    def _known_fields(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:  # only `version` may be left out
            return value
        # The same rules as backends/edge/commands.render, checked here so that
        # `envdeck check` refuses what would only fail when the command runs.
        try:
            parsed = list(string.Formatter().parse(value))
        except ValueError as exc:
            raise ValueError(f"bad template: {exc}") from None
        allowed = _TEMPLATE_FIELDS.get(info.field_name or "", set())
        for _, field, spec, conversion in parsed:
            if field is None:
                continue
            if field not in allowed:
                usable = " or ".join(f"{{{f}}}" for f in sorted(allowed)) or "no placeholder"
                raise ValueError(f"unknown placeholder {{{field}}}; this command takes {usable}"
                                 + ("" if field.isidentifier() else
                                    " (no positional fields, attribute access or indexing)"))
            if conversion is not None:
                raise ValueError(f"{{{field}!{conversion}}}: a placeholder must not carry a conversion; "
                                 f"write {{{field}}} (values are shell-quoted)")
            if spec:
                raise ValueError(f"{{{field}:{spec}}}: a placeholder must not carry a format spec; "
                                 f"write {{{field}}} (values are shell-quoted)")
        return value


class EdgeNode(StrictModel):
    name: SafeName
    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    user: str | None = None
    identity_file: str | None = None
    services: list[SafeName] = Field(default_factory=list)
    log_files: list[str] = Field(default_factory=list)
    commands: dict[str, str] | None = None  # overrides of the edge-level templates

    @field_validator("commands")
    @classmethod
    def _check_commands(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value:
            try:
                EdgeCommands(**value)  # validates names and placeholders
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ValueError(f"{where}: {_message(first)}") from None
        return value


class EdgeThresholds(StrictModel):
    disk_percent: float = Field(default=90.0, gt=0, le=100)
    memory_percent: float = Field(default=90.0, gt=0, le=100)


class EdgeConfig(StrictModel):
    known_hosts: str | None = None
    ssh_config: str | None = None  # default ~/.ssh/config
    nodes: list[EdgeNode] = Field(default_factory=list)
    commands: EdgeCommands = Field(default_factory=EdgeCommands)
    concurrency: int = Field(default=50, ge=1, le=1000)
    connect_timeout: Duration = 10.0
    command_timeout: Duration = 30.0
    keepalive: Duration = 15.0
    thresholds: EdgeThresholds = Field(default_factory=EdgeThresholds)
    interval: Duration | None = None

    @model_validator(mode="after")
    def _unique_nodes(self) -> EdgeConfig:
        seen: set[str] = set()
        for node in self.nodes:
            if node.name in seen:
                raise ValueError(f"node {node.name!r} is listed twice")
            seen.add(node.name)
        return self

    def commands_for(self, node: EdgeNode) -> EdgeCommands:
        if not node.commands:
            return self.commands
        return self.commands.model_copy(update=node.commands)


# --- Environments ----------------------------------------------------------

RepairMode = Literal["observe", "propose", "auto"]


class EnvironmentConfig(StrictModel):
    description: str = ""
    repair: RepairMode = "propose"
    access: Access | None = None
    aws: AwsConfig | None = None
    kubernetes: KubernetesConfig | None = None
    edge: EdgeConfig | None = None

    def backend_names(self) -> list[str]:
        return [n for n in ("aws", "kubernetes", "edge") if getattr(self, n) is not None]


EnvName = Annotated[str, Field(pattern=ENV_NAME_RE.pattern)]


class AuditConfig(StrictModel):
    # extra patterns for tui/core/redaction.py: the whole match (or its first group) becomes ***
    redact: list[str] = Field(default_factory=list)

    @field_validator("redact")
    @classmethod
    def _valid_patterns(cls, value: list[str]) -> list[str]:
        from tui.core.redaction import compile_patterns

        compile_patterns(value)  # a ValueError names the bad pattern
        return value


class RetentionConfig(StrictModel):
    """How long the store keeps what grows without end (tui/core/retention.py). The audit trail
    is the record and is never pruned."""
    samples: Duration = 86400.0  # metric samples older than this are deleted
    gone_samples: Duration = 600.0  # the samples of a resource gone for this long, sooner
    timeline: Duration = 30 * 86400.0  # timeline rows (events, faults, drifts, repairs) older than this


class StateConfig(StrictModel):
    # issue 16: a PostgreSQL store shared by a team (tui/core/store_pg.py); None: the SQLite
    # file in the state directory. No password in it: libpq reads PGPASSWORD, ~/.pgpass, a
    # service file. $ENVDECK_STATE_URL, when set, is used instead.
    url: str | None = None
    retention: RetentionConfig = Field(default_factory=RetentionConfig)

    @field_validator("url")
    @classmethod
    def _no_password(cls, value: str | None) -> str | None:
        from tui.core.store import check_state_url

        return check_state_url(value, "") if value else None


class CompareMapping(StrictModel):
    """Names that differ between environment `a` and environment `b` beyond the environment's
    own name (issue 18, tui/core/compare/roles.py): `roles` maps a resource name (or id) in
    `a` to the name (or id) of the resource playing the same part in `b`."""

    a: EnvName
    b: EnvName
    roles: dict[Annotated[str, Field(min_length=1)], Annotated[str, Field(min_length=1)]] = Field(min_length=1)


class CompareConfig(StrictModel):
    """`envdeck diff` defaults: the fields ignored unless asked (e.g. replicas, which
    differ by design between staging and prod) and the declared role mappings."""

    ignore: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list)
    mappings: list[CompareMapping] = Field(default_factory=list)

    @field_validator("ignore")
    @classmethod
    def _known_fields(cls, value: list[str]) -> list[str]:
        from tui.core.compare.fields import FIELD_NAMES, base_name

        for name in value:
            if base_name(name) not in FIELD_NAMES:
                raise ValueError(f"unknown field {name!r}; one of {', '.join(FIELD_NAMES)}")
        return value


class EnvdeckConfig(StrictModel):
    environments: dict[EnvName, EnvironmentConfig] = Field(default_factory=dict)
    defaults: Defaults = Field(default_factory=Defaults)
    ui: UIConfig = Field(default_factory=UIConfig)
    audit: AuditConfig = Field(default_factory=AuditConfig)
    state: StateConfig = Field(default_factory=StateConfig)
    # issue 15: templates of environments envdeck creates, and the edge nodes they claim
    # (models in tui/core/lifecycle/template.py, imported at the end of this module)
    templates: dict[_template.TemplateName, _template.TemplateConfig] = Field(default_factory=dict)
    edge_pools: dict[_template.PoolName, _template.EdgePoolConfig] = Field(default_factory=dict)
    compare: CompareConfig = Field(default_factory=CompareConfig)  # issue 18: envdeck diff

    @field_validator("compare")
    @classmethod
    def _compare_envs_known(cls, value: CompareConfig, info: ValidationInfo) -> CompareConfig:
        known = info.data.get("environments") or {}
        for i, item in enumerate(value.mappings):
            for side in ("a", "b"):
                env = getattr(item, side)
                if known and env not in known:
                    raise ValueError(f"mappings[{i}].{side}: unknown environment {env!r}")
        return value

    # Where the file came from (not part of the YAML).
    source: str = Field(default="", exclude=True)


def _message(err: dict[str, Any]) -> str:
    kind = err.get("type", "")
    loc = err.get("loc") or ()
    if kind == "extra_forbidden":
        return f"unknown key {loc[-1]!r}" if loc else "unknown key"
    if kind == "missing":
        return f"missing required key {loc[-1]!r}" if loc else "missing required key"
    if kind == "string_pattern_mismatch" and loc and loc[-1] == "[key]" and len(loc) == 3:
        return f"environment name {loc[-2]!r} must be 1-63 lowercase letters, digits or '-'"
    if kind == "union_tag_invalid":
        ctx = err.get("ctx") or {}
        return f"unknown kind {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
    msg = str(err.get("msg", "invalid value"))
    return msg.removeprefix("Value error, ")


def parse_config(text: str, source: str = "envdeck.yaml") -> EnvdeckConfig:
    data, marks = compose_config(text, source)
    return validate_config(data, marks, source)


def validate_config(data: dict[str, Any], marks: Any, source: str) -> EnvdeckConfig:
    try:
        cfg = EnvdeckConfig.model_validate(data)
    except ValidationError as exc:
        found: set[tuple[int, int, str]] = set()
        for err in exc.errors():
            line, col, path = locate(data, marks, tuple(err.get("loc") or ()))
            where = ".".join(str(p) for p in path) or "(top level)"
            found.add((line, col, f"{where}: {_message(err)}"))
        raise ConfigError([f"{source}:{line}:{col}: {msg}" for line, col, msg in sorted(found)]) from None
    cfg.source = source
    from tui.core.lifecycle.template_check import config_problems

    problems = config_problems(cfg.templates, cfg.edge_pools, source)
    if problems:
        located = set()
        for problem in problems:
            line, col, path = locate(data, marks, problem.loc)
            located.add((line, col, f"{'.'.join(str(p) for p in path)}: {problem.message}"))
        raise ConfigError([f"{source}:{line}:{col}: {msg}" for line, col, msg in sorted(located)])
    return cfg


def load_config(path: str | Path) -> EnvdeckConfig:
    return parse_config(*read_config_text(path))


def file_warnings(path: str | Path) -> list[str]:
    """Risky properties of the config file: a symlink (another user's: said so), writable by
    others, another user's, or in a directory others may write without the sticky bit."""
    from tui.core.paths import _private_group as private_group
    from tui.core.paths import writable_by_owner_alone

    p = Path(path).expanduser()
    warnings = []
    try:
        if p.is_symlink():
            link_owner = p.lstat().st_uid
            if link_owner not in (0, os.geteuid()):  # she can point it at another config at any time
                warnings.append(f"{p}: is a symlink owned by another user (uid {link_owner}), who can point it "
                                f"elsewhere (now {p.resolve()}); use a config file of yours")
            else:
                warnings.append(f"{p}: is a symlink to {p.resolve()}; make sure its target is trusted")
        mode = p.stat().st_mode
        if mode & 0o002:
            warnings.append(f"{p}: is world-writable; anyone on this host can change what envdeck does")
        elif mode & 0o020 and not writable_by_owner_alone(p.stat(), p):  # your private group: yours alone
            warnings.append(f"{p}: is group-writable")
        owner = p.stat().st_uid
        if owner not in (0, os.geteuid()):
            warnings.append(f"{p}: is owned by another user (uid {owner}), who can change what envdeck does")
        folder = p.resolve().parent
        folder_mode = folder.stat().st_mode
        if folder_mode & 0o002 and not folder_mode & stat.S_ISVTX:
            warnings.append(f"{folder}: the config's directory is world-writable; anyone can replace the file")
        elif (folder_mode & 0o020 and not folder_mode & stat.S_ISVTX  # as for an edge identity_file
              and not private_group(folder.stat().st_gid)):  # the user's own group lets no one else in
            warnings.append(f"{folder}: the config's directory is group-writable without the sticky bit; "
                            "its group's members can replace the file")
    except OSError:
        pass
    return warnings


# The template models build on the models above (StrictModel, Access, EdgeConfig, ...), so
# they are imported last; pydantic resolves EnvdeckConfig's annotations on first use.
from tui.core.lifecycle import template as _template  # noqa: E402

if hasattr(_template, "TemplateConfig"):  # else template.py is importing this module: it rebuilds
    EnvdeckConfig.model_rebuild()
