"""`envdeck run`'s connections, started from the YAML before the config models are built.

Building the models (pydantic and envdeck's config classes) is ~0.1 s of CPU, and the edge
backend another ~0.05 s; a node's sshd needs its own time to fork and exchange keys. So `run`
reads the file, composes the YAML (tui/core/config_read.py) and, when it can already tell from
that plain data that the run will go ahead on every node at once, starts the connections
(backends/edge/early.py) and only then validates the whole config. Whatever is unusual in the
data makes it wait instead (None): the run then connects as before, after the session's checks.

The decision is the session's own, on the same data: the access policy is `Policy.check` itself
(tui/core/policy.py) over the environment's `access` lists, read only when they are exactly
what the model accepts (lists of strings under viewer/operator/admin); the state directory gets
the session's own checks. A config that then fails validation ends the run with its
`PATH:LINE:COL` lines, the early connections closed with nothing sent on them; a validated
config whose nodes or link settings differ from what was read (which plain data of the accepted
shape cannot produce) gets new connections: the early ones are closed unused.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backends.edge.early import EarlyLinks, NodeAddress

# The defaults of the edge section and of `defaults:` that a connect reads, as the models give
# them (tui/core/config.py EdgeConfig, Defaults; tests/edge/test_run_early_plan.py compares).
CONCURRENCY = 50
CONNECT_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 30.0
KEEPALIVE_S = 15.0
MAX_BACKOFF_S = 300.0
_ROLES = ("viewer", "operator", "admin")
_NODE_KEYS = frozenset({"name", "host", "port", "user", "identity_file", "services", "log_files", "commands"})


@dataclass(frozen=True)
class _Access:
    viewer: list[str] = field(default_factory=list)
    operator: list[str] = field(default_factory=list)
    admin: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Environment:
    access: _Access | None


@dataclass(frozen=True)
class _PolicyView:
    """What `Policy` reads of a config (environments[env].access), for the one environment."""

    environments: dict[str, _Environment]


@dataclass(frozen=True)
class EdgePlan:
    """The nodes and link settings read from the plain data."""

    nodes: list[NodeAddress]
    known_hosts: str | None
    ssh_config: str | None
    connect_timeout: float
    command_timeout: float
    keepalive: float
    max_backoff: float


class _WithoutX509:
    """A finder that says asyncssh's X.509 module is not there (see `_early_links_module`)."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "asyncssh.crypto.x509":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def _early_links_module() -> ModuleType:
    """backends.edge.early, whose package is where `run` first imports asyncssh. asyncssh's
    X.509 certificate support needs pyOpenSSL, which envdeck does not depend on: without it,
    asyncssh's `crypto.x509` module fails on `from OpenSSL import crypto` (asyncssh then runs
    without X.509, as it does here) but only after importing `cryptography.x509` (~10 ms and
    22 modules before the first connection; issue 19). When pyOpenSSL is not installed, that
    module is said to be missing at once: the same asyncssh, without the wasted import. With
    pyOpenSSL, or once this process has imported asyncssh, nothing is changed."""
    import importlib.util

    if "asyncssh" in sys.modules or importlib.util.find_spec("OpenSSL") is not None:
        return importlib.import_module("backends.edge.early")
    finder = _WithoutX509()
    sys.meta_path.insert(0, finder)
    try:
        return importlib.import_module("backends.edge.early")
    finally:
        sys.meta_path.remove(finder)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _optional_str(value: Any) -> bool:
    return value is None or isinstance(value, str)


def allowed(env: str, env_data: dict[str, Any], user: str, read_only: bool) -> bool:
    """`Policy.check(env, FLEET_RUN)` on the plain data: False also when it cannot be read."""
    from tui.core.policy import FLEET_RUN, Policy

    access = env_data.get("access")
    if access is None:
        view = _Environment(None)
    elif isinstance(access, dict) and set(access) <= set(_ROLES) and all(_strings(v) for v in access.values()):
        view = _Environment(_Access(**{role: list(names) for role, names in access.items()}))
    else:
        return False
    return Policy(_PolicyView({env: view}), user, read_only=read_only).check(env, FLEET_RUN).allowed  # type: ignore[arg-type]


def _duration(section: dict[str, Any], key: str, default: float) -> float | None:
    from tui.core.durations import parse_duration

    if key not in section:
        return default
    try:
        return parse_duration(section[key])
    except ValueError:
        return None


def edge_plan(data: dict[str, Any], env: str) -> EdgePlan | None:
    """The environment's nodes and link settings from the plain data, when every value a
    connect reads has the type the model accepts (no coercion: a port written "22" waits for
    the model), the node names are unique and they fit in one wave (`concurrency`)."""
    NodeAddress = _early_links_module().NodeAddress  # noqa: N806 - the class

    envs = data.get("environments")
    env_data = envs.get(env) if isinstance(envs, dict) else None
    edge = env_data.get("edge") if isinstance(env_data, dict) else None
    if not isinstance(edge, dict):
        return None
    nodes_data = edge.get("nodes")
    concurrency = edge.get("concurrency", CONCURRENCY)
    if not isinstance(nodes_data, list) or not nodes_data or type(concurrency) is not int:
        return None
    if len(nodes_data) > concurrency or not _optional_str(edge.get("known_hosts")) \
            or not _optional_str(edge.get("ssh_config")):
        return None
    nodes: list[NodeAddress] = []
    for item in nodes_data:
        if not isinstance(item, dict) or not set(item) <= _NODE_KEYS:
            return None
        name, host, port = item.get("name"), item.get("host"), item.get("port")
        if not (isinstance(name, str) and name and isinstance(host, str) and host):
            return None
        if port is not None and not (type(port) is int and 1 <= port <= 65535):
            return None
        if not (_optional_str(item.get("user")) and _optional_str(item.get("identity_file"))):
            return None
        nodes.append(NodeAddress(name, host, port, item.get("user"), item.get("identity_file")))
    if len({n.name for n in nodes}) != len(nodes):
        return None
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        return None
    timings = (_duration(edge, "connect_timeout", CONNECT_TIMEOUT_S), _duration(edge, "command_timeout", COMMAND_TIMEOUT_S),
               _duration(edge, "keepalive", KEEPALIVE_S), _duration(defaults, "max_backoff", MAX_BACKOFF_S))
    if any(t is None for t in timings):
        return None
    connect_timeout, command_timeout, keepalive, max_backoff = timings
    return EdgePlan(nodes, edge.get("known_hosts"), edge.get("ssh_config"), connect_timeout, command_timeout,  # type: ignore[arg-type]
                    keepalive, max_backoff)  # type: ignore[arg-type]


async def connect_early(args: argparse.Namespace, data: dict[str, Any]) -> EarlyLinks | None:
    """Start connecting the nodes the run will use, when it is sure to run on all of them at
    once: the user's role allows it (the policy of the config alone, no backend call), no
    prompt is to be answered first, no --nodes glob, no more nodes than the concurrency, the
    state directory passes the session's checks, and no other edge backend is registered
    (tests, embedders). Otherwise None: the run connects as it goes, after the session's checks."""
    if args.nodes or not (getattr(args, "yes", False) or not sys.stdin.isatty()):
        return None
    registry = sys.modules.get("backends.registry")
    if registry is not None and registry.has_override("edge"):  # (not imported yet: none registered)
        return None
    envs = data.get("environments")
    env_data = envs.get(args.env) if isinstance(envs, dict) else None
    if not isinstance(env_data, dict):
        return None
    from tui.core.identity import current_user

    if not allowed(args.env, env_data, current_user(), args.read_only):
        return None  # the session denies it and audits that: no node is contacted
    plan = edge_plan(data, args.env)
    if plan is None:
        return None
    from tui.core.errors import StateError
    from tui.core.paths import ensure_state_dir, state_dir

    try:  # the session's own checks of the state directory (stat calls), before any node sees a login
        ensure_state_dir(state_dir(args.state_dir))
    except StateError:
        return None  # the session refuses the run with this error: no node is contacted
    from backends.edge.hostkeys import known_hosts_files
    from backends.edge.link import LinkSettings

    settings = LinkSettings(known_hosts_files=known_hosts_files(plan.known_hosts), ssh_config=plan.ssh_config,
                            connect_timeout=plan.connect_timeout, command_timeout=plan.command_timeout,
                            keepalive=plan.keepalive, max_backoff=plan.max_backoff)
    early = _early_links_module().EarlyLinks(args.env, plan.nodes, settings)
    await early.start()
    return early
