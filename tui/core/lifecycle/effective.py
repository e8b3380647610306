"""The effective config: the config's environments plus the environments envdeck created
from templates, so that a created environment is first-class everywhere (policy, the
reconciler, `status`, `audit`, the TUI).

Every managed environment that is not `destroyed` is added under its name, with the
`environment` section its template rendered (the template's `access` with `{creator}`
filled decides the roles). A `planned` one is added too: it has nothing to observe yet,
but its roles decide who may destroy it, and the TUI shows it from the start. A managed
environment whose name is declared in the config (refused at create; possible only if the
config changed since) or whose rendered section no longer validates is left out, with a
warning in the log: the config's environment wins.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pydantic import ValidationError

from tui.core.config import EnvdeckConfig, EnvironmentConfig
from tui.core.lifecycle.records import EnvLifecycleState, ManagedEnvironment

log = logging.getLogger("envdeck.lifecycle")


def environment_config(managed: ManagedEnvironment) -> EnvironmentConfig:
    """The rendered `environment` section of a managed environment as the model the
    reconciler observes (pydantic ValidationError when it does not validate)."""
    return EnvironmentConfig.model_validate(managed.spec.environment)


def live(managed: ManagedEnvironment) -> bool:
    """Whether a managed environment still exists (anything but `destroyed`)."""
    return managed.state != EnvLifecycleState.DESTROYED


def managed_sections(config: EnvdeckConfig, managed: Iterable[ManagedEnvironment],
                     ) -> dict[str, EnvironmentConfig]:
    """The validated environment sections of the live managed environments that the
    effective config adds, by name."""
    out: dict[str, EnvironmentConfig] = {}
    for item in managed:
        if not live(item):
            continue
        if item.name in config.environments:
            log.warning("created environment %s is shadowed by the config's environment of that name", item.name)
            continue
        try:
            out[item.name] = environment_config(item)
        except ValidationError as exc:
            log.warning("created environment %s left out: its rendered section does not validate: %s",
                        item.name, exc.errors()[0].get("msg", "") if exc.errors() else exc)
    return out


def effective_config(config: EnvdeckConfig, managed: list[ManagedEnvironment]) -> EnvdeckConfig:
    """A copy of `config` whose `environments` also hold every live managed environment
    (the config's own environments first, in their order; then the created ones by name)."""
    added = managed_sections(config, managed)
    environments = dict(config.environments)
    for name in sorted(added):
        environments[name] = added[name]
    effective = config.model_copy(update={"environments": environments})
    effective.source = config.source
    return effective
