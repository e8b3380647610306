"""The configuration contract (YAML validated by pydantic; unknown keys rejected).

`load_config(path)` returns an `EnvdeckConfig` or raises `ConfigError` whose
problems read `PATH:LINE:COL: message`, positioned with the YAML marks.
"""

from __future__ import annotations

import math
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

from tui.core.config_yaml import compose_with_marks, locate
from tui.core.errors import ConfigError

ENV_NAME_RE = re.compile(r"^[a-z0-9-]{1,63}$")
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
# The longest duration envdeck accepts: longer ones overflow time_t or asyncio timers
# somewhere below (a `.inf` timeout), and nobody means them.
MAX_DURATION_S = 10 * 365 * 86400.0
# Counts sent to the APIs (replicas, ECS desiredCount) are int32 there.
INT32_MAX = 2**31 - 1
# A config bigger than this is not a config.
MAX_CONFIG_BYTES = 4 * 1024 * 1024


def parse_duration(value: Any) -> float:
    """`30s`, `5m`, `1h`, `250ms` or a bare number of seconds → seconds (float)."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 30s or 5m is expected")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            raise ValueError("a duration must be at most 10 years") from None
    elif isinstance(value, str):
        m = _DURATION_RE.match(value)
        if not m:
            raise ValueError(f"{value!r} is not a duration (use e.g. 500ms, 30s, 5m, 1h)")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ValueError("a duration such as 30s or 5m is expected")
    if math.isnan(seconds):
        raise ValueError("a duration must be a number, not NaN")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    if seconds > MAX_DURATION_S:  # also .inf and 99999999999999999999h
        raise ValueError("a duration must be at most 10 years")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]
# Names of resources given in config (nodes, services): safe to show and to log.
SafeName = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@:-]*$")]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, str_strip_whitespace=False)


class Defaults(StrictModel):
    interval: Duration = 30.0  # observe cadence of polling backends
    timeout: Duration = 10.0  # per-call timeout towards a backend
    max_backoff: Duration = 300.0


class UIConfig(StrictModel):
    theme: str | None = None
    keymap: dict[str, str] = Field(default_factory=dict)  # binding id -> keys, e.g. {"restart": "ctrl+r"}
    log_buffer_lines: int = Field(default=50_000, ge=100, le=5_000_000)


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


class StateConfig(StrictModel):
    # issue 16: a PostgreSQL store shared by a team (tui/core/store_pg.py); None: the SQLite
    # file in the state directory. No password in it: libpq reads PGPASSWORD, ~/.pgpass, a
    # service file. $ENVDECK_STATE_URL, when set, is used instead.
    url: str | None = None

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
    data, marks = compose_with_marks(text, source)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{source}:1:1: the top level must be a mapping with 'environments:'"])
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
    p = Path(path).expanduser()
    raw = read_regular_file(p)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError([f"{p}:{line}:1: the file is not valid UTF-8"]) from None
    return parse_config(text, str(p))


def read_regular_file(p: Path) -> bytes:
    """The file's bytes, refusing anything but a regular file: a FIFO, a device or a
    socket given as the config would block `check` forever or never end. It is
    opened non-blocking (a FIFO without a writer would block the open itself) and
    checked with fstat on the open descriptor, so a swap after the check cannot
    slip a FIFO in."""
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise ConfigError([f"{p}: no such file (pass --config PATH or set ENVDECK_CONFIG)"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{p}: is a directory, not a config file"]) from None
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read: {exc.strerror or exc}"]) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ConfigError([f"{p}: is a directory, not a config file"])
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError([f"{p}: is {_file_kind(info.st_mode)}, not a regular file; "
                               "envdeck reads its config only from a regular file"])
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigError([f"{p}: is {info.st_size} bytes; a config is at most "
                               f"{MAX_CONFIG_BYTES // (1024 * 1024)} MiB"])
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=True) as handle:
            fd = -1
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read: {exc.strerror or exc}"]) from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError([f"{p}: is more than {MAX_CONFIG_BYTES // (1024 * 1024)} MiB; not a config"])
    return raw


def _file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def file_warnings(path: str | Path) -> list[str]:
    """Risky properties of the config file: a symlink, or writable by others."""
    p = Path(path).expanduser()
    warnings = []
    try:
        if p.is_symlink():
            warnings.append(f"{p}: is a symlink to {p.resolve()}; make sure its target is trusted")
        mode = p.stat().st_mode
        if mode & 0o002:
            warnings.append(f"{p}: is world-writable; anyone on this host can change what envdeck does")
        elif mode & 0o020:
            warnings.append(f"{p}: is group-writable")
        owner = p.stat().st_uid
        if owner not in (0, os.geteuid()):
            warnings.append(f"{p}: is owned by another user (uid {owner}), who can change what envdeck does")
        folder = p.resolve().parent
        folder_mode = folder.stat().st_mode
        if folder_mode & 0o002 and not folder_mode & stat.S_ISVTX:
            warnings.append(f"{folder}: the config's directory is world-writable; anyone can replace the file")
    except OSError:
        pass
    return warnings


# The template models build on the models above (StrictModel, Access, EdgeConfig, ...), so
# they are imported last; pydantic resolves EnvdeckConfig's annotations on first use.
from tui.core.lifecycle import template as _template  # noqa: E402

if hasattr(_template, "TemplateConfig"):  # else template.py is importing this module: it rebuilds
    EnvdeckConfig.model_rebuild()
