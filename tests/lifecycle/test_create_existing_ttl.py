"""`env create`/`env clone` asked again for an environment that exists (same owner, template and
parameters: the create is idempotent and returns it) with a `--ttl`: the expiry it has is kept and
the command says so (stderr, and `notes` in `--json`), never silently; nothing is shortened, and
the way to move the expiry later (`env extend`) is named. Real servers (the Kubernetes emulator)."""

from __future__ import annotations

import json

from tests.lifecycle.conftest import World
from tests.security.access_setup import audit_rows


def _ok(proc, what: str = "") -> None:
    assert proc.returncode == 0, (what, proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr


def _create(world: World, name: str, *extra: str):
    return world.envdeck("env", "create", name, "--template", "note", "--param", "note=hi", *extra)


def test_create_again_with_ttl_says_it_was_not_applied(world: World):
    _ok(_create(world, "ttl-t", "--ttl", "2h", "--wait"), "first create")
    before = world.env_rows()["ttl-t"]["expires_at"]

    proc = _create(world, "ttl-t", "--ttl", "1h")
    _ok(proc, "create again, shorter")
    assert "ttl-t exists: --ttl 1h not applied (expires in 1h" in proc.stderr, proc.stderr
    assert "not shortened" in proc.stderr, proc.stderr
    assert "capped" not in proc.stderr
    assert world.env_rows()["ttl-t"]["expires_at"] == before
    row = audit_rows(world.state_dir)[-1]
    assert (row["action"], row["result"]) == ("env.create", "succeeded")
    assert "ttl-t exists: --ttl 1h not applied" in row["message"], row

    proc = _create(world, "ttl-t", "--ttl", "30m", "--json")
    _ok(proc, "create again, --json")
    row = json.loads(proc.stdout)
    assert row["expires_at"] == before and row["state"] == "ready"
    [note] = row["notes"]
    assert note.startswith("ttl-t exists: --ttl 30m not applied (expires in 1h"), note
    assert note in proc.stderr
    assert {k: v for k, v in row.items() if k != "notes"}.keys() == world.env_rows()["ttl-t"].keys()

    # a --ttl past max_ttl (2h) is not "capped": nothing was applied, and it lives to max_ttl already
    proc = _create(world, "ttl-t", "--ttl", "3h", "--wait")
    _ok(proc, "create again, longer than max_ttl")
    assert "ttl-t exists: --ttl 3h not applied (expires in 1h" in proc.stderr, proc.stderr
    assert "it lives until its max_ttl already, 2h from its creation" in proc.stderr
    assert "capped" not in proc.stderr
    assert world.env_rows()["ttl-t"]["expires_at"] == before

    # without --ttl nothing was asked of the lifetime: nothing to say
    proc = _create(world, "ttl-t")
    _ok(proc, "create again, no --ttl")
    assert "not applied" not in proc.stderr
    assert world.env_rows()["ttl-t"]["expires_at"] == before
    assert len(world.namespaces("ttl-t")) == 1, "nothing was created twice"


def test_create_again_with_a_later_ttl_names_extend(world: World):
    _ok(_create(world, "ttl-l", "--ttl", "30m", "--wait"), "first create")
    before = world.env_rows()["ttl-l"]["expires_at"]
    proc = _create(world, "ttl-l", "--ttl", "1h", "--json")
    _ok(proc)
    [note] = json.loads(proc.stdout)["notes"]
    assert note.startswith("ttl-l exists: --ttl 1h not applied (expires in 2"), note
    assert "`envdeck env extend ttl-l 1h`" in note
    assert world.env_rows()["ttl-l"]["expires_at"] == before
    _ok(world.envdeck("env", "extend", "ttl-l", "1h"), "the command the note names works")
    assert world.env_rows()["ttl-l"]["expires_at"] > before

    # past max_ttl (2h from its creation): extend is named with its bound
    proc = _create(world, "ttl-l", "--ttl", "3h")
    _ok(proc)
    assert "ttl-l exists: --ttl 3h not applied (expires in " in proc.stderr, proc.stderr
    assert "use `envdeck env extend ttl-l DURATION`: at most until " in proc.stderr
    assert "max_ttl 2h from its creation" in proc.stderr


def test_clone_onto_its_own_earlier_clone_says_the_ttl_was_not_applied(world: World):
    _ok(_create(world, "src-t", "--wait"), "source")
    _ok(world.envdeck("env", "clone", "src-t", "copy-t", "--ttl", "2h", "--wait"), "first clone")
    before = world.env_rows()["copy-t"]["expires_at"]
    proc = world.envdeck("env", "clone", "src-t", "copy-t", "--ttl", "1h", "--json")
    _ok(proc, "clone again")
    [note] = json.loads(proc.stdout)["notes"]
    assert note.startswith("copy-t exists: --ttl 1h not applied (expires in 1h"), note
    assert note in proc.stderr
    assert world.env_rows()["copy-t"]["expires_at"] == before
