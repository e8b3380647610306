"""`Policy.precheck_action` decides from an action's name alone, before any backend call
(deny first). It must never refuse what the full check with the action's spec allows:
checked here against every action spec of every backend, every role and --read-only."""

from __future__ import annotations

import pytest

from backends.aws import actions as aws_actions
from backends.edge import actions as edge_actions
from backends.kubernetes import actions as kubernetes_actions
from tui.core.config import parse_config
from tui.core.model import ActionSpec
from tui.core.policy import ACTION_MIN_ROLE, NON_MUTATING_ACTIONS, Policy

CFG = parse_config("""
environments:
  staging:
    access: {viewer: [vera], operator: [olga], admin: [ada]}
""")


def every_spec() -> list[tuple[str, ActionSpec]]:
    specs = [("aws", s) for s in aws_actions._SPECS.values()]
    specs += [("kubernetes", s) for kind in kubernetes_actions._BY_KIND.values() for s in kind]
    specs += [("edge", s) for s in (*edge_actions.SERVICE_ACTIONS, edge_actions.REBOOT, edge_actions.TRUST_HOST_KEY)]
    return specs


def test_the_catalogue_is_what_the_precheck_assumes():
    specs = every_spec()
    assert len(specs) > 15
    assert all(spec.role >= ACTION_MIN_ROLE for _, spec in specs), "an action needs less than ACTION_MIN_ROLE"
    assert {(b, s.name) for b, s in specs if not s.mutating} <= NON_MUTATING_ACTIONS


@pytest.mark.parametrize("user", ["vera", "olga", "ada", "nobody"])
@pytest.mark.parametrize("read_only", [False, True])
def test_the_precheck_never_refuses_what_the_check_allows(user, read_only):
    policy = Policy(CFG, user, read_only=read_only)
    refused = 0
    for backend, spec in every_spec():
        early = policy.precheck_action("staging", backend, spec.name)
        full = policy.check("staging", spec)
        if full.allowed:
            assert early.allowed, (backend, spec.name, early.reason)
        refused += not early.allowed
        if not early.allowed:
            assert early.reason and not full.allowed
    specs = every_spec()
    if user in ("vera", "nobody"):  # refused before any backend call, every action
        assert refused == len(specs)
    elif read_only:  # every action that may change something
        assert refused == sum((b, s.name) not in NON_MUTATING_ACTIONS for b, s in specs)
    else:
        assert refused == 0
