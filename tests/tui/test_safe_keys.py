"""Keys that cannot fire actions by accident (issue 13, k9s habits at 80×24):

1. `/` filters the view it is pressed in, and the typed text stays in the box
   (it never runs as hotkeys: `d`, `r`, `s`, `p` in a filter opened nothing);
2. Enter drills in (a Deployment lists its pods) and never acts; confirmations of
   mutating actions (pause too) default to Cancel;
3. the cursor follows its resource through a filter, or clears;
4. j/k/G/gg move, `x` stops, `?` lists envdeck's keys by section.

Pilot tests on the in-memory stage (tests/tui/stage.py)."""

from __future__ import annotations

from textual.widgets import Button, Input, OptionList

from screens.confirm import ConfirmScreen
from screens.environment import EnvironmentScreen
from screens.help import SECTION_PREFIX, SECTIONS, HelpScreen
from screens.resource_detail import ResourceDetailScreen
from tests.tui.pilot import app_ready, dialog_shown, make_app, wait_until
from tests.tui.stage import LIVE_CONFIG
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.record_views import FaultsTable, TimelineTable
from tui.widgets.resource_table import ResourceTable

SIZE = (80, 24)  # the size of the report


def table(app) -> ResourceTable:
    return app.screen.query_one(ResourceTable)


async def select(pilot, resource_id: str) -> None:
    await wait_until(pilot, lambda: table(pilot.app).move_to_key(resource_id), f"row {resource_id}")
    await pilot.pause()


async def audit(app, env: str = "staging") -> list[dict]:
    return await app.session.store.audit_entries(env, limit=50)


# -- 1. `/` in every view ---------------------------------------------------------------
async def test_slash_in_the_timeline_filters_the_timeline_and_keeps_the_keys(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        screen = app.screen
        await pilot.press("5")  # a view's widgets are mounted when it is first shown
        await wait_until(pilot, lambda: screen.query(TimelineTable) and screen.query_one(TimelineTable).row_count >= 2,
                         "the timeline rows")
        timeline = screen.query_one(TimelineTable)
        before = timeline.row_keys
        # the keystrokes of the report: `5 / audit` opened the Drift tab of a resource via `d`
        await pilot.press("slash", *"audit")
        await pilot.pause()
        assert app.screen is screen and screen.active_view == "timeline"
        box = screen.query_one("#filter", Input)
        assert box.has_focus and box.value == "audit"
        # no audit rows on a fresh stage: the filter hides every row
        assert timeline.row_count == 0
        await pilot.press("ctrl+u", *"scaled up")
        await wait_until(pilot, lambda: timeline.row_count == 1, "the ScalingReplicaSet event only",
                         explain=lambda: timeline.row_keys)
        assert "ScalingReplicaSet" in " ".join(c.plain for c in timeline.cells_of(timeline.row_keys[0]))
        await pilot.press("enter")  # closes the box, keeps the filter, focus back on the table
        assert not box.has_focus and timeline.has_focus and timeline.row_count == 1
        await pilot.press("escape")  # clears this view's filter
        await wait_until(pilot, lambda: timeline.row_keys == before, "all timeline rows again")
        assert screen.active_view == "timeline"


async def test_action_letters_typed_in_any_filter_run_nothing(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        screen = app.screen
        for key, view in (("1", "resources"), ("3", "metrics"), ("4", "faults"), ("5", "timeline"),
                          ("6", "compliance"), ("7", "drift")):
            await pilot.press(key)
            await wait_until(pilot, lambda v=view: screen.active_view == v, view)
            # r restart, s shell, p pause, d drift, y yaml, l logs, R repair, 2 the logs view
            await pilot.press("slash", *"rspdylR2")
            await pilot.pause()
            assert app.screen is screen, f"{view}: a key of the filter text opened {app.screen}"
            assert screen.active_view == view
            assert screen.query_one("#filter", Input).value == "rspdylR2"
            await pilot.press("ctrl+u", "escape")
        assert stage.performed == [] and await audit(app) == []
        # the Logs view's own search box takes the keys the same way
        await pilot.press("2", "slash", *"rsp")
        await pilot.pause()
        search = screen.query_one("#logs-search-input", Input)
        assert app.screen is screen and screen.active_view == "logs"
        assert search.has_focus and search.value == "rsp"


async def faults_view(pilot) -> FaultsTable:
    """The Faults view (key 4) of the environment screen, once it shows the stage's two faults."""
    screen = pilot.app.screen
    await pilot.press("4")  # a view's widgets are mounted when it is first shown
    await wait_until(pilot, lambda: screen.query(FaultsTable) and screen.query_one(FaultsTable).row_count == 2,
                     "two faults")
    return screen.query_one(FaultsTable)


async def test_each_record_view_keeps_its_own_filter(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        screen = app.screen
        faults = await faults_view(pilot)
        await pilot.press("slash", *"oom", "enter")
        await wait_until(pilot, lambda: faults.row_keys == ["kubernetes/Pod/worker-6f4d-oom01\tOOMKilled"],
                         "the OOMKilled fault only")
        assert faults.cursor_key == "kubernetes/Pod/worker-6f4d-oom01\tOOMKilled"
        await pilot.press("1")  # the resources are not filtered by the Faults filter
        await wait_until(pilot, lambda: table(app).row_count == 11, "all resources")
        await pilot.press("4")
        assert faults.row_count == 1
        await pilot.press("slash")
        assert screen.query_one("#filter", Input).value == "oom"


# -- 2. Enter drills in, never acts --------------------------------------------------------
async def test_enter_enter_enter_on_a_deployment_never_restarts_it(tmp_path, stage):
    stage.replica_sets = True
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        # the keystrokes of the report: `:deploy⏎ Home ⏎ ⏎` (then a third ⏎ restarted prod)
        await pilot.press("colon", *"deploy", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen)
                         and table(app).row_keys == ["kubernetes/Deployment/api", "kubernetes/Deployment/web"],
                         "the deployments")
        screen = app.screen
        await pilot.press("home", "enter")
        # Enter on a Deployment lists its pods (through its ReplicaSet), like k9s
        await wait_until(pilot, lambda: table(app).row_keys == ["kubernetes/Pod/api-5c8b-xyz12"], "api's pods",
                         explain=lambda: table(app).row_keys)
        assert screen.scope == "kubernetes/Deployment/api" and app.screen is screen
        assert table(app).cursor_key == "kubernetes/Pod/api-5c8b-xyz12"
        await pilot.press("enter")  # a pod: its details
        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen), "the pod's details")
        detail = app.screen
        assert detail.resource_id == "kubernetes/Pod/api-5c8b-xyz12"
        assert not detail.query_one("#actions", OptionList).has_focus
        await pilot.press("enter", "enter")
        await pilot.pause()
        assert app.screen is detail, "Enter on the detail screen started something"
        assert stage.performed == [] and await audit(app) == []
        # Esc goes back: the pods, then the deployments with the cursor on api
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen, "the pods list")
        assert table(app).row_keys == ["kubernetes/Pod/api-5c8b-xyz12"]
        await pilot.press("escape")
        await wait_until(pilot, lambda: screen.scope is None and table(app).row_count == 2, "the deployments")
        assert table(app).cursor_key == "kubernetes/Deployment/api"


async def test_a_deployment_lists_every_pod_of_its_replica_sets(tmp_path, stage):
    stage.replica_sets = True
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await select(pilot, "kubernetes/Deployment/web")
        await pilot.press("enter")
        await wait_until(pilot, lambda: sorted(table(app).row_keys) == ["kubernetes/Pod/web-7d9f-abcde",
                                                                        "kubernetes/Pod/web-7d9f-fghij"],
                         "web's pods", explain=lambda: table(app).row_keys)
        assert "pods of Deployment/web" in str(app.screen.query_one("#table-info").render())


async def test_confirmations_default_to_cancel(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging", live=True, config_text=LIVE_CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        state = app.session.reconciler.envs["staging"]
        await select(pilot, "kubernetes/Deployment/web")
        await pilot.press("i")
        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen), "the details")
        detail = app.screen
        options = detail.query_one("#actions", OptionList)
        options.focus()
        options.highlighted = options.get_option_index("restart")
        await pilot.press("enter")  # choosing an action asks first
        await dialog_shown(pilot, ConfirmScreen, "the restart confirmation")
        assert isinstance(app.focused, Button) and app.focused.id == "cancel"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is detail, "the confirmation to be cancelled")
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen), "the environment")
        await pilot.press("p")  # pause reconciling: cancelled by Enter too
        await dialog_shown(pilot, ConfirmScreen, "the pause confirmation")
        assert isinstance(app.focused, Button) and app.focused.id == "cancel"
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen), "the pause to be cancelled")
        assert not state.paused
        assert stage.performed == [] and await audit(app) == []
        await pilot.press("p")
        await dialog_shown(pilot, ConfirmScreen, "the pause confirmation again")
        await pilot.press("left", "enter")  # confirming is a choice: move to the button
        await wait_until(pilot, lambda: state.paused, "the environment to pause")


# -- 3. the cursor follows its resource ------------------------------------------------------
async def test_the_cursor_follows_its_resource_through_a_filter(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        screen = app.screen
        await select(pilot, "kubernetes/Deployment/api")
        await pilot.press("slash", "w")  # on the way to "web": api is hidden
        await wait_until(pilot, lambda: "kubernetes/Deployment/api" not in table(app).row_keys, "api hidden")
        assert table(app).cursor_key is None, "the cursor landed on another resource"
        assert screen.selected_resource() is None
        await pilot.press("backspace")  # api is shown again: the cursor is back on it
        await wait_until(pilot, lambda: table(app).row_count == 11, "all rows")
        assert table(app).cursor_key == "kubernetes/Deployment/api"
        await pilot.press("escape", "r")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert "kubernetes/Deployment/api" in app.screen.request.title, app.screen.request.title
        await pilot.press("escape")
        # while the cursor is cleared, action keys have no target
        await pilot.press("slash", *"web", "escape")
        await wait_until(pilot, lambda: table(app).cursor_key is None, "the cursor cleared")
        await pilot.press("r")
        await pilot.pause()
        assert app.screen is screen and stage.performed == []
        await pilot.press("j")  # movement brings the cursor back, on the first row shown
        assert table(app).cursor_key == table(app).row_keys[0]


async def test_a_record_view_cursor_clears_when_its_row_is_filtered_out(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        screen = app.screen
        faults = await faults_view(pilot)
        oom = "kubernetes/Pod/worker-6f4d-oom01\tOOMKilled"
        assert faults.move_to_key(oom)
        await pilot.press("slash", *"crash")
        await wait_until(pilot, lambda: faults.row_count == 1, "the crash fault only")
        assert faults.cursor_key is None and screen.selected_id() is None
        await pilot.press("ctrl+u")
        await wait_until(pilot, lambda: faults.row_count == 2, "both faults")
        assert faults.cursor_key == oom


# -- 4. k9s movement, stop/start keys, help ----------------------------------------------------
async def test_j_k_G_gg_move_the_cursor(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        t = table(app)
        keys = t.row_keys
        await pilot.press("home")
        assert t.cursor_key == keys[0]
        await pilot.press("j", "j")
        assert t.cursor_key == keys[2]
        await pilot.press("k")
        assert t.cursor_key == keys[1]
        await pilot.press("G")
        assert t.cursor_key == keys[-1]
        await pilot.press("g", "k", "g")  # not twice in a row: not a chord
        assert t.cursor_key == keys[-2]
        await pilot.press("g", "g")
        assert t.cursor_key == keys[0]
        # the record tables move the same way
        await pilot.press("4")
        faults = app.screen.query_one(FaultsTable)
        await wait_until(pilot, lambda: faults.row_count == 2, "two faults")
        await pilot.press("G")
        assert faults.cursor_key == faults.row_keys[-1]
        await pilot.press("g", "g")
        assert faults.cursor_key == faults.row_keys[0]
        await pilot.press("j")
        assert faults.cursor_key == faults.row_keys[1]


async def test_shift_x_stops_an_instance_after_confirmation(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging", live=True, config_text=LIVE_CONFIG)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await select(pilot, "aws/ec2-instance/i-0abc123")
        await pilot.press("X")
        await dialog_shown(pilot, ConfirmScreen, "the stop confirmation")
        assert stage.performed == []
        await pilot.press("left", "enter")
        await wait_until(pilot, lambda: stage.performed, "the stop to reach the backend")
        assert stage.performed == [("staging", "aws/ec2-instance/i-0abc123", "stop", {})]


async def test_b_groups_by_backend(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await pilot.press("b")
        await wait_until(pilot, lambda: table(app).row_keys[0] == "group:aws", "group headers")


async def test_help_lists_envdecks_keys_grouped_without_textual_internals(tmp_path, stage):
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        help_table = app.screen.query_one(KeyedTable)
        rows = {k: [c.plain for c in help_table.cells_of(k)] for k in help_table.row_keys}
        shown_keys = " ".join(cells[0] for cells in rows.values())
        for internal in ("super+c", "^pgup", "^pgdn", "ctrl+pageup"):
            assert internal not in shown_keys, internal
        sections = [k.removeprefix(SECTION_PREFIX) for k in rows if k.startswith(SECTION_PREFIX)]
        assert sections == [s for s in SECTIONS if s in sections]
        assert {"Move", "Views", "Actions", "Table", "App"} <= set(sections)
        # every other row is an envdeck binding with its id
        for key, cells in rows.items():
            if not key.startswith(SECTION_PREFIX):
                assert cells[1], key
        by_id = {cells[1]: cells for key, cells in rows.items() if not key.startswith(SECTION_PREFIX)}
        assert "j" in by_id["cursor-down"][0].split() and "G" in by_id["cursor-bottom"][0].split()
        assert {"stop", "start", "restart", "filter", "cursor-top-gg"} <= set(by_id)


def test_pods_of_follows_the_owner_references_the_kubernetes_backend_reports():
    """The kubernetes backend's own converters: Deployment → ReplicaSet → Pod, by ownerReferences."""
    from backends.kubernetes import convert
    from screens.environment_actions import pods_of

    def meta(name, owner=None):
        m = {"name": name, "namespace": "prod", "uid": name, "creationTimestamp": "2025-03-14T00:00:00Z"}
        if owner:
            m["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
        return m

    deploy = convert.deployment({"metadata": meta("api"), "spec": {"replicas": 2}, "status": {}}).resource
    other = convert.deployment({"metadata": meta("web"), "spec": {"replicas": 1}, "status": {}}).resource
    rs_new = convert.replicaset({"metadata": meta("api-7f9", ("Deployment", "api")), "spec": {}, "status": {}})
    rs_old = convert.replicaset({"metadata": meta("api-5c8", ("Deployment", "api")), "spec": {}, "status": {}})
    rs_web = convert.replicaset({"metadata": meta("web-1a2", ("Deployment", "web")), "spec": {}, "status": {}})
    pods = [convert.pod({"metadata": meta(name, ("ReplicaSet", rs)), "spec": {"containers": [{"name": "c"}]},
                         "status": {"phase": "Running"}}).resource
            for name, rs in (("api-7f9-a", "api-7f9"), ("api-5c8-b", "api-5c8"), ("web-1a2-c", "web-1a2"))]
    resources = [deploy, other, rs_new.resource, rs_old.resource, rs_web.resource, *pods]
    assert sorted(p.name for p in pods_of(resources, deploy)) == ["api-5c8-b", "api-7f9-a"]
    assert [p.name for p in pods_of(resources, other)] == ["web-1a2-c"]
    assert [p.name for p in pods_of(resources, rs_new.resource)] == ["api-7f9-a"]
