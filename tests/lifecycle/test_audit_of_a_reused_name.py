"""A destroyed created environment's name, created again by someone else, is a new environment
(a new instance): its creator reads its audit trail from its creation on, never the earlier
one's rows (who acted, the parameters it was created with); the earlier one's creator still reads
theirs, and only theirs. `audit --env` and plain `audit` alike (Session.audit_entries, what the CLI reads)."""

from __future__ import annotations

import pytest

from tests.lifecycle.service_lab import Lab
from tui.core.errors import PolicyDenied
from tui.core.lifecycle.records import EnvLifecycleState
from tui.core.policy import hidden_environment_message

SECRET_BRANCH = "carl-secret-branch"


@pytest.fixture
async def lab(any_store, monkeypatch):
    """The service lab on both engines (SQLite, and PostgreSQL as a team shares it)."""
    if any_store.url:
        monkeypatch.setenv("ENVDECK_STATE_URL", any_store.url)
    async with Lab(any_store.state_dir) as lab:
        yield lab


async def test_a_new_creator_of_a_destroyed_name_reads_only_the_new_environments_rows(lab):
    carl = await lab.session("carl")
    await carl.env_create("pr-1", "preview", {"branch": SECRET_BRANCH}, wait=True)
    assert (await carl.env_destroy("pr-1", wait=True)).state == EnvLifecycleState.DESTROYED
    earlier = await carl.audit_entries("pr-1", limit=500)
    assert any(r["user"] == "carl" and r["action"] == "env.create" for r in earlier)

    ann = await lab.session("ann")  # a creator of the template, no role in carl's pr-1
    with pytest.raises(PolicyDenied) as hidden:
        await ann.audit_entries("pr-1")
    assert str(hidden.value) == hidden_environment_message("pr-1")
    await ann.env_create("pr-1", "preview", {"branch": "ann-branch"}, wait=True)

    for rows in (await ann.audit_entries("pr-1", limit=500), await ann.audit_entries(limit=500)):
        mine = [r for r in rows if r["env"] == "pr-1"]
        assert mine and {r["user"] for r in mine} == {"ann"}, mine
        assert SECRET_BRANCH not in str(mine), mine
        assert [r["action"] for r in mine].count("env.create") == 1, mine
        assert {r["id"] for r in mine}.isdisjoint({r["id"] for r in earlier}), mine
    # the limit counts rows shown: the newest 3 of hers, not 3 read of which some were left out
    assert [r["id"] for r in await ann.audit_entries("pr-1", limit=3)] == \
        [r["id"] for r in await ann.audit_entries("pr-1", limit=500)][:3]
    # read in batches (audit --json): the same rows
    batch = await ann.audit_entries("pr-1", limit=2)
    rest = await ann.audit_entries("pr-1", limit=500, before_id=batch[-1]["id"])
    assert [r["id"] for r in batch + rest] == [r["id"] for r in await ann.audit_entries("pr-1", limit=500)]

    # vic, viewer of both by the template's access: the current environment's rows only
    vic = await lab.session("vic")
    seen = await vic.audit_entries("pr-1", limit=500)
    assert seen and SECRET_BRANCH not in str(seen) and {r["user"] for r in seen} == {"ann"}, seen
    # carl created the earlier pr-1: he reads its rows still, and none of ann's
    # (and ann's refused read of it, made while it was the earlier one's: an attempt on his trail)
    theirs = await carl.audit_entries("pr-1", limit=500)
    assert {r["id"] for r in earlier} <= {r["id"] for r in theirs}, theirs
    assert [(r["user"], r["action"], r["result"]) for r in theirs if r["user"] != "carl"] == [
        ("ann", "access", "denied")], theirs
    assert [r["id"] for r in await carl.audit_entries(limit=500) if r["env"] == "pr-1"] == [r["id"] for r in theirs]
    # dave had a role in neither: refused as before
    dave = await lab.session("dave")
    with pytest.raises(PolicyDenied):
        await dave.audit_entries("pr-1")
    # the store keeps carl's rows (nothing deleted)
    stored = await ann.store.audit_entries("pr-1", limit=500)
    assert any(SECRET_BRANCH in str(r["params"]) for r in stored)


async def test_a_config_environments_trail_is_read_whole(lab):
    ann = await lab.session("ann")  # admin of the declared staging
    await ann.store.audit_record(user="ann", env="staging", target="staging", action="note", params={},
                                 origin="cli", result="succeeded")
    rows = await ann.audit_entries("staging", limit=500)
    assert [r["action"] for r in rows] == [r["action"] for r in await ann.store.audit_entries("staging", limit=500)]
    assert rows


async def test_the_timeline_of_a_reused_name_keeps_only_the_new_environments_entries(lab):
    """What the environment screen's Timeline reads (the store's timeline and audit rows of the
    name), passed through audit_scope.of_current_instance: nothing of carl's environment."""
    from tui.core import audit_scope

    carl = await lab.session("carl")
    await carl.env_create("pr-1", "preview", {"branch": SECRET_BRANCH}, wait=True)
    await carl.env_destroy("pr-1", wait=True)
    old_notes = await carl.store.timeline("pr-1")
    assert old_notes
    # the store keeps whole seconds: the new environment starts in a later second than carl's last note
    # (timeline notes and created_at are on the session's clock, audit rows on the store's)
    lab.clock.advance(5)
    ann = await lab.session("ann")
    await ann.env_create("pr-1", "preview", {"branch": "ann-branch"}, wait=True)
    timeline = await ann.store.timeline("pr-1")
    audit = await ann.store.audit_entries("pr-1", limit=500)
    assert any(SECRET_BRANCH in str(r["params"]) for r in audit)  # in the store, as read
    kept_timeline, kept_audit = await audit_scope.of_current_instance(ann.store, "pr-1", ann.reconciler.declared,
                                                                       timeline, audit)
    assert kept_audit and {r["user"] for r in kept_audit} == {"ann"} and SECRET_BRANCH not in str(kept_audit)
    made = (await ann.env_get("pr-1")).created_at
    assert all(t["at"] >= made.strftime("%Y-%m-%dT%H:%M:%SZ") for t in kept_timeline), kept_timeline
    assert kept_timeline and {t["id"] for t in kept_timeline}.isdisjoint({t["id"] for t in old_notes}), kept_timeline
    assert len(kept_timeline) < len(timeline)
    # a config environment's Timeline is unchanged
    staging = await ann.store.audit_entries("staging", limit=500)
    assert await audit_scope.of_current_instance(ann.store, "staging", ann.reconciler.declared, [], staging) == \
        ([], staging)
