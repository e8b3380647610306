"""Team mode on PostgreSQL: the server's privileges, not envdeck, decide who may write what
(docs/security.md, "Team mode"). The roles are made by docs/deploy/postgres-roles.sql itself:
the owner (`envdeck`, the test server's store role) migrates and leads; `alice`, a login role
IN envdeck_member, reads, writes audit rows, and nothing else.

- psql-style forgery with the member's own connection: every write a leader makes is refused
  by the server (InsufficientPrivilege); a forged audit row names the member's role in db_user
  (it cannot set the column, nor finish another role's row);
- envdeck as the member: opens the current schema without migrating; an older schema is a
  clear StateError; a lease is refused cleanly (it follows, "read-only member"); it follows a
  leader run as the owner; its action writes an audit row that names it; a promotion is
  refused with "the store refuses this role";
- the CLI as the member: `reconcile --repair` does not lead and says why, an action is audited
  under its role, `act --set-desired` and `env create` exit 1 naming the refused table.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from pathlib import Path

import psycopg
import pytest
from psycopg import errors as pg_errors

from tests.agent.support import KubeEnv, kube_config
from tests.followers.support import ENV, NS, has, open_session, start_emulator, until, until_published
from tests.helpers import envdeck
from tui.core.errors import StateError, StoreRefused
from tui.core.promote.promotion_store import PromotionStore
from tui.core.store import MIGRATIONS, open_store
from tui.core.store_pg import open_pg

MEMBER_PASSWORD = "m3mber-Pa55-alice"
WEB = "kubernetes/Deployment/web"


@pytest.fixture(scope="module")
def member(postgres_server) -> str:
    """A login role of its own in envdeck_member (the group role the SQL file makes)."""
    return postgres_server.member_role("alice", MEMBER_PASSWORD)


@pytest.fixture
def team(postgres_server, pg_database, pgpass, member, monkeypatch):
    """(the owner's URL, the member's URL) on a store migrated by the owner and granted by the SQL file."""
    with pgpass.open("a") as f:
        f.write(f"127.0.0.1:{postgres_server.port}:*:{member}:{MEMBER_PASSWORD}\n")
    owner_url, member_url = postgres_server.url(pg_database), postgres_server.url(pg_database, member)

    async def migrate() -> None:
        db = await open_pg(owner_url, MIGRATIONS)
        await db.close()

    return owner_url, member_url, migrate


async def _granted(postgres_server, pg_database, team):
    owner_url, member_url, migrate = team
    await migrate()
    postgres_server.grant_team(pg_database)
    return owner_url, member_url


async def test_the_server_refuses_a_members_writes_and_names_it_in_the_audit(postgres_server, pg_database, team,
                                                                             member):
    owner_url, member_url = await _granted(postgres_server, pg_database, team)
    forged = [
        "INSERT INTO promotions (id, a, b, \"user\", state, plan, created_at) "
        "VALUES ('p1', 'staging', 'prod', 'root', 'planned', '{}', 'now')",
        "INSERT INTO desired_overlay (env, resource_id, field, value, \"user\", at) "
        "VALUES ('prod', 'x', 'image', '\"evil\"', 'root', 'now')",
        "INSERT INTO leases (env, holder, epoch) VALUES ('prod', 'mallory@x:1', 99)",
        "INSERT INTO settings (key, value) VALUES ('feed:prod', '{}')",
        "INSERT INTO snapshots (env, backend, resource_id, data) VALUES ('prod', 'k', 'r', '{}')",
        "UPDATE leases SET epoch = epoch + 1",
        "DELETE FROM audit",
        "ALTER TABLE audit DISABLE TRIGGER audit_db_user",
    ]
    with psycopg.connect(member_url, autocommit=True) as conn:
        for sql in forged:
            with pytest.raises(pg_errors.InsufficientPrivilege):
                conn.execute(sql)
        assert conn.execute("SELECT count(*) FROM snapshots").fetchone() == (0,)  # reading is allowed
        with pytest.raises(pg_errors.InsufficientPrivilege):  # the column the server fills
            conn.execute("INSERT INTO audit (at, \"user\", env, target, action, origin, result, db_user) "
                         "VALUES ('now', 'root', 'prod', 't', 'deploy', 'cli', 'ok', 'root')")
        conn.execute("INSERT INTO audit (at, \"user\", env, target, action, origin, result) "
                     "VALUES ('now', 'root', 'prod', 't', 'deploy', 'cli', 'ok')")
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("INSERT INTO audit (at, \"user\", env, target, action, origin, result) "
                     "VALUES ('now', 'root', 'prod', 't', 'real', 'agent', 'pending')")
    with psycopg.connect(member_url, autocommit=True) as conn:  # another role's row: not hers to finish
        assert conn.execute("UPDATE audit SET result = 'ok' WHERE action = 'real'").rowcount == 0
    os.environ["ENVDECK_STATE_URL"] = owner_url
    try:
        store = await open_store(None, Path("/nonexistent"), recover=False)
    finally:
        del os.environ["ENVDECK_STATE_URL"]
    try:
        rows = {r["action"]: r for r in await store.audit_entries(limit=10)}
    finally:
        await store.close()
    assert rows["deploy"]["user"] == "root" and rows["deploy"]["db_user"] == member
    assert rows["real"]["db_user"] == "envdeck" and rows["real"]["result"] == "pending"


async def test_a_member_opens_without_migrating_and_never_leads(postgres_server, pg_database, team, monkeypatch):
    owner_url, member_url = await _granted(postgres_server, pg_database, team)
    monkeypatch.setenv("ENVDECK_STATE_URL", member_url)
    store = await open_store(None, Path("/nonexistent"))
    try:
        assert await store.schema_version() == len(MIGRATIONS)
        with pytest.raises(StoreRefused, match="the store refuses this role .*permission denied for table leases"):
            await store.acquire_lease(ENV, "alice@x:1", 10)
    finally:
        await store.close()


async def test_an_older_schema_is_a_clear_error_for_a_member(postgres_server, pg_database, team, member):
    owner_url, member_url, _ = team
    db = await open_pg(owner_url, MIGRATIONS[:-1])
    await db.close()
    postgres_server.psql(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {member}", pg_database)
    with pytest.raises(StateError) as caught:
        await open_pg(member_url, MIGRATIONS)
    assert (f"the store's schema is at {len(MIGRATIONS) - 1}, this envdeck needs {len(MIGRATIONS)}"
            in str(caught.value)) and "an owner must run" in str(caught.value)


async def test_a_member_follows_the_owners_leader_audits_its_action_and_is_refused_leader_writes(
        postgres_server, pg_database, team, member, tmp_path, monkeypatch, caplog):
    owner_url, member_url = await _granted(postgres_server, pg_database, team)
    monkeypatch.setenv("ENVDECK_LEASE_TTL", "15")  # the leader keeps it on a loaded machine
    cloud, kubeconfig = start_emulator(tmp_path, "cloud")
    cloud.emu.create_deployment(NS, "web", replicas=2)
    state_dir = tmp_path / "state"
    try:
        monkeypatch.setenv("ENVDECK_STATE_URL", owner_url)
        leader = await open_session(state_dir, kubeconfig, "root", "agent@ops-1:1")
        try:
            await until(lambda: has(leader, WEB), "the leader's first pass")
            await until_published(leader)
            monkeypatch.setenv("ENVDECK_STATE_URL", member_url)
            follower = await open_session(state_dir, kubeconfig, "alice", "alice@ops-2:2")
            try:
                await until(lambda: has(follower, WEB), "the member follows the leader's snapshot")
                assert follower.state(ENV).to_json()["leader"] == "agent@ops-1:1"
                result = await follower.act(ENV, WEB, "scale", {"replicas": 3})
                assert result.ok, result.message
                assert cloud.emu.get("deployments", NS, "web")["spec"]["replicas"] == 3
                rows = [r for r in await follower.store.audit_entries(ENV) if r["action"] == "scale"]
                assert rows and rows[0]["user"] == "alice" and rows[0]["db_user"] == member
                assert rows[0]["result"] == "succeeded"  # finished by the member (its own row)
                with pytest.raises(StoreRefused, match="the store refuses this role"):
                    await follower.store.acquire_lease("prod", "alice@ops-2:2", 10)
                with pytest.raises(StoreRefused, match="permission denied for table desired_overlay"):
                    await follower.store.set_overlay(ENV, WEB, "replicas", 9, user="alice")
                with pytest.raises(StoreRefused, match="permission denied for table promotions"):
                    await PromotionStore(follower.store).take_lease("p1", "alice@ops-2:2", 10)
            finally:
                await follower.close()
        finally:
            await leader.close()
        # no live leader: the member still does not lead, and says why
        follower = await open_session(state_dir, kubeconfig, "alice", "alice@ops-2:2")
        try:
            leadership = follower.reconciler.leadership
            assert not await leadership.claim(ENV)
            assert leadership.member and "read-only member" in leadership.view(ENV).note
            caplog.clear()
            await follower.observe()  # it observes the cloud itself, records nothing, logs no error
            assert has(follower, WEB)
            assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
        finally:
            await follower.close()
    finally:
        cloud.stop()


def auto_config(kubeconfig) -> str:
    """staging on auto (web desired at 2 replicas) and a `scratch` template."""
    return kube_config(kubeconfig, {"staging": KubeEnv(NS, "auto", {"web": 2})},
                       defaults={"interval": "30s", "timeout": "5s", "max_backoff": "2s"},
                       templates={"scratch": "scratch-{env}"})

def _cli(config: Path, state_dir: Path, url: str, *args: str) -> subprocess.CompletedProcess:
    return envdeck("--config", str(config), "--state-dir", str(state_dir), *args, timeout=120,
                   ENVDECK_STATE_URL=url, ENVDECK_LEASE_TTL="3")


async def test_the_cli_as_a_member_audits_its_action_and_is_refused_leader_writes_cleanly(
        postgres_server, pg_database, team, member, tmp_path):
    owner_url, member_url = await _granted(postgres_server, pg_database, team)
    cloud, kubeconfig = start_emulator(tmp_path, "cloud")
    cloud.emu.create_deployment(NS, "web", replicas=1)  # drifted: desired 2
    config = tmp_path / "envdeck.yaml"
    config.write_text(auto_config(kubeconfig))
    state_dir = tmp_path / "state"
    try:
        # no live leader: the member's repair pass does not lead, says why, no traceback
        done = await asyncio.to_thread(_cli, config, state_dir, member_url, "reconcile", "--once", "--repair")
        assert "Traceback" not in done.stderr + done.stdout
        assert "read-only member" in done.stderr + done.stdout, (done.stdout, done.stderr)
        assert cloud.emu.get("deployments", NS, "web")["spec"]["replicas"] == 1  # not repaired by a member
        # an action: done with the member's own credentials, audited under its database role
        done = await asyncio.to_thread(_cli, config, state_dir, member_url, "act", ENV, WEB, "scale",
                                       "--param", "replicas=2", "--yes")
        assert done.returncode == 0, done.stderr
        assert cloud.emu.get("deployments", NS, "web")["spec"]["replicas"] == 2
        # keeping the value as the desired state is a leader's write: refused, named, exit 1
        done = await asyncio.to_thread(_cli, config, state_dir, member_url, "act", ENV, WEB, "scale",
                                       "--param", "replicas=4", "--yes", "--set-desired")
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert "the store refuses this role" in done.stderr and "desired_overlay" in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr  # one line, no driver noise
        assert cloud.emu.get("deployments", NS, "web")["spec"]["replicas"] == 2  # refused before the action
        # so is creating an environment: refused before anything is made
        done = await asyncio.to_thread(_cli, config, state_dir, member_url, "env", "create", "tmp1",
                                       "--template", "scratch", "--wait")
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert "the store refuses this role" in done.stderr and "table managed_env" in done.stderr, done.stderr
        assert "scratch-tmp1" not in str(cloud.emu.request_log)
        done = await asyncio.to_thread(_cli, config, state_dir, member_url, "audit", "--env", ENV)
        assert done.returncode == 0, done.stderr
        assert f"[db role {member}]" in done.stdout and " scale " in done.stdout, done.stdout
        assert any(" failed " in line and "set-desired" in line and "desired_overlay" in line
                   for line in done.stdout.splitlines()), done.stdout
    finally:
        cloud.stop()
