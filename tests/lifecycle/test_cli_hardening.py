"""The findings of an adversarial review as a user meets them: the real CLI in a subprocess
against the lifecycle world (tests/lifecycle/conftest.py; the `note` template: a namespace
and a ConfigMap carrying a free-text parameter, max_ttl 2h). A secret-looking value never
shows in `env list --json`, the command's JSON or `audit`; a capped TTL is said; extend never
shortens; plan refuses a live name; the audit trail of a destroyed environment stays
readable, its engine rows naming the process that carried the steps out."""

from __future__ import annotations

import json

from tests.lifecycle.conftest import World

TOKEN = "sk_live_abcdefghijklmnop1234"


def _ok(proc, what: str = "") -> None:
    assert proc.returncode == 0, (what, proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr


def test_secret_values_cap_extend_plan_and_the_trail_of_a_destroy(world: World):
    made = world.envdeck("env", "create", "n1", "--template", "note", "--param", f"note={TOKEN}",
                         "--ttl", "3h", "--wait", "--json")
    _ok(made, "create")
    row = json.loads(made.stdout)
    assert row["notes"] == ["ttl capped to max_ttl 2h"] and "n1: ttl capped to max_ttl 2h" in made.stderr
    assert row["parameters"] == {"note": "***"} and TOKEN not in made.stdout + made.stderr
    listed = world.envdeck("env", "list", "--json")
    _ok(listed, "list")
    assert json.loads(listed.stdout)["environments"][0]["parameters"] == {"note": "***"}
    assert TOKEN not in listed.stdout

    plan = world.envdeck("env", "plan", "n1", "--template", "note", "--param", "note=x")
    assert plan.returncode == 2 and "an environment named n1 exists already" in plan.stderr, plan.stderr

    expires = row["expires_at"]
    short = world.envdeck("env", "extend", "n1", "30m")
    assert short.returncode == 2 and f"expires at {expires} already" in short.stderr, short.stderr
    assert world.env_rows()["n1"]["expires_at"] == expires

    _ok(world.envdeck("env", "destroy", "n1", "--yes", "--wait"), "destroy")
    trail = world.envdeck("audit", "--env", "n1", "--json", "--limit", "500")
    _ok(trail, "audit --env of a destroyed environment")
    entries = json.loads(trail.stdout)["entries"]
    actions = {e["action"] for e in entries}
    assert {"env.create", "env.destroy", "lifecycle.create", "lifecycle.destroy"} <= actions, actions
    engine_rows = [e for e in entries if e["action"].startswith("lifecycle.")]
    assert all("@" in e["params"]["by"] and f"(by {e['params']['by']})" in e["message"]
               or e["message"] == f"by {e['params']['by']}" for e in engine_rows), engine_rows
    everything = world.envdeck("audit", "--json", "--limit", "500")
    _ok(everything, "audit")
    assert any(e["env"] == "n1" and e["action"] == "env.destroy" for e in json.loads(everything.stdout)["entries"])
    assert TOKEN not in trail.stdout + everything.stdout
    unknown = world.envdeck("audit", "--env", "never-was")
    assert unknown.returncode == 3 and "never-was" in unknown.stderr, unknown.stderr
