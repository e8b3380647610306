"""Per-environment access control: roles viewer < operator < admin.

The CLI, the TUI and the reconciler call the same `Policy.check` before any
backend call; the caller audits a denial with result `denied`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui.core.model import ActionSpec, Role

if TYPE_CHECKING:  # `envdeck run` checks its policy before the config models are imported (tui/cli/fleet_early.py)
    from tui.core.config import EnvdeckConfig, EnvironmentConfig

# Actions that are not on a resource's action list but still need a role.
READ_LOGS = ActionSpec("logs", "Read logs", role=Role.OPERATOR, mutating=False)
OPEN_SHELL = ActionSpec("shell", "Open a shell", role=Role.OPERATOR, mutating=True)
#: A local port forwarded to a pod's or service's port (bytes reach the workload, as a shell's do).
PORT_FORWARD = ActionSpec("port-forward", "Forward a local port", role=Role.OPERATOR, mutating=True)
REPAIR = ActionSpec("repair", "Repair drift", role=Role.ADMIN, mutating=True)
FLEET_RUN = ActionSpec("run", "Run a command on nodes", role=Role.OPERATOR, mutating=True)
PAUSE = ActionSpec("pause", "Pause/resume reconciling", role=Role.OPERATOR, mutating=True)
VIEW = ActionSpec("view", "View", role=Role.VIEWER, mutating=False)
#: The audit action of one log stream opened (`Session.logs`): one row per stream, not per line.
READ = "read"

#: The least role any resource action of any backend needs (a test reads every backend's
#: action specs and checks that none asks for less): below it, `act` is refused before the
#: resource is looked up, so a denial never waits for a backend.
ACTION_MIN_ROLE = Role.OPERATOR
#: Resource actions that change nothing, per backend: the only ones `--read-only` lets
#: through before the resource is looked up (the full check still follows).
NON_MUTATING_ACTIONS = frozenset({("aws", "shell"), ("kubernetes", "logs"), ("kubernetes", "value")})


def hidden_environment_message(env: str) -> str:
    """One wording for an environment that does not exist and one where the user has no
    role: the two must not be told apart (names could be probed)."""
    return f"no environment {env!r} that you can see"


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

    def precheck_action(self, env: str, backend: str, action: str) -> Decision:
        """What can be decided about a resource action from its name alone, before any
        backend call: no role, a role below every resource action (`ACTION_MIN_ROLE`),
        or `--read-only` for an action that may change something. Allowed here means
        only "not refused yet": `check` with the action's spec decides."""
        role = self.role(env)
        if role is None:
            return Decision(False, f"{self.user} has no role in environment {env}")
        if self.read_only and (backend, action) not in NON_MUTATING_ACTIONS:
            return Decision(False, "envdeck runs --read-only", role)
        if role < ACTION_MIN_ROLE:
            return Decision(False, f"{action} needs the {ACTION_MIN_ROLE.label} role; "
                                   f"{self.user} is {role.label} in {env}", role)  # worded like check()
        return Decision(True, "", role)
