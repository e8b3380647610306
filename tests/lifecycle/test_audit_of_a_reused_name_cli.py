"""The audit trail of a reused name, through the CLI on real servers (moto): another user
(OTHER, as tests/security/access_setup.py names one; a Session of theirs on the same state
directory) creates `sec1` from a template that makes only its creator admin, with a parameter
of their own, and destroys it. This test's OS user cannot read that trail; creating `sec1`
themselves gives them a new environment, whose trail they read — and nothing of the earlier one:
not its rows, not its parameters, in `audit --env`, plain `audit`, text or `--json`; the earlier
one's creator still reads theirs, and nothing of the new one."""

from __future__ import annotations

import asyncio
import json

from backends.registry import create_backends, create_provisioner
from tests.lifecycle.conftest import OTHER, World, _parameters
from tui.core.config import load_config
from tui.core.identity import current_user
from tui.core.model import Origin
from tui.core.session import Session

SECRET = "root-secret-branch"


def sec_template(world: World) -> dict:
    bucket = {"id": "assets", "kind": "s3-bucket", "name": "{env}-assets"}
    return {"description": "only its creator's", "parameters": _parameters(), "ttl": "1h",
            "access": {"admin": ["{creator}"]}, "aws": world.aws_section([bucket])}


async def _other(world: World) -> Session:
    return await Session.open(load_config(world.config_path), world.state_dir, origin=Origin.CLI, user=OTHER,
                              backends_factory=create_backends, provisioners=create_provisioner)


async def _theirs(world: World) -> list[int]:
    session = await _other(world)
    try:
        await session.env_create("sec1", "sec", {"branch": SECRET}, wait=True)
        destroyed = await session.env_destroy("sec1", wait=True)
        assert str(destroyed.state) == "destroyed"
        theirs = await session.audit_entries("sec1", limit=500)  # theirs to read, as before
        assert any(SECRET in json.dumps(r["params"]) for r in theirs)
        return [r["id"] for r in theirs]
    finally:
        await session.close()


async def _theirs_after(world: World) -> list[dict]:
    session = await _other(world)
    try:
        return await session.audit_entries("sec1", limit=500)
    finally:
        await session.close()


def test_a_new_creator_of_a_destroyed_name_reads_none_of_the_earlier_trail(world: World):
    me = current_user()
    assert me != OTHER
    config = world.config()
    config["templates"]["sec"] = sec_template(world)
    world.write_config(config)
    theirs = asyncio.run(_theirs(world))

    hidden = world.envdeck("audit", "--env", "sec1")
    assert hidden.returncode == 3 and "no environment 'sec1' that you can see" in hidden.stderr, hidden.stderr
    made = world.envdeck("env", "create", "sec1", "--template", "sec", "--param", "branch=mine", "--wait")
    assert made.returncode == 0, made.stderr

    for args in (("audit", "--env", "sec1", "--json"), ("audit", "--json")):
        done = world.envdeck(*args)
        assert done.returncode == 0, done.stderr
        rows = [r for r in json.loads(done.stdout)["entries"] if r["env"] == "sec1"]
        assert rows and {r["user"] for r in rows} == {me}, rows
        assert [r["action"] for r in rows].count("env.create") == 1, rows
        assert SECRET not in done.stdout and OTHER not in done.stdout, done.stdout
    text = world.envdeck("audit", "--env", "sec1")
    assert text.returncode == 0 and " env.create " in text.stdout, text.stdout
    assert SECRET not in text.stdout and OTHER not in text.stdout, text.stdout
    # the earlier sec1's creator still reads its trail, and nothing of the new one
    after = asyncio.run(_theirs_after(world))
    assert set(theirs) <= {r["id"] for r in after}, after
    assert [(r["user"], r["action"]) for r in after if r["user"] != OTHER] == [(me, "access")], after  # my refused read
