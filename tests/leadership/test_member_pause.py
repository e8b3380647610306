"""Team mode on PostgreSQL: a repair pause is a write to the store, which the server lets only the
owner role make (docs/deploy/postgres-roles.sql). `envdeck pause` as a member is refused by the
server with one clear line (exit 1), nothing is paused, and its audit row says `failed` under the
member's database role; the owner's pause is shown to the member by `status --json`."""

from __future__ import annotations

import asyncio
import json

from tests.followers.support import ENV, NS, start_emulator
from tests.leadership.test_store_roles import _cli, _granted, auto_config, member, team  # noqa: F401 - fixtures
from tui.core.store import open_store


async def _pause_and_rows(state_dir, url: str):
    import os

    os.environ["ENVDECK_STATE_URL"] = url
    try:
        store = await open_store(None, state_dir)
    finally:
        del os.environ["ENVDECK_STATE_URL"]
    try:
        pause = await store.pause(ENV)
        rows = [e for e in await store.audit_entries(ENV) if e["action"] in ("pause", "resume")]
    finally:
        await store.close()
    return pause, rows


async def test_a_member_cannot_pause_and_sees_the_owners_pause(postgres_server, pg_database, team, member,  # noqa: F811
                                                               tmp_path):
    owner_url, member_url = await _granted(postgres_server, pg_database, team)
    cloud, kubeconfig = start_emulator(tmp_path, "cloud")
    cloud.emu.create_deployment(NS, "web", replicas=2)
    config = tmp_path / "envdeck.yaml"
    config.write_text(auto_config(kubeconfig))
    state_dir = tmp_path / "state"
    try:
        done = await asyncio.to_thread(_cli, config, state_dir, member_url, "pause", ENV, "--reason", "incident")
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert "the store refuses this role" in done.stderr and "repair_pauses" in done.stderr, done.stderr
        pause, rows = await _pause_and_rows(state_dir, owner_url)
        assert pause is None
        assert [(r["action"], r["result"], r["db_user"]) for r in rows] == [("pause", "failed", member)], rows

        done = await asyncio.to_thread(_cli, config, state_dir, owner_url, "pause", ENV, "--reason", "incident")
        assert done.returncode == 0, done.stderr
        done = await asyncio.to_thread(_cli, config, state_dir, member_url, "status", "--json", "--env", ENV)
        shown = json.loads(done.stdout)["environments"][0]
        assert shown["paused"] is True and shown["pause"]["reason"] == "incident", shown
    finally:
        cloud.stop()
