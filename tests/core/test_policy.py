"""Role × action matrix of the access policy."""

from __future__ import annotations

import pytest

from tui.core.config import parse_config
from tui.core.model import ActionSpec, Role
from tui.core.policy import OPEN_SHELL, READ_LOGS, REPAIR, VIEW, Policy

CFG = parse_config("""
environments:
  staging:
    access: {viewer: ["*"], operator: [alice], admin: [bob]}
  prod:
    access: {admin: [bob]}
  dev: {}
""")

RESTART = ActionSpec("restart", "Restart", role=Role.OPERATOR)
TERMINATE = ActionSpec("terminate", "Terminate", role=Role.OPERATOR, destructive=True)
CORDON = ActionSpec("cordon", "Cordon", role=Role.ADMIN)

MATRIX = [
    # user, action, allowed in staging
    ("carol", VIEW, True), ("carol", READ_LOGS, False), ("carol", RESTART, False), ("carol", REPAIR, False),
    ("alice", VIEW, True), ("alice", READ_LOGS, True), ("alice", RESTART, True), ("alice", OPEN_SHELL, True),
    ("alice", REPAIR, False), ("alice", TERMINATE, False), ("alice", CORDON, False),
    ("bob", RESTART, True), ("bob", REPAIR, True), ("bob", TERMINATE, True), ("bob", CORDON, True),
]


@pytest.mark.parametrize("user,action,allowed", MATRIX)
def test_role_action_matrix(user, action, allowed):
    decision = Policy(CFG, user).check("staging", action)
    assert decision.allowed is allowed
    if not allowed:
        assert user in decision.reason and action.name in decision.reason


def test_roles_and_visibility():
    assert Policy(CFG, "carol").role("staging") is Role.VIEWER
    assert Policy(CFG, "alice").role("staging") is Role.OPERATOR
    assert Policy(CFG, "bob").role("prod") is Role.ADMIN
    assert Policy(CFG, "carol").role("prod") is None
    # no access block: the current user is admin there
    assert Policy(CFG, "anyone").role("dev") is Role.ADMIN
    assert Policy(CFG, "carol").visible_environments() == ["staging", "dev"]
    assert Policy(CFG, "bob").visible_environments() == ["staging", "prod", "dev"]


@pytest.mark.parametrize("action", [RESTART, REPAIR, TERMINATE, OPEN_SHELL])
def test_read_only_denies_every_mutating_action(action):
    decision = Policy(CFG, "bob", read_only=True).check("staging", action)
    assert not decision.allowed and "read-only" in decision.reason


def test_read_only_still_reads():
    assert Policy(CFG, "bob", read_only=True).check("staging", READ_LOGS).allowed
    assert Policy(CFG, "bob", read_only=True).check("staging", VIEW).allowed


def test_no_role_is_denied_everything():
    assert not Policy(CFG, "carol").check("prod", VIEW).allowed
