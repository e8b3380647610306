"""The xray screen (issue 17) at 80×24 on the in-memory stage (its Kubernetes part linked by the
real backend's link functions): `X` on a resource of the table and on the detail opens it, the
red root is in view and named in the roll-up, Enter on a node opens that resource's details,
Esc comes back; `x` stays stop. A snapshot of the screen."""

from __future__ import annotations

from textual.widgets import Tree

from screens.environment import EnvironmentScreen
from screens.resource_detail import ResourceDetailScreen
from screens.xray import XrayScreen
from tests.tui.pilot import app_ready, make_app, palette_typed, settle, wait_until
from tui.core.model import Health
from tui.core.xray import XrayNode
from tui.widgets.resource_table import ResourceTable

SIZE = (80, 24)


def table(app) -> ResourceTable:
    return app.screen.query_one(ResourceTable)


def labels(tree: Tree) -> list[str]:
    out = []

    def walk(node) -> None:
        out.append(node.label.plain)
        if node.is_expanded:
            for child in node.children:
                walk(child)

    walk(tree.root)
    return out


async def open_xray_of_api(pilot, app) -> XrayScreen:
    await app_ready(pilot)
    await wait_until(pilot, lambda: table(app).move_to_key("kubernetes/Deployment/api"), "the api row")
    await settle(pilot)
    await pilot.press("x")
    await wait_until(pilot, lambda: isinstance(app.screen, XrayScreen) and app.screen.tree_shown is not None,
                     "the xray screen")
    await settle(pilot)
    return app.screen


async def test_x_opens_the_xray_and_enter_opens_a_node(tmp_path, stage):
    stage.replica_sets = True
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_xray_of_api(pilot, app)
        found = screen.tree_shown
        assert found.root.resource_id == "kubernetes/Deployment/api"
        [rs] = found.depends_on
        assert (rs.resource_id, rs.relation, rs.rolled) == ("kubernetes/ReplicaSet/api-5c8b", "owns", Health.DEGRADED)
        assert found.rolled is Health.DEGRADED, "the crashing pod makes its Deployment's roll-up red"
        shown = labels(screen.query_one(Tree))
        assert shown[0].startswith("◐ Progressing Deployment/api") and "below: ✖ Degraded" in shown[0]
        assert any("owns ReplicaSet/api-5c8b" in line and "below: ✖ Degraded" in line for line in shown)
        pod_line = next(i for i, line in enumerate(shown) if "Pod/api-5c8b-xyz12" in line)
        assert "back-off 5m0s" in shown[pod_line], "the reason of the red node is shown"
        assert shown[pod_line].startswith("✖ Degraded owns Pod/api-5c8b-xyz12"), "the red root is opened and in view"
        assert any(line.startswith("depended on by") and "nothing known" in line for line in shown)
        # Enter on the pod: its details; Esc back to the xray, Esc back to the table
        tree = screen.query_one(Tree)
        tree.cursor_line = pod_line
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen), "the pod's details")
        assert app.screen.resource_id == "kubernetes/Pod/api-5c8b-xyz12"
        assert stage.performed == []
        # X on the detail: the pod's own xray, upwards to its Deployment
        await settle(pilot)
        await pilot.press("x")
        await wait_until(pilot, lambda: isinstance(app.screen, XrayScreen)
                         and app.screen.resource_id == "kubernetes/Pod/api-5c8b-xyz12", "the pod's xray")
        up = app.screen.tree_shown.depended_on_by
        assert [(n.resource_id, [c.resource_id for c in n.children]) for n in up] == [
            ("kubernetes/ReplicaSet/api-5c8b", ["kubernetes/Deployment/api"])]
        for _ in range(3):
            await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, EnvironmentScreen), "the resources table")
        assert table(app).cursor_key == "kubernetes/Deployment/api"
        assert stage.performed == []


async def test_a_hostile_name_in_the_tree_is_cleaned(tmp_path, stage):
    stage.hostile = True
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        app.push_screen(XrayScreen("staging", "kubernetes/Pod/hostile"))
        await wait_until(pilot, lambda: isinstance(app.screen, XrayScreen) and app.screen.tree_shown is not None,
                         "the xray screen")
        shown = labels(app.screen.query_one(Tree))
        assert "\x1b" not in "".join(shown)
        assert "Pod/[link=http://phish.example]click[/link]" in shown[0], "markup stays literal text"
        app.push_screen(XrayScreen("staging", "kubernetes/Pod/nope"))
        await wait_until(pilot, lambda: isinstance(app.screen, XrayScreen)
                         and app.screen.resource_id == "kubernetes/Pod/nope", "the second xray")
        await settle(pilot)
        assert app.screen.tree_shown is None
        assert "no resource kubernetes/Pod/nope in staging" in str(app.screen.query_one("#xray-hint").render())


async def test_the_tree_follows_the_environment(tmp_path, stage):
    stage.replica_sets = True
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_xray_of_api(pilot, app)
        assert screen.tree_shown.root.health is Health.PROGRESSING
        stage.replicas["api"] = 2  # as desired: the Deployment is Healthy at the next pass
        await app.session.reconcile_once(repair=False)
        await wait_until(pilot, lambda: screen.tree_shown.root.health is Health.HEALTHY, "the new health",
                         timeout=15)
        assert labels(screen.query_one(Tree))[0].startswith("● Healthy Deployment/api")
        assert screen.tree_shown.rolled is Health.DEGRADED, "its pod still crashes"


async def test_the_command_palette_opens_an_xray(tmp_path, stage):
    stage.replica_sets = True
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await palette_typed(pilot, "xray api-5c8b-xyz12", "xray api-5c8b-xyz12")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, XrayScreen) and app.screen.tree_shown is not None,
                         "the pod's xray")
        assert app.screen.resource_id == "kubernetes/Pod/api-5c8b-xyz12"


def test_xray_snapshot(snap_compare, tmp_path, stage):
    stage.replica_sets = True

    async def run(pilot) -> None:
        await open_xray_of_api(pilot, pilot.app)

    assert snap_compare(make_app(tmp_path, stage, env="staging"), terminal_size=SIZE, run_before=run)


async def test_the_hint_names_x_for_xray_here(tmp_path, stage):
    stage.replica_sets = True
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=(160, 24)) as pilot:
        screen = await open_xray_of_api(pilot, app)
        hint = str(screen.query_one("#xray-hint").render())
        assert "x xray here" in hint and "X xray" not in hint, hint  # X is stop


async def test_j_and_k_move_the_cursor_in_the_tree(tmp_path, stage):
    stage.replica_sets = True
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_xray_of_api(pilot, app)
        tree = screen.query_one(Tree)
        start = tree.cursor_line
        await pilot.press("j", "j")
        await settle(pilot)
        assert tree.cursor_line == start + 2
        await pilot.press("k")
        await settle(pilot)
        assert tree.cursor_line == start + 1 and isinstance(app.screen, XrayScreen)
        assert stage.performed == []


async def test_long_labels_end_in_an_ellipsis_and_the_line_under_the_tree_has_the_whole_message(tmp_path, stage):
    from rich.style import Style

    from screens.xray import branch_label

    stage.replica_sets = True
    app = make_app(tmp_path, stage, env="staging")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_xray_of_api(pilot, app)
        tree = screen.query_one(Tree)
        pod_line = next(i for i, line in enumerate(labels(tree)) if "Pod/api-5c8b-xyz12" in line)
        tree.cursor_line = pod_line
        await settle(pilot)
        pod = tree.cursor_node
        assert pod.data == "kubernetes/Pod/api-5c8b-xyz12"
        shown = tree.render_label(pod, Style(), Style()).plain
        assert shown.endswith("…") and "back-off" in shown, shown  # the full reason is longer than 80 columns
        message = str(screen.query_one("#xray-message").render())
        assert "kubernetes/Pod/api-5c8b-xyz12" in message
        assert "back-off 5m0s restarting failed container" in message
        # a branch header carries its nodes' roll-up, not the root's own health
        ok = XrayNode("kubernetes/thing/ok", "thing", "ok", Health.HEALTHY, Health.HEALTHY)
        assert "Healthy" in branch_label("depends on", [ok], screen.envdeck.palette).plain


def test_siblings_sharing_a_name_show_their_ids():
    from screens.xray import shown_names

    def inst(native: str, name: str) -> XrayNode:
        return XrayNode(f"aws/ec2-instance/{native}", "ec2-instance", name, Health.HEALTHY, Health.HEALTHY)

    nodes = [inst("i-0aa", "staging-asg-worker"), inst("i-0bb", "staging-asg-worker"), inst("i-0cc", "db")]
    assert shown_names(nodes) == ["staging-asg-worker (i-0aa)", "staging-asg-worker (i-0bb)", "db"]
