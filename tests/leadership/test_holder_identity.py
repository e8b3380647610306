"""The process that leads an environment and carries out lifecycle steps is named by the OS
user it runs as (the effective uid's passwd entry, tui/core/identity.py), never by $USER or
$LOGNAME, which anyone can set: `USER=bob envdeck agent` run as root must not show
`leader: bob@host:pid`, and `USER=ceo envdeck env create … --wait` must not write
`(by ceo@host:pid)` beside audit rows whose user is root."""

from __future__ import annotations

import os
import pwd

import pytest

from tests.lifecycle.service_lab import Lab, audit
from tui.core.identity import current_user
from tui.core.leadership import Leadership
from tui.core.leases import this_holder
from tui.core.lifecycle.engine import default_holder

FORGED = "forged-ceo"


@pytest.fixture
def forged_env(monkeypatch) -> str:
    """$USER and $LOGNAME claim another user; returns the real one (the euid's login name)."""
    real = pwd.getpwuid(os.geteuid()).pw_name
    assert real != FORGED
    for name in ("USER", "LOGNAME", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, FORGED)
    return real


def test_the_holder_and_the_user_are_the_effective_uids_name_whatever_USER_says(forged_env):
    assert current_user() == forged_env
    for holder in (this_holder(), default_holder()):
        assert holder.split("@")[0] == forged_env, holder
        assert FORGED not in holder
        assert holder.endswith(f":{os.getpid()}")


async def test_a_lease_and_the_lifecycle_steps_name_the_real_user(forged_env, tmp_path):
    real = forged_env
    async with Lab(tmp_path) as lab:
        session = await lab.session("carl")
        leadership = Leadership(session.store, lambda: ["staging"])
        assert leadership.holder.split("@")[0] == real
        taken = await session.store.acquire_lease("staging", leadership.holder, 30)
        stored = await session.store.lease("staging")
        assert taken is not None and stored is not None and stored.holder == leadership.holder

        await session.env_create("pr-1", "preview", {"branch": "x"}, wait=True)
        rows = await audit(session, "pr-1", "lifecycle.create")
        assert rows and all(r["user"] == "carl" for r in rows)
        assert all(r["params"]["by"].split("@")[0] == real for r in rows), rows
        assert all(f"(by {real}@" in r["message"] and FORGED not in r["message"] for r in rows), rows
        notes = [t for t in await session.store.timeline("pr-1") if t["kind"] == "lifecycle"]
        assert notes and all(FORGED not in t["message"] and f"by {real}@" in t["message"] for t in notes), notes
