"""Build the backends of an environment from its config.

Each adapter is imported only when an environment uses it, so that a config
with only SSH nodes never pays for importing boto3 or the kubernetes client.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from backends.base import Backend, Provisioner
from tui.core.config import Defaults, EnvdeckConfig, EnvironmentConfig
from tui.core.errors import InvalidRequest

# backend name -> "module:Class"
ADAPTERS: dict[str, str] = {
    "aws": "backends.aws:AwsBackend",
    "kubernetes": "backends.kubernetes:KubernetesBackend",
    "edge": "backends.edge:EdgeBackend",
}

# Tests and embedders may register a factory for a backend name (e.g. an in-memory one).
_overrides: dict[str, type[Backend]] = {}


def register(name: str, cls: type[Backend]) -> None:
    _overrides[name] = cls


def unregister(name: str) -> None:
    _overrides.pop(name, None)


def has_override(name: str) -> bool:
    """A class is registered for `name` (not the production adapter)."""
    return name in _overrides


def backend_class(name: str) -> type[Backend]:
    if name in _overrides:
        return _overrides[name]
    module_name, _, cls_name = ADAPTERS[name].partition(":")
    return getattr(import_module(module_name), cls_name)


def create_backends(env: str, env_cfg: EnvironmentConfig, cfg: EnvdeckConfig, *,
                    refuse: bool = True) -> dict[str, Backend]:
    """The environment's backends. A file the backends refuse to use (a readable key, a
    known_hosts or kubeconfig another user can change …) is a ConfigError here, placed, before any
    backend exists (tui/core/config_files.py refuse_untrusted), unless `refuse` is False
    (`create_backends_refusing_at_use`)."""
    if refuse:
        from tui.core.config_files import refuse_untrusted

        refuse_untrusted(cfg, env, env_cfg.edge)
    backends: dict[str, Backend] = {}
    for name in env_cfg.backend_names():
        cls = backend_class(name)
        backends[name] = cls(env, getattr(env_cfg, name), cfg.defaults)
    if "aws" in backends:
        # a log group another environment declares is never this one's by a tag (AwsBackend.owns_log_group)
        backends["aws"].foreign_log_groups = frozenset(  # type: ignore[attr-defined]
            entry.group for other, other_cfg in cfg.environments.items()
            if other != env and other_cfg.aws is not None for entry in other_cfg.aws.logs)
    return backends


def create_backends_refusing_at_use(env: str, env_cfg: EnvironmentConfig, cfg: EnvdeckConfig) -> dict[str, Backend]:
    """The environment's backends with no refusal up front (the TUI): each refuses what it would
    use when it uses it, as its own error on the screen — the kubernetes backend its kubeconfig
    when it loads it, each edge node's link its identity_file and known_hosts before it connects —
    so one environment's refused file does not stop the others."""
    return create_backends(env, env_cfg, cfg, refuse=False)


# -- lifecycle provisioners (issue 15) ------------------------------------------------------
# backend name -> "module:Class"; imported only when an environment's step needs it, so a
# provisioner module that is missing or broken fails only the operations that use it.
PROVISIONERS: dict[str, str] = {
    "aws": "backends.aws.provision:AwsProvisioner",
    "kubernetes": "backends.kubernetes.provision:KubernetesProvisioner",
    "edge": "backends.edge.provision:EdgeProvisioner",
}

_provisioner_overrides: dict[str, type[Provisioner]] = {}


def register_provisioner(name: str, cls: type[Provisioner]) -> None:
    _provisioner_overrides[name] = cls


def unregister_provisioner(name: str) -> None:
    _provisioner_overrides.pop(name, None)


def provisioner_class(name: str) -> type[Provisioner]:
    if name in _provisioner_overrides:
        return _provisioner_overrides[name]
    if name not in PROVISIONERS:
        raise InvalidRequest(f"envdeck cannot create {name} resources (known: {', '.join(PROVISIONERS)})",
                             backend=name)
    module_name, _, cls_name = PROVISIONERS[name].partition(":")
    return getattr(import_module(module_name), cls_name)


def create_provisioner(backend: str, env: str, config: Any, defaults: Defaults, template: str) -> Provisioner:
    """The production `ProvisionerFactory` (tui/core/lifecycle/engine.py): the backend's
    provisioner for one managed environment, `config` the validated backend section of its
    rendered environment."""
    return provisioner_class(backend)(env, config, defaults, template=template)
