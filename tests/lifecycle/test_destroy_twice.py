"""`envdeck env destroy NAME` of an environment destroyed already says what is true ("NAME is
already destroyed (at TIME)", exit 0: a no-op, like `promote` with nothing to promote), asks
nothing of the servers and writes no `denied` audit row; a name that never existed keeps the
answer of an unknown environment (exit 3, `no environment 'X' that you can see`)."""

from __future__ import annotations

import json

from tests.lifecycle.conftest import World
from tests.security.access_setup import audit_rows


def test_destroy_of_a_destroyed_environment_says_so_and_is_a_no_op(world: World):
    made = world.envdeck("env", "create", "d1", "--template", "note", "--param", "note=x", "--wait")
    assert made.returncode == 0, made.stderr
    gone = world.envdeck("env", "destroy", "d1", "--yes", "--wait")
    assert gone.returncode == 0, gone.stderr
    assert world.namespaces("d1") == []
    rows_before = audit_rows(world.state_dir)
    requests_before = len(world.k8s.emu.request_log)

    again = world.envdeck("env", "destroy", "d1", "--yes")
    assert again.returncode == 0, (again.stdout, again.stderr)
    assert "Traceback" not in again.stderr and "denied" not in again.stderr, again.stderr
    stored = json.loads(world.envdeck("env", "list", "--json").stdout)
    assert all(r["name"] != "d1" for r in stored["environments"]), "destroyed, no orphans: not listed"
    [line] = again.stderr.splitlines()
    assert line.startswith("d1 is already destroyed (at 20") and line.endswith("); nothing was done"), line

    as_json = world.envdeck("env", "destroy", "d1", "--yes", "--wait", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["state"] == "destroyed"
    assert audit_rows(world.state_dir) == rows_before, "a no-op: no audit row (no `denied` one)"
    assert len(world.k8s.emu.request_log) == requests_before, "nothing asked of the Kubernetes API"

    unknown = world.envdeck("env", "destroy", "never-made", "--yes")
    assert unknown.returncode == 3, unknown.stderr
    assert "no environment 'never-made' that you can see" in unknown.stderr
