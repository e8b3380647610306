"""Per-environment access control: roles viewer < operator < admin.

The CLI, the TUI and the reconciler call the same `Policy.check` before any
backend call; the caller audits a denial with result `denied`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.config import EnvdeckConfig, EnvironmentConfig
from tui.model import ActionSpec, Role

# Actions that are not on a resource's action list but still need a role.
READ_LOGS = ActionSpec("logs", "Read logs", role=Role.OPERATOR, mutating=False)
OPEN_SHELL = ActionSpec("shell", "Open a shell", role=Role.OPERATOR, mutating=True)
REPAIR = ActionSpec("repair", "Repair drift", role=Role.ADMIN, mutating=True)
FLEET_RUN = ActionSpec("run", "Run a command on nodes", role=Role.OPERATOR, mutating=True)
PAUSE = ActionSpec("pause", "Pause/resume reconciling", role=Role.OPERATOR, mutating=True)
VIEW = ActionSpec("view", "View", role=Role.VIEWER, mutating=False)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""
    role: Role | None = None


class Policy:
    def __init__(self, config: EnvdeckConfig, user: str, *, read_only: bool = False):
        self.config = config
        self.user = user
        self.read_only = read_only

    def role(self, env: str) -> Role | None:
        """The user's role in `env`, or None when the user has none (the env is hidden)."""
        env_cfg: EnvironmentConfig | None = self.config.environments.get(env)
        if env_cfg is None:
            return None
        access = env_cfg.access
        if access is None:
            return Role.ADMIN
        for role, names in ((Role.ADMIN, access.admin), (Role.OPERATOR, access.operator),
                            (Role.VIEWER, access.viewer)):
            if self.user in names or "*" in names:
                return role
        return None

    def visible_environments(self) -> list[str]:
        return [name for name in self.config.environments if self.role(name) is not None]

    def check(self, env: str, action: ActionSpec) -> Decision:
        role = self.role(env)
        if role is None:
            return Decision(False, f"{self.user} has no role in environment {env}")
        if action.mutating and self.read_only:
            return Decision(False, "envdeck runs --read-only", role)
        needed = Role.ADMIN if action.destructive else action.role
        if role < needed:
            return Decision(
                False, f"{action.name} needs the {needed.label} role; {self.user} is {role.label} in {env}", role)
        return Decision(True, "", role)
