"""A team member's database role may INSERT audit rows by hand, with any `user` and `at`: a forged
`env.create` row of a name must not move where its instance's trail starts (root would read alice's
earlier instance) nor make its `user` the creator of an earlier instance (mallory would read
alice's rows). Only rows of a role that can create environments count as boundaries (SQLite: every
row; PostgreSQL: the owner of `managed_env`), and never one dated in the future."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.lifecycle.service_lab import Lab
from tests.store.hand_rows import forge
from tui.core import audit_scope
from tui.core.errors import PolicyDenied
from tui.core.model import iso

SECRET_BRANCH = "carl-secret-branch"
FUTURE = "2099-01-01T00:00:00Z"


@pytest.fixture
async def lab(any_store, monkeypatch):
    if any_store.url:
        monkeypatch.setenv("ENVDECK_STATE_URL", any_store.url)
    async with Lab(any_store.state_dir) as lab:
        yield lab


def forged_create(lab, any_store, request, user: str, at: str) -> None:
    """psql as another role than envdeck's (PostgreSQL), or sqlite3 on the lab's file."""
    forge(replace(any_store, state_dir=lab.state_dir), request, f"'{at}','{user}','pr-1','pr-1','env.create','{{}}','cli','succeeded','',NULL")


async def test_a_forged_future_create_row_does_not_open_an_earlier_instance(lab, any_store, request):
    carl = await lab.session("carl")
    forged_create(lab, any_store, request, "ann", FUTURE)  # before carl's pr-1, in ann's name
    await carl.env_create("pr-1", "preview", {"branch": SECRET_BRANCH}, wait=True)
    await carl.env_destroy("pr-1", wait=True)
    lab.clock.advance(5)
    ann = await lab.session("ann")
    await ann.env_create("pr-1", "preview", {"branch": "ann-branch"}, wait=True)

    rows = [r for r in await ann.audit_entries("pr-1", limit=500) if r["env"] == "pr-1"]
    assert rows and SECRET_BRANCH not in str(rows), rows
    assert {r["user"] for r in rows} == {"ann"} and [r["action"] for r in rows].count("env.create") == 1, rows
    # the environment screen's Timeline reads the same way
    stored = await ann.store.audit_entries("pr-1", limit=500)
    assert any(SECRET_BRANCH in str(r["params"]) for r in stored)
    _, kept = await audit_scope.of_current_instance(ann.store, "pr-1", ann.reconciler.declared, [], stored)
    assert kept and SECRET_BRANCH not in str(kept) and {r["user"] for r in kept} == {"ann"}, kept


async def test_a_forged_create_row_does_not_give_its_user_an_earlier_instance(lab, any_store, request):
    carl = await lab.session("carl")
    await carl.env_create("pr-1", "preview", {"branch": SECRET_BRANCH}, wait=True)
    # dave (no role anywhere) writes a create row of pr-1 in his name while carl's pr-1 lives:
    # on PostgreSQL an ordinary time is enough (another role wrote it); SQLite has no other role
    now = iso(lab.clock())
    forged_create(lab, any_store, request, "dave", now if any_store.kind == "postgres" else FUTURE)
    await carl.store.audit_record(user="carl", env="pr-1", target="pr-1", action="note",
                                  params={"branch": SECRET_BRANCH}, origin="cli", result="succeeded")
    await carl.env_destroy("pr-1", wait=True)
    lab.clock.advance(5)
    ann = await lab.session("ann")
    await ann.env_create("pr-1", "preview", {"branch": "ann-branch"}, wait=True)

    dave = await lab.session("dave")
    with pytest.raises(PolicyDenied):
        await dave.audit_entries("pr-1")
    assert [r for r in await dave.audit_entries(limit=500) if r["env"] == "pr-1"] == []
    # carl still reads his instance whole: the forged row does not end it
    theirs = await carl.audit_entries("pr-1", limit=500)
    assert any(r["action"] == "note" for r in theirs) and any(r["action"] == "env.destroy" for r in theirs), theirs
