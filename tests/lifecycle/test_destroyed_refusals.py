"""`env extend/sleep/wake` of an environment its owner destroyed say what is true ("NAME was
destroyed at TIME; nothing to VERB", exit 2: an operation its state does not allow, like the
service's other `cannot VERB NAME` refusals), not `no environment 'NAME' that you can see`
(exit 3), which stays the answer for a name that never existed; nothing is asked of the
Kubernetes API and no audit row is written."""

from __future__ import annotations

from tests.lifecycle.conftest import World
from tests.security.access_setup import audit_rows


def test_extend_sleep_wake_of_a_destroyed_environment_say_it_was_destroyed(world: World):
    made = world.envdeck("env", "create", "d2", "--template", "note", "--param", "note=x", "--wait")
    assert made.returncode == 0, made.stderr
    gone = world.envdeck("env", "destroy", "d2", "--yes", "--wait")
    assert gone.returncode == 0, gone.stderr
    rows_before = audit_rows(world.state_dir)
    requests_before = len(world.k8s.emu.request_log)

    for verb, extra in (("extend", ["1h"]), ("wake", []), ("sleep", [])):
        refused = world.envdeck("env", verb, "d2", *extra)
        assert refused.returncode == 2, (verb, refused.stdout, refused.stderr)
        [line] = refused.stderr.splitlines()
        assert line.startswith("envdeck: d2 was destroyed at 20"), line
        assert line.endswith(f"; nothing to {verb}"), line
        assert refused.stdout == ""

    assert audit_rows(world.state_dir) == rows_before, "refused before anything: no audit row"
    assert len(world.k8s.emu.request_log) == requests_before, "nothing asked of the Kubernetes API"

    unknown = world.envdeck("env", "extend", "never-made", "1h")
    assert unknown.returncode == 3, unknown.stderr
    assert "no environment 'never-made' that you can see" in unknown.stderr
