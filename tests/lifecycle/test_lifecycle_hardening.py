"""Findings of an adversarial review of the lifecycle, each pinned:

- a template parameter named like a secret is refused by `envdeck check` (PATH:LINE:COL);
  a secret-looking value is `***` in every display of parameters (`to_json`);
- the audit trail of a destroyed environment stays readable by who had a role in it, and
  only by them (same words for unknown and hidden);
- the engine's audit rows and timeline notes name the process that carried the operation
  out (`by`: the lease holder) beside the requester;
- extend never moves the expiry earlier; a create's capped TTL is said;
- plan refuses a name create would refuse (a config environment, a live created one).

Real store; the in-memory provisioner (tests/lifecycle/memory_provisioner.py); users are
sessions of the lab (tests/lifecycle/service_lab.py)."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest

from tests.lifecycle.service_lab import Lab, audit, created
from tests.lifecycle.test_template_config import ISSUE_EXAMPLE, problems, write_config
from tui.core.errors import InvalidRequest, LifecycleFailed, PolicyDenied
from tui.core.lifecycle.records import EnvLifecycleState
from tui.core.lifecycle.service import ttl_cap_note
from tui.core.policy import hidden_environment_message

SECRET = "sk_live_abcdefghijklmnop1234"


@pytest.fixture
async def lab(tmp_path):
    async with Lab(tmp_path) as made:
        yield made


# -- 3: secrets are not template parameters; secret-looking values are never shown ------------------

@pytest.mark.parametrize("pname", ["password", "db_password", "apiToken", "client_secret", "ssh_key"])
def test_check_refuses_a_secret_named_parameter_at_its_key(tmp_path, pname):
    text = ISSUE_EXAMPLE.replace("      branch: {type: string", f"      {pname}: {{type: string}}\n"
                                 "      branch: {type: string")
    found = problems(write_config(tmp_path, text))
    assert found == [f"5:7: templates.preview.parameters.{pname}: parameter {pname!r} looks like a secret: "
                     "pass secrets by reference: the name of a Kubernetes Secret or a Secrets Manager ARN; "
                     "envdeck stores parameters (and they come on the command line); a name ending in _ref, "
                     "_arn or _name says it holds a reference"]


@pytest.mark.parametrize("pname", ["db_secret_name", "api_token_arn", "dbPasswordRef", "branch", "compass"])
def test_a_parameter_holding_a_reference_or_nothing_secret_passes(tmp_path, pname):
    text = ISSUE_EXAMPLE.replace("      branch: {type: string", f"      {pname}: {{type: string}}\n"
                                 "      branch: {type: string", 1) if pname != "branch" else ISSUE_EXAMPLE
    path = write_config(tmp_path, text)
    ok = subprocess.run([sys.executable, "-m", "tui.cli", "check", "--config", str(path)],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr


def test_envdeck_check_exits_2_with_the_place(tmp_path):
    text = ISSUE_EXAMPLE.replace("      branch: {type: string", "      password: {type: string}\n"
                                 "      branch: {type: string")
    path = write_config(tmp_path, text)
    bad = subprocess.run([sys.executable, "-m", "tui.cli", "check", "--config", str(path)],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert f"{path}:5:7: templates.preview.parameters.password: parameter 'password' looks like a secret" \
        in bad.stderr
    assert "Traceback" not in bad.stderr


async def test_a_secret_looking_value_is_hidden_wherever_parameters_are_shown(lab):
    carl = await lab.session("carl")
    managed = await carl.env_create("pr-1", "preview", {"branch": "x"}, wait=True)
    managed.parameters["note"] = SECRET  # as a row of an older store or a free-text parameter holds it
    shown = managed.to_json()
    assert shown["parameters"] == {"branch": "x", "note": "***"}
    assert SECRET not in str(shown)
    assert managed.parameters["note"] == SECRET  # the record itself (what resumes) is unchanged


# -- 5: the audit trail of a destroyed environment -------------------------------------------------

async def test_the_trail_of_a_destroyed_environment_stays_readable_by_its_roles(lab):
    await created(lab)
    carl = await lab.session("carl")
    assert (await carl.env_destroy("pr-1", wait=True)).state == EnvLifecycleState.DESTROYED
    for user in ("carl", "vic", "olga"):  # creator/admin, viewer, operator by the stored access
        session = await lab.session(user)
        rows = await session.audit_entries("pr-1", limit=500)
        actions = {r["action"] for r in rows}
        assert {"env.create", "env.destroy", "lifecycle.destroy"} <= actions, (user, actions)
        everything = await session.audit_entries(limit=500)
        assert any(r["env"] == "pr-1" and r["action"] == "env.destroy" for r in everything), user
    dave = await lab.session("dave")
    with pytest.raises(PolicyDenied) as hidden:
        await dave.audit_entries("pr-1")
    with pytest.raises(PolicyDenied) as unknown:
        await dave.audit_entries("never-was")
    assert str(hidden.value) == hidden_environment_message("pr-1")
    assert str(unknown.value) == hidden_environment_message("never-was")
    assert not any(r["env"] == "pr-1" for r in await dave.audit_entries(limit=500))
    denied = [r for r in await carl.store.audit_entries("pr-1", limit=500) if r["result"] == "denied"]
    assert [(r["user"], r["action"]) for r in denied] == [("dave", "access")]


# -- 6: who carried the operation out --------------------------------------------------------------

async def test_engine_rows_name_the_process_that_carried_out_anothers_request(lab):
    carl = await lab.session("carl")
    await carl.env_create("pr-1", "preview", {"branch": "x"}, wait=False)
    other = await lab.session("olga")  # another user's `reconcile` on the shared store
    other.reconciler.lifecycle.engine.holder = "mallory@elsewhere:1234"
    await other.reconcile_once(repair=False)
    assert (await carl.env_get("pr-1")).state == EnvLifecycleState.READY
    rows = await audit(carl, "pr-1", "lifecycle.create")
    assert rows and all(r["user"] == "carl" for r in rows)
    assert all(r["params"]["by"] == "mallory@elsewhere:1234" for r in rows), rows
    assert all("by mallory@elsewhere:1234" in r["message"] for r in rows), rows
    notes = [t for t in await carl.store.timeline("pr-1") if t["kind"] == "lifecycle"]
    assert notes and all("(by mallory@elsewhere:1234)" in t["message"] for t in notes), notes
    # env list's step rows are unchanged: no holder in them
    assert all("mallory" not in str(s.to_json()) for s in (await carl.env_get("pr-1")).steps)


async def test_a_failed_step_row_names_the_process_too(lab):
    carl = await lab.session("carl")
    lab.mworld.refuse["web-sg"] = "quota exceeded"
    with pytest.raises(LifecycleFailed):
        await carl.env_create("pr-1", "preview", {"branch": "x"}, wait=True)
    failed = [r for r in await audit(carl, "pr-1", "lifecycle.create") if r["result"] == "failed"]
    holder = carl.reconciler.lifecycle.engine.holder
    assert failed and all("quota exceeded" in r["message"] and r["message"].endswith(f"(by {holder})")
                          for r in failed), failed


# -- 7: extend never shortens; a capped TTL is said ----------------------------------------------------

async def test_extend_that_would_end_it_earlier_is_refused_saying_the_expiry(lab):
    made = await created(lab)  # ttl 1h
    carl = await lab.session("carl")
    expiry = made.expires_at.strftime("%Y-%m-%dT%H:%M")
    with pytest.raises(InvalidRequest, match=f"expires at {expiry}.*already.*earlier"):
        await carl.env_extend("pr-1", 1800)
    assert (await carl.env_get("pr-1")).expires_at == made.expires_at
    assert await audit(carl, "pr-1", "env.extend") == []
    later = await carl.env_extend("pr-1", 5400)
    assert later.expires_at == lab.clock.now + timedelta(minutes=90) > made.expires_at


def test_the_cap_note_says_max_ttl():
    assert ttl_cap_note(7200, 3 * 3600) == "ttl capped to max_ttl 2h"
    assert ttl_cap_note(7200, 3600) == "" and ttl_cap_note(None, 99999) == "" and ttl_cap_note(7200, None) == ""


# -- 9: plan refuses what create refuses ---------------------------------------------------------------

async def test_plan_refuses_a_config_environment_and_a_live_created_one(lab):
    await created(lab)
    carl = await lab.session("carl")
    with pytest.raises(InvalidRequest, match="staging is an environment of the config"):
        await carl.env_plan("staging", "preview", {"branch": "x"})
    with pytest.raises(InvalidRequest, match="an environment named pr-1 exists already"):
        await carl.env_plan("pr-1", "preview", {"branch": "x"})
    plan = await carl.env_plan("pr-2", "preview", {"branch": "x"})
    assert {s.id for s in plan.steps} == {"assets", "web-sg"}
    await carl.env_destroy("pr-1", wait=True)
    assert (await carl.env_plan("pr-1", "preview", {"branch": "x"})).env == "pr-1"  # free again
