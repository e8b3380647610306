"""The lifecycle service through Session.env_* (tui/core/lifecycle/service.py): the access
matrix of every lifecycle verb (creator, admin, operator, viewer, no role, read-only), denials
audited with no provisioner call, TTL and max_ttl, created environments first-class in the
session (environments(), states(), roles from the template's access).

Real store; the in-memory provisioner (tests/lifecycle/memory_provisioner.py) counts the
calls; the observing side is the in-memory backend of the core tests."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.lifecycle.service_lab import Lab, audit, config, created
from tui.core.errors import InvalidRequest, NotFound, PolicyDenied
from tui.core.lifecycle.effective import effective_config
from tui.core.lifecycle.records import EnvLifecycleState, ManagedEnvironment, Operation
from tui.core.lifecycle.render import render
from tui.core.model import Origin, Role, now_utc


@pytest.fixture
async def lab(tmp_path):
    async with Lab(tmp_path) as made:
        yield made


# -- create -----------------------------------------------------------------------------------

async def test_a_creator_creates_and_becomes_admin(lab):
    carl = await lab.session("carl")
    managed = await carl.env_create("pr-1", "preview", {"branch": "feature-x"}, wait=True)
    assert managed.state == EnvLifecycleState.READY and managed.owner == "carl"
    assert lab.mworld.creates == {"assets": 1, "web-sg": 1}
    # first-class in the session that created it: observed, with the template's roles
    assert "pr-1" in carl.environments() and "pr-1" in carl.states()
    assert carl.policy.role("pr-1") == Role.ADMIN
    rows = await audit(carl, "pr-1", "env.create")
    assert [(r["user"], r["result"], r["origin"]) for r in rows] == [("carl", "succeeded", "cli")]
    assert rows[0]["params"]["template"] == "preview"


@pytest.mark.parametrize(("user", "read_only", "reason"), [
    ("dave", False, "dave may not create environments from template preview"),
    ("olga", False, "olga may not create environments from template preview"),
    ("carl", True, "envdeck runs --read-only"),
])
async def test_create_refused_audited_with_no_provisioner_call(lab, user, read_only, reason):
    session = await lab.session(user, read_only=read_only)
    with pytest.raises(PolicyDenied, match=reason):
        await session.env_create("pr-1", "preview", {"branch": "x"}, wait=True)
    assert lab.mworld.calls == []
    assert await session.lifecycle._lstore.get("pr-1") is None
    rows = await audit(session, "pr-1", "env.create")
    assert [(r["user"], r["result"], r["message"]) for r in rows] == [(user, "denied", reason)]


async def test_creators_star_lets_anyone_create(lab):
    dave = await lab.session("dave")
    managed = await dave.env_create("pr-2", "open", {}, wait=True)
    assert managed.state == EnvLifecycleState.READY
    # no access in the template: its creator alone is admin
    assert dave.policy.role("pr-2") == Role.ADMIN
    vic = await lab.session("vic")
    assert "pr-2" not in vic.environments()


async def test_templates_say_who_may_create(lab):
    choices = {c.name: c.decision for c in (await lab.session("dave")).templates()}
    assert choices["open"].allowed and not choices["preview"].allowed
    assert "may not create" in choices["preview"].reason
    read_only = {c.name: c.decision for c in (await lab.session("carl", read_only=True)).templates()}
    assert not read_only["preview"].allowed and read_only["preview"].reason == "envdeck runs --read-only"


async def test_bad_requests_store_nothing(lab):
    carl = await lab.session("carl")
    with pytest.raises(InvalidRequest, match="no such template"):
        await carl.env_create("pr-1", "nope", {})
    with pytest.raises(InvalidRequest, match="branch"):
        await carl.env_create("pr-1", "preview", {"branch": "Not Valid!"})
    with pytest.raises(InvalidRequest, match="staging is an environment of the config"):
        await carl.env_create("staging", "preview", {"branch": "x"})
    with pytest.raises(InvalidRequest, match="--ttl must be a positive"):
        await carl.env_create("pr-1", "preview", {"branch": "x"}, ttl_s=0)
    await carl.env_create("pr-1", "preview", {"branch": "x"})
    with pytest.raises(InvalidRequest, match="pr-1 exists already"):
        await carl.env_create("pr-1", "preview", {"branch": "y"})
    assert lab.mworld.calls == []
    assert [r["action"] for r in await carl.store.audit_entries(limit=50)] == ["env.create"]


async def test_ttl_from_the_template_or_the_request_capped_by_max_ttl(lab):
    carl = await lab.session("carl")
    default = await carl.env_create("pr-1", "preview", {"branch": "x"})
    assert default.expires_at - default.created_at == timedelta(hours=1)
    short = await carl.env_create("pr-2", "preview", {"branch": "x"}, ttl_s=600)
    assert short.expires_at - short.created_at == timedelta(minutes=10)
    capped = await carl.env_create("pr-3", "preview", {"branch": "x"}, ttl_s=86400)
    assert capped.expires_at - capped.created_at == timedelta(hours=2)
    rows = await audit(carl, "pr-3", "env.create")
    assert "ttl capped to max_ttl 2h" in rows[0]["message"]


async def test_plan_needs_only_a_known_template(lab):
    dave = await lab.session("dave", read_only=True)
    plan = await dave.env_plan("pr-9", "preview", {"branch": "x"})
    assert sorted(step.id for step in plan.steps) == ["assets", "web-sg"]
    with pytest.raises(InvalidRequest, match="no such template"):
        await dave.env_plan("pr-9", "nope", {})
    assert lab.mworld.calls == [] and await dave.store.audit_entries(limit=10) == []


# -- destroy, sleep, wake, extend -------------------------------------------------------------

VERBS = {
    "destroy": lambda s: s.env_destroy("pr-1", wait=True),
    "sleep": lambda s: s.env_sleep("pr-1", wait=True),
    "wake": lambda s: s.env_wake("pr-1", wait=True),
    "extend": lambda s: s.env_extend("pr-1", 600),
}


@pytest.mark.parametrize("verb", sorted(VERBS))
@pytest.mark.parametrize(("user", "read_only", "reason"), [
    ("olga", False, "needs the admin role; olga is operator in pr-1"),
    ("vic", False, "needs the admin role; vic is viewer in pr-1"),
    ("dave", False, "no environment 'pr-1' that you can see"),
    ("carl", True, "envdeck runs --read-only"),
])
async def test_admin_verbs_refused_audited_with_no_provisioner_call(lab, verb, user, read_only, reason):
    await created(lab)
    calls = list(lab.mworld.calls)
    session = await lab.session(user, read_only=read_only)
    with pytest.raises(PolicyDenied, match=reason):
        await VERBS[verb](session)
    assert lab.mworld.calls == calls
    managed = await (await lab.session("carl")).env_get("pr-1")
    assert managed.state == EnvLifecycleState.READY and managed.operation is None
    rows = await audit(session, "pr-1", f"env.{verb}")
    assert [(r["user"], r["result"]) for r in rows] == [(user, "denied")]


async def test_the_admin_sleeps_wakes_extends_and_destroys(lab):
    await created(lab)
    carl = await lab.session("carl")
    assert (await carl.env_sleep("pr-1", wait=True)).state == EnvLifecycleState.SLEEPING
    assert ("sleep", "aws") in lab.mworld.calls
    with pytest.raises(InvalidRequest, match="cannot sleep pr-1"):
        await carl.env_sleep("pr-1")
    assert (await carl.env_wake("pr-1", wait=True)).state == EnvLifecycleState.READY
    extended = await carl.env_extend("pr-1", 5400)  # later than the 1h TTL, within max_ttl 2h
    assert extended.expires_at == lab.clock.now + timedelta(minutes=90)
    destroyed = await carl.env_destroy("pr-1", wait=True)
    assert destroyed.state == EnvLifecycleState.DESTROYED
    assert lab.mworld.live("pr-1") == []
    assert "pr-1" not in carl.environments()
    results = {a: [r["result"] for r in await audit(carl, "pr-1", a)]
               for a in ("env.sleep", "env.wake", "env.extend", "env.destroy")}
    assert results == {a: ["succeeded"] for a in results}


async def test_extend_is_capped_at_created_plus_max_ttl(lab):
    created_env = await created(lab)
    carl = await lab.session("carl")
    lab.clock.advance(3600)
    ok = await carl.env_extend("pr-1", 3600)   # now + 1h = created + 2h: exactly the cap
    assert ok.expires_at == created_env.created_at + timedelta(hours=2)
    cap = (created_env.created_at + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    with pytest.raises(InvalidRequest, match=f"until {cap}.*max_ttl 2h"):
        await carl.env_extend("pr-1", 3601)
    assert (await carl.env_get("pr-1")).expires_at == ok.expires_at
    with pytest.raises(InvalidRequest, match="must be positive"):
        await carl.env_extend("pr-1", 0)


async def test_a_config_environment_is_not_destroyed_by_the_lifecycle(lab):
    ann = await lab.session("ann")
    with pytest.raises(InvalidRequest, match="declared in the config"):
        await ann.env_destroy("staging")
    dave = await lab.session("dave")
    with pytest.raises(PolicyDenied, match="no environment 'staging' that you can see"):
        await dave.env_destroy("staging")
    assert lab.mworld.calls == []


# -- first-class everywhere ---------------------------------------------------------------------

async def test_created_environment_is_first_class_in_new_sessions_with_the_templates_roles(lab):
    await created(lab)
    roles = {}
    for user in ("carl", "olga", "vic", "dave"):
        session = await lab.session(user)
        roles[user] = session.policy.role("pr-1") if "pr-1" in session.environments() else None
        if roles[user] is not None:
            assert session.state("pr-1").repair == "auto"
    assert roles == {"carl": Role.ADMIN, "olga": Role.OPERATOR, "vic": Role.VIEWER, "dave": None}
    assert [m.name for m in await (await lab.session("vic")).env_list()] == ["pr-1"]
    assert await (await lab.session("dave")).env_list() == []
    with pytest.raises(NotFound):
        await (await lab.session("dave")).env_get("pr-1")


async def test_clone_of_a_created_environment_renders_its_template_with_its_parameters(lab):
    await created(lab)
    ann = await lab.session("ann")
    with pytest.raises(PolicyDenied, match="no environment 'pr-1' that you can see"):
        await ann.env_clone("pr-1", "pr-2", wait=True)   # a creator, but no role in pr-1
    olga = await lab.session("olga")
    with pytest.raises(PolicyDenied, match="olga may not create"):
        await olga.env_clone("pr-1", "pr-2", wait=True)
    carl = await lab.session("carl")
    clone = await carl.env_clone("pr-1", "pr-2", wait=True)
    assert (clone.template, clone.parameters, clone.state) == ("preview", {"branch": "feature-x"},
                                                                EnvLifecycleState.READY)
    assert lab.mworld.creates == {"assets": 2, "web-sg": 2}
    rows = await audit(carl, "pr-2", "env.clone")   # newest first
    assert [(r["user"], r["result"]) for r in rows] == [("carl", "succeeded"), ("olga", "denied"), ("ann", "denied")]


async def test_clone_of_a_config_environment_needs_an_operator_of_it(lab):
    for user, reason in (("vic", "env.clone needs the operator role; vic is viewer in staging"),
                         ("dave", "no environment 'staging' that you can see")):
        with pytest.raises(PolicyDenied, match=reason):
            await (await lab.session(user)).env_clone("staging", "stg-copy", wait=True)
    assert lab.mworld.calls == []
    olga = await lab.session("olga")
    clone = await olga.env_clone("staging", "stg-copy", wait=True)
    assert clone.state == EnvLifecycleState.READY and clone.owner == "olga"
    assert [(t.kind, t.fields["name"]) for t in lab.mworld.live("stg-copy")] == [("s3-bucket", "stg-copy-assets")]
    assert olga.policy.role("stg-copy") == Role.ADMIN and "stg-copy" in olga.environments()
    rows = await audit(olga, "stg-copy", "env.clone")   # newest first
    assert [(r["user"], r["result"]) for r in rows] == [("olga", "succeeded"), ("dave", "denied"),
                                                        ("vic", "denied")]


async def test_create_without_wait_hands_over(lab):
    carl = await lab.session("carl", origin=Origin.TUI)
    managed = await carl.env_create("pr-1", "preview", {"branch": "x"})
    assert managed.state == EnvLifecycleState.PLANNED and managed.operation == Operation.CREATE
    assert lab.mworld.calls == []
    rows = await audit(carl, "pr-1", "env.create")
    assert rows[0]["result"] == "succeeded" and "handed over" in rows[0]["message"]


# -- the effective config ----------------------------------------------------------------------------

def test_effective_config_adds_live_created_environments_only():
    base = config()

    def managed(name: str, state: EnvLifecycleState, environment: dict | None = None) -> ManagedEnvironment:
        spec = render(base, "preview", name if name != "staging" else "stg", "carl", {"branch": "x"})
        if environment is not None:
            spec.environment = environment
        return ManagedEnvironment(name=name, template="preview", parameters={"branch": "x"}, owner="carl",
                                  state=state, spec=spec, created_at=now_utc())

    rows = [managed("pr-1", EnvLifecycleState.PLANNED), managed("pr-2", EnvLifecycleState.DESTROYED),
            managed("pr-3", EnvLifecycleState.SLEEPING), managed("staging", EnvLifecycleState.READY),
            managed("pr-4", EnvLifecycleState.READY, {"repair": "sometimes"})]
    effective = effective_config(base, rows)
    assert list(effective.environments) == ["staging", "pr-1", "pr-3"]
    assert effective.environments["staging"] is base.environments["staging"]   # the config's wins
    assert effective.environments["pr-1"].access.admin == ["carl"]
    assert effective.templates == base.templates and list(base.environments) == ["staging"]

