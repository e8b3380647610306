"""Configs of the access suites: one environment `dev` where the OS login user running
the tests (the identity envdeck uses) has a given role, or none."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tui.core.identity import current_user
from tui.core.model import Role
from tui.core.store import DB_NAME

ROLES = ["none", "viewer", "operator", "admin"]
RANK = {"none": -1, "viewer": int(Role.VIEWER), "operator": int(Role.OPERATOR), "admin": int(Role.ADMIN)}
OTHER = "envdeck-nobody-else"


def access(role: str) -> dict[str, list[str]]:
    me = current_user()
    assert me != OTHER
    if role == "none":
        return {"admin": [OTHER]}
    return {role: [me], "admin": [OTHER]} if role != "admin" else {"admin": [me]}


def allowed(role: str, needed: str, read_only: bool = False) -> bool:
    return not read_only and RANK[role] >= RANK[needed]


def write_config(path: Path, envs: dict[str, dict[str, Any]]) -> Path:
    """JSON is YAML: the loader reads it like any config file."""
    path.write_text(json.dumps({"environments": envs}, indent=2))
    path.chmod(0o600)
    return path


def audit_rows(state_dir: Path) -> list[dict[str, Any]]:
    """The audit table as stored (read directly: `envdeck audit` hides environments the
    user has no role in, which is itself under test)."""
    path = state_dir / DB_NAME
    if not path.exists():
        return []
    db = sqlite3.connect(path, timeout=30)
    db.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in db.execute("SELECT * FROM audit ORDER BY id")]
    finally:
        db.close()
