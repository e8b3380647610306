"""Typed errors shared by the core and the backends.

The reconciler and the UI tell them apart: an unreachable backend turns its
resources Unknown and backs off; a denial is audited as `denied`; not-found and
invalid are reported to the user as they are.
"""

from __future__ import annotations


class EnvdeckError(Exception):
    """Base of every error envdeck reports to a user without a traceback."""


class ConfigError(EnvdeckError):
    """The configuration is wrong; `problems` holds `PATH:LINE:COL: message` lines."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class StateError(EnvdeckError):
    """The state directory or store cannot be used (read-only, full disk, corrupt)."""


class StoreRefused(StateError):
    """The store's server refused this database role the statement (team mode: a member role
    may read, and write audit rows only; tui/core/store_pg.py)."""


class PolicyDenied(EnvdeckError):
    """The access policy of envdeck refused the action (exit code 3)."""


class BackendError(EnvdeckError):
    """Base for errors raised by a backend adapter."""

    backend: str = ""

    def __init__(self, message: str, *, backend: str = ""):
        super().__init__(message)
        if backend:
            self.backend = backend


class BackendUnreachable(BackendError):
    """The endpoint cannot be reached, timed out, answered 5xx, or credentials are expired."""


class BackendDenied(BackendError):
    """The backend itself refused the call (IAM, Kubernetes RBAC, SSH auth, host key)."""


class NotFound(BackendError):
    """The resource or action target does not exist."""


class InvalidRequest(BackendError):
    """The request is malformed for this resource (unknown action, bad parameter)."""


class ForeignResource(InvalidRequest):
    """A lifecycle step's object exists and is not this environment's: someone else's, or another
    envdeck environment's of the same name (another instance). Never adopted, never deleted; at
    destroy it means "nothing of ours there", not an orphan."""


class LifecycleFailed(EnvdeckError):
    """A lifecycle operation (create, destroy, sleep, wake) stopped at a step (exit code 1)."""

    def __init__(self, env: str, step: str, reason: str):
        self.env, self.step, self.reason = env, step, reason
        super().__init__(f"{env}: step {step} failed: {reason}" if step else f"{env}: {reason}")
