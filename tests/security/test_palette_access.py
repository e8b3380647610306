"""Access through the command palette (ctrl+p): every role × every command the palette
offers is allowed exactly as the policy says, like the keys.

What the palette offers (tui/commands.py): environments and their views, `Pause/Resume
reconciling ENV` (operator), `Repair drift in ENV` (admin), a jump to any resource by
name (whose detail screen lists the resource's actions: restart, scale, stop, reboot,
terminate, delete, shell ...), themes and Textual's system commands. It offers no
resource action directly; the inventory test below fails if that changes unnoticed.

Driven through the real app (`create_app`, Pilot, fixed size): the palette is opened
with ctrl+p, the command typed and chosen. Asserted: a denied command never reaches the
backend (the stage's state and recorded calls unchanged) and writes the same `denied`
audit row as the key (origin `tui`, compared row for row with the key path); an allowed
one asks for its confirmation first, a destructive one the typed name; nothing of an
environment where the user has no role is offered.

The backends are the in-memory stage of the TUI tests (tests/tui/stage.py): the
collaborator of the screens under test, with the actions and roles of the real backends
(which are tested against real servers in their own suites). Identity is the OS login
user, as in test_access_matrix.py.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from textual.command import CommandInput, CommandList, CommandPalette
from textual.widgets import OptionList
from textual.worker import WorkerState

from screens.confirm import ConfirmScreen
from screens.environment import EnvironmentScreen
from screens.resource_detail import ResourceDetailScreen
from tests.security.access_setup import ROLES, access, allowed
from tests.tui.pilot import DEADLINE_S, app_ready, dialog_shown, type_text, wait_for_audit, wait_until
from tests.tui.stage import FIXED_NOW, Stage, stage_factory
from tui.app import AppOptions, EnvdeckApp, create_app
from tui.commands import VIEWS
from tui.core.config import parse_config
from tui.core.identity import current_user
from tui.widgets.record_views import DriftTable

SIZE = (120, 36)
HIDDEN = "secret-prod"
# (role, --read-only) of a user who sees `dev`; the `none` role is the visibility test's
CASES = [("viewer", False), ("operator", False), ("admin", False), ("operator", True), ("admin", True)]
CASE_IDS = [f"{r}{'-read-only' if ro else ''}" for r, ro in CASES]
DEV_COMMANDS = {"Open dev", *(f"dev: {view}" for view in VIEWS[1:]), "Pause reconciling dev", "Repair drift in dev"}
RESOURCE_VERBS = ("restart", "scale", "start", "stop", "reboot", "terminate", "delete", "shell", "run",
                  "force-new-deployment", "enable-encryption")


# -- the app ----------------------------------------------------------------------
def palette_config(role: str, repair: str = "propose"):
    def env(name: str, who: str) -> dict:
        return {"repair": repair, "access": access(who),
                "aws": {"region": "us-east-1", "tags": {"env": name}},
                "kubernetes": {"namespace": name},
                "edge": {"nodes": [{"name": "gw-01", "host": "127.0.0.1", "services": ["nginx"]}]}}

    return parse_config(json.dumps({"environments": {"dev": env("dev", role), HIDDEN: env(HIDDEN, "none")}}),
                        "palette.yaml")


def make(state_dir: Path, stage: Stage, role: str, *, read_only: bool = False, repair: str = "propose",
         view: str | None = None) -> EnvdeckApp:
    options = AppOptions(clock=lambda: FIXED_NOW, backends_factory=stage_factory(stage), start_reconciler=False,
                         start_env=None if role == "none" else "dev", start_view=view, testing=True)
    return create_app(palette_config(role, repair), state_dir, read_only=read_only, options=options)


async def audit(app: EnvdeckApp, env: str = "dev") -> list[dict]:
    return await app.session.store.audit_entries(env, limit=100)


def normalized(rows: list[dict]) -> list[dict]:
    """Audit rows without what differs between two runs (id, timestamps)."""
    return [{k: v for k, v in r.items() if k not in ("id", "at", "finished_at")} for r in rows]


def notified(app: EnvdeckApp, text: str) -> bool:
    return any(text in n.message or text in (n.title or "") for n in app._notifications)


# -- the palette ------------------------------------------------------------------
def gathering(palette: CommandPalette) -> bool:
    return any(w.node is palette and w.group == CommandPalette._GATHER_COMMANDS_GROUP
               and w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in palette.app.workers)


def shown(palette: CommandPalette) -> list[tuple[str, str]]:
    """(text, help) of every command the palette lists now."""
    return [(str(o.hit.text), str(o.hit.help or "")) for o in palette.query_one(CommandList).options
            if hasattr(o, "hit")]


async def palette_hits(pilot, query: str) -> list[tuple[str, str]]:
    """Open the palette (ctrl+p) if needed, type `query`, wait for every provider to answer."""
    app = pilot.app
    if not isinstance(app.screen, CommandPalette):
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), "the command palette")
    palette = app.screen
    field = palette.query_one(CommandInput)
    if field.value:
        await pilot.press("ctrl+u")
    if query:
        await type_text(pilot, query)  # one burst; `answered` below waits until the box holds all of it
    commands = palette.query_one(CommandList)

    def answered() -> bool:
        no_matches = commands.option_count == 1 and commands.get_option_at_index(0).id == palette._NO_MATCHES
        return field.value == query and not gathering(palette) and (bool(shown(palette)) or no_matches)

    await wait_until(pilot, answered, f"the palette's answer to {query!r}", explain=lambda: shown(palette))
    await pilot.pause()
    await wait_until(pilot, answered, f"the palette's answer to {query!r}", explain=lambda: shown(palette))
    return shown(palette)


async def run_palette_command(pilot, text: str, query: str | None = None) -> None:
    """Type `query` (default: `text`) in the palette and choose the command of exactly that text."""
    app = pilot.app
    hits = await palette_hits(pilot, query or text)
    commands = app.screen.query_one(CommandList)
    texts = [t for t, _ in hits]
    assert text in texts, f"the palette does not offer {text!r}: {texts}"
    commands.highlighted = texts.index(text)
    await pilot.press("enter")
    await wait_until(pilot, lambda: not isinstance(app.screen, CommandPalette), "the palette to run the command")


# -- what is offered ----------------------------------------------------------------
# "secret" and "prod" match (fuzzily) every command and resource of the hidden environment
HIDDEN_QUERIES = ["", "secret", "prod", f"Repair drift in {HIDDEN}", "bastion"]


@pytest.mark.parametrize("role", ROLES)
async def test_palette_offers_nothing_of_an_environment_without_a_role(tmp_path, role):
    stage = Stage()
    app = make(tmp_path, stage, role)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        assert app.session.environments() == ([] if role == "none" else ["dev"])
        discovered = await palette_hits(pilot, "")
        texts = [t for t, _ in discovered]
        assert "Environments overview" in texts, texts  # the palette answered
        dev = {t for t in texts if t.endswith(" dev") or t.startswith("dev:")}
        assert dev == (set() if role == "none" else DEV_COMMANDS)
        if role != "none":  # the help line says what choosing it will do for this user
            helps = dict(discovered)
            pause_help, repair_help = helps["Pause reconciling dev"], helps["Repair drift in dev"]
            if role in ("operator", "admin"):
                assert pause_help == "operator role; audited", pause_help
            else:
                assert pause_help.startswith("not allowed: ") and "operator" in pause_help, pause_help
            if role == "admin":
                assert repair_help.endswith("; admin role; audited"), repair_help
            else:
                assert "; not allowed: " in repair_help and "admin" in repair_help, repair_help
        # the palette's mutating commands are exactly pause/resume and repair: no resource action
        assert not [t for t in texts if t.lower().startswith(RESOURCE_VERBS)], texts
        for query in HIDDEN_QUERIES:
            hits = await palette_hits(pilot, query) if query else discovered
            leaked = [h for h in hits if HIDDEN in h[0] or HIDDEN in h[1]]
            assert leaked == [], (query, leaked)
            if role == "none":
                assert not [h for h in hits if re.search(r"\bdev\b", h[0] + " " + h[1])], (query, hits)
        # positive control: the resource search does answer for what the user may see
        bastion = [t for t, _ in await palette_hits(pilot, "dev-bastion")]
        assert ("dev-bastion (ec2-instance in dev)" in bastion) is (role != "none"), bastion
        await pilot.press("escape")
    assert stage.performed == [] and stage.replicas == {"web": 3, "api": 1}


# -- pause / resume -------------------------------------------------------------------
async def wait_for_new_audit(pilot, action: str, seen: int) -> list[dict]:
    """dev's audit rows of `action`, newest first, once there are more than `seen` and the
    newest has a final result."""
    async def arrived() -> list[dict]:
        return [r for r in await audit(pilot.app) if r["action"] == action]

    deadline = asyncio.get_running_loop().time() + DEADLINE_S
    while True:
        rows = await arrived()
        if len(rows) > seen and rows[0]["result"] != "pending":
            return rows
        assert asyncio.get_running_loop().time() < deadline, f"no new audit row of {action!r}"
        await pilot.pause(0.05)


async def pause_through(pilot, stage: Stage, surface: str, role: str, read_only: bool, verb: str) -> list[dict]:
    """`Pause/Resume reconciling dev` from the palette, or `p` on the environment screen: the
    one audit row it adds."""
    app = pilot.app
    state = app.session.reconciler.envs["dev"]
    # arranged, in the store every envdeck reads and in this reconciler: paused before a Resume,
    # running before a Pause (the first surface's pause is stored: the second starts from the same state)
    if verb == "Resume":
        await app.session.store.set_pause("dev", user=current_user(), reason="arranged", at=FIXED_NOW)
    else:
        await app.session.store.remove_pause("dev")
    if state.paused != (verb == "Resume"):
        app.session.reconciler.pause("dev", verb == "Resume")
    app.clear_notifications()
    earlier = await audit(app)
    before = state.paused
    if surface == "palette":
        await run_palette_command(pilot, f"{verb} reconciling dev")
    else:
        assert isinstance(app.screen, EnvironmentScreen)
        await pilot.press("p")
    if allowed(role, "operator", read_only):
        await dialog_shown(pilot, ConfirmScreen, "the confirmation")
        assert state.paused == before and await audit(app) == earlier, "nothing happens before confirming"
        await pilot.press("left", "enter")  # Cancel has the focus: move to Confirm
        await wait_until(pilot, lambda: state.paused != before, f"{verb.lower()} to take effect")
        action = verb.lower()
    else:
        action = "pause"  # the policy action is `pause` both ways
    seen = len([r for r in earlier if r["action"] == action])
    rows = await wait_for_new_audit(pilot, action, seen)
    if allowed(role, "operator", read_only):
        assert rows[0]["result"] == "succeeded"
    else:
        assert rows[0]["result"] == "denied"
        assert ("read-only" if read_only else "needs the operator role") in rows[0]["message"]
        await wait_until(pilot, lambda: notified(app, "Not allowed"), "the refusal to be shown")
        assert not isinstance(app.screen, ConfirmScreen), "no confirmation for what is not allowed"
        assert state.paused == before, "a denied pause never reaches the reconciler"
    assert (rows[0]["user"], rows[0]["origin"], rows[0]["target"]) == (current_user(), "tui", "dev")
    now = await audit(app)
    added = now[:len(now) - len(earlier)]  # newest first
    assert len(added) == 1, added
    assert stage.performed == []
    return normalized(added)


@pytest.mark.parametrize("verb", ["Pause", "Resume"])
@pytest.mark.parametrize("role,read_only", CASES, ids=CASE_IDS)
async def test_pause_and_resume_from_the_palette_like_the_key(tmp_path, role, read_only, verb):
    """Both surfaces in one app session, each from the same arranged state: the palette's
    row and the key's row are alike."""
    stage = Stage()
    app = make(tmp_path, stage, role, read_only=read_only)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        by_palette = await pause_through(pilot, stage, "palette", role, read_only, verb)
        by_key = await pause_through(pilot, stage, "key", role, read_only, verb)
    assert by_palette == by_key


# -- repair -----------------------------------------------------------------------------
DRIFTED = "kubernetes/Deployment/api"  # the stage: api has 1 replica, 2 desired


async def repair_through(pilot, stage: Stage, surface: str, role: str, read_only: bool) -> list[dict]:
    """`Repair drift in dev` from the palette, or `R` on the drift view: the one audit row it adds."""
    app = pilot.app
    state = app.session.reconciler.envs["dev"]
    assert [(d.resource, d.field) for d in state.all_drifts()] == [(DRIFTED, "replicas")]
    app.clear_notifications()
    earlier = await audit(app)
    if surface == "palette":
        await run_palette_command(pilot, "Repair drift in dev")
    else:
        if not app.screen.query(DriftTable):  # an app started on another view: to the drift view first
            await run_palette_command(pilot, "dev: drift")
            await wait_until(pilot, lambda: bool(app.screen.query(DriftTable)), "the drift view")
        drift_table = app.screen.query_one(DriftTable)
        await wait_until(pilot, lambda: drift_table.row_count == 1, "the drift row")
        await pilot.press("R")
    if allowed(role, "admin", read_only):
        await dialog_shown(pilot, ConfirmScreen, "the repair confirmation")
        assert stage.replicas["api"] == 1 and await audit(app) == earlier, "nothing happens before confirming"
        await pilot.press("left", "enter")  # Cancel has the focus: move to Confirm
        rows = await wait_for_new_audit(pilot, "scale", len(earlier))
        assert rows[0]["result"] == "succeeded"
        assert stage.replicas["api"] == 2
    else:
        rows = await wait_for_new_audit(pilot, "scale", len(earlier))
        assert rows[0]["result"] == "denied"
        assert ("read-only" if read_only else "needs the admin role") in rows[0]["message"]
        await wait_until(pilot, lambda: notified(app, "Not allowed"), "the refusal to be shown")
        assert not isinstance(app.screen, ConfirmScreen), "no confirmation for what is not allowed"
        assert stage.replicas["api"] == 1, "a denied repair never reaches the backend"
    assert (rows[0]["user"], rows[0]["origin"], rows[0]["target"]) == (current_user(), "tui", DRIFTED)
    assert rows[0]["params"] == {"field": "replicas", "desired": 2}
    now = await audit(app)
    added = now[:len(now) - len(earlier)]  # newest first
    assert len(added) == 1, added
    return normalized(added)


async def repair_in_an_app(state_dir: Path, surfaces: tuple[str, ...], role: str, read_only: bool) -> list[list]:
    """Each of `surfaces` in turn in one app session (started on the drift view when the key
    comes first): the rows each added."""
    stage = Stage()
    app = make(state_dir, stage, role, read_only=read_only, view="drift" if surfaces[0] == "key" else None)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        return [await repair_through(pilot, stage, surface, role, read_only) for surface in surfaces]


@pytest.mark.parametrize("role,read_only", CASES, ids=CASE_IDS)
async def test_repair_from_the_palette_like_the_key(tmp_path, role, read_only):
    """A denied repair changes nothing, so both surfaces are tried in one app session (the key
    on the drift view, reached through the palette); an allowed one repairs the drift, so each
    surface gets an app of its own."""
    if allowed(role, "admin", read_only):
        [by_palette] = await repair_in_an_app(tmp_path / "palette", ("palette",), role, read_only)
        [by_key] = await repair_in_an_app(tmp_path / "key", ("key",), role, read_only)
    else:
        by_palette, by_key = await repair_in_an_app(tmp_path, ("palette", "key"), role, read_only)
    assert by_palette == by_key


async def test_palette_repair_in_observe_mode_changes_nothing(tmp_path):
    stage = Stage()
    app = make(tmp_path, stage, "admin", repair="observe")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        assert app.session.reconciler.envs["dev"].all_drifts()
        await run_palette_command(pilot, "Repair drift in dev")
        await wait_until(pilot, lambda: notified(app, "'observe' mode"), "the observe-mode warning")
        assert not isinstance(app.screen, ConfirmScreen)
        assert stage.replicas["api"] == 1 and await audit(app) == []


# -- resource actions, reached through the palette's resource jump --------------------
# (what is typed, the palette's text, resource id, action, role needed, destructive, params typed);
# the roles are those of the real backends (stop/reboot of an instance need operator, like restart)
RESOURCE_ACTIONS = [
    ("web", "web (Deployment in dev)", "kubernetes/Deployment/web", "restart", "operator", False, {}),
    ("web", "web (Deployment in dev)", "kubernetes/Deployment/web", "scale", "operator", False, {"replicas": "5"}),
    ("bastion", "dev-bastion (ec2-instance in dev)", "aws/ec2-instance/i-0abc123", "stop", "operator", False, {}),
    ("bastion", "dev-bastion (ec2-instance in dev)", "aws/ec2-instance/i-0abc123", "terminate", "admin", True, {}),
    ("oom01", "worker-6f4d-oom01 (Pod in dev)", "kubernetes/Pod/worker-6f4d-oom01", "delete", "admin", True, {}),
    ("oom01", "worker-6f4d-oom01 (Pod in dev)", "kubernetes/Pod/worker-6f4d-oom01", "shell", "operator", False, {}),
    ("gw-01", "gw-01 (node in dev)", "edge/node/gw-01", "reboot", "admin", True, {}),
]
ACTION_IDS = [f"{rid.split('/')[1]}-{action}" for _, _, rid, action, *_ in RESOURCE_ACTIONS]


async def open_detail_from_the_palette(pilot, query: str, text: str, rid: str, action: str):
    """Jump to `rid` through the palette and highlight `action` in its detail: the option."""
    app = pilot.app
    await run_palette_command(pilot, text, query)
    await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen)
                     and app.screen.resource_id == rid, f"the detail of {rid}")
    options = app.screen.query_one("#actions", OptionList)
    await wait_until(pilot, lambda: any(o.id == action for o in options.options), f"the {action} action")
    options.focus()
    options.highlighted = options.get_option_index(action)
    return options.get_option(action)


async def check_denied_action(pilot, stage: Stage, read_only: bool, query: str, text: str, rid: str, action: str,
                              needed: str) -> None:
    """A denied action is listed disabled, says why, and choosing it does nothing."""
    app = pilot.app
    option = await open_detail_from_the_palette(pilot, query, text, rid, action)
    detail = app.screen
    assert option.disabled, "a denied action is listed disabled"
    reason = "envdeck runs --read-only" if read_only else f"{action} needs the {needed} role"
    assert reason in str(option.prompt), str(option.prompt)
    await pilot.press("enter")  # a disabled option cannot be chosen
    await pilot.pause()
    assert app.screen is detail and not isinstance(app.screen, ConfirmScreen)
    assert stage.performed == [] and await audit(app) == []


async def walk_denied_actions(state_dir: Path, role: str, read_only: bool) -> dict[str, BaseException | None]:
    """Every resource action `role` may not run, checked one after the other in one app session
    (a denied action changes nothing, so each starts where the last left off, back on the
    environment screen): the outcome of each, by case id, so that each case passes or fails
    on its own."""
    stage = Stage()
    app = make(state_dir, stage, role, read_only=read_only)
    outcomes: dict[str, BaseException | None] = {}
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        for case_id, (query, text, rid, action, needed, _destructive, _params) in zip(ACTION_IDS, RESOURCE_ACTIONS,
                                                                                           strict=True):
            if allowed(role, needed, read_only):
                continue
            try:
                await check_denied_action(pilot, stage, read_only, query, text, rid, action, needed)
                outcomes[case_id] = None
            except Exception as exc:  # noqa: BLE001 -- the case's own failure, raised by its test
                outcomes[case_id] = exc
            for _ in range(5):  # back to the environment screen (from the detail, or a palette left open)
                if isinstance(app.screen, EnvironmentScreen):
                    break
                await pilot.press("escape")
                await pilot.pause()
            assert isinstance(app.screen, EnvironmentScreen), f"escape does not lead back from {app.screen!r}"
    return outcomes


@pytest.fixture(scope="module")
def denied_walks() -> dict[tuple[str, bool], dict[str, BaseException | None]]:
    return {}


@pytest.mark.parametrize("query,text,rid,action,needed,destructive,params", RESOURCE_ACTIONS, ids=ACTION_IDS)
@pytest.mark.parametrize("role,read_only", CASES, ids=CASE_IDS)
async def test_resource_actions_reached_from_the_palette(tmp_path, denied_walks, role, read_only, query, text, rid,
                                                         action, needed, destructive, params):
    if not allowed(role, needed, read_only):  # checked with the role's other denied actions in one session
        if (role, read_only) not in denied_walks:
            denied_walks[role, read_only] = await walk_denied_actions(tmp_path, role, read_only)
        outcome = denied_walks[role, read_only][f"{rid.split('/')[1]}-{action}"]
        if outcome is not None:
            raise outcome
        return
    stage = Stage()
    app = make(tmp_path, stage, role, read_only=read_only)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        option = await open_detail_from_the_palette(pilot, query, text, rid, action)
        assert not option.disabled
        await pilot.press("enter")
        if action == "shell":  # handed to the terminal, no confirmation; audited when opened
            rows = await wait_for_audit(pilot, "shell", env="dev")
            await wait_until(pilot, lambda: notified(app, "cannot be handed over"), "the copied command")
        else:
            await dialog_shown(pilot, ConfirmScreen, "the confirmation")
            confirm = app.screen
            assert confirm.request.destructive is destructive
            assert stage.performed == [] and await audit(app) == [], "nothing happens before confirming"
            for name, value in params.items():
                confirm.query_one(f"#param-{name}").focus()
                await pilot.press("ctrl+u", *value)
            if destructive:
                name = app.session.reconciler.envs["dev"].resource(rid).name
                assert confirm.request.type_to_confirm == name
                await pilot.press("enter")  # nothing typed: refused
                await pilot.press(*name[:-1], "enter")  # not the full name: refused
                await pilot.pause()
                assert app.screen is confirm and stage.performed == [], "the typed name is required"
                await pilot.press(name[-1])
            if params or destructive:  # Enter in the field confirms
                await pilot.press("enter")
            else:  # Cancel has the focus: move to Confirm
                await pilot.press("left", "enter")
            await wait_until(pilot, lambda: stage.performed, f"{action} to reach the backend")
            assert stage.performed == [("dev", rid, action, params)]
            rows = await wait_for_audit(pilot, action, env="dev")
        assert (rows[0]["result"], rows[0]["user"], rows[0]["origin"], rows[0]["target"]) == \
            ("succeeded", current_user(), "tui", rid)
