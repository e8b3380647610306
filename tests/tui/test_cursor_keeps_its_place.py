"""The resources table's cursor when its row goes away, against the Kubernetes emulator (in-process,
through the real Kubernetes backend), at 80×24 as the on-call tester ran it: a pod deleted
through the API hands the selection to the row now at its place (else the last row), the footer
keeps `l`, and `j` moves on from there (not from the top); the same for a row that leaves
because it no longer matches the filter; a sort-key change follows the same resource. A row the
user's own filter hides still clears the cursor (docs/tui.md). At 60×20 every kind's STATUS
stays in view, cut, as in the `:pods` view."""

from __future__ import annotations

import aiohttp
import pytest

from backends.sim.k8s_emulator import Emulator
from tests.tui.pilot import app_ready, drawn_keys, settle, wait_until
from tui.app import AppOptions, create_app
from tui.core.config import parse_config
from tui.widgets.resource_table import STATUS_MIN, ResourceTable

SIZE = (80, 24)
NS = "staging"
PODS = 8
CONFIG = """environments:
  staging:
    kubernetes: {{kubeconfig: "{kubeconfig}", context: emulator, namespace: staging}}
"""


def pod_key(i: int) -> str:
    return f"kubernetes/Pod/web-{i:05d}"


@pytest.fixture
async def emulator():
    emu = Emulator(seed=11)
    await emu.start(host="127.0.0.1", port=0)
    emu.add_namespace(NS)
    emu.bulk_create_pods(NS, PODS, prefix="web")  # standalone: a deleted one is not replaced
    emu.create_deployment(NS, "api", replicas=2)  # a ReplicaSet replaces a deleted pod of its own
    try:
        yield emu
    finally:
        await emu.stop()


def _app(emulator: Emulator, tmp_path):
    kubeconfig = emulator.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS, context="emulator")
    config = parse_config(CONFIG.format(kubeconfig=kubeconfig))
    return create_app(config, tmp_path / "state", options=AppOptions(start_env="staging", testing=True))


async def _delete_pod(emulator: Emulator, name: str) -> None:
    """`kubectl delete pod NAME`: a DELETE on the API server."""
    async with aiohttp.ClientSession() as http, http.delete(
            f"{emulator.url}/api/v1/namespaces/{NS}/pods/{name}",
            headers={"Authorization": "Bearer emulator"}) as response:
        assert response.status == 200, await response.text()


def footer_actions(screen) -> set[str]:
    return {k.action for k in drawn_keys(screen) if not k.disabled}


async def _web_pods(pilot, keys: str) -> ResourceTable:
    """`:pods⏎` and the command-line keys `keys` (a filter), until the web pods are listed."""
    table = pilot.app.screen.query_one(ResourceTable)
    await pilot.press(":", *"pods", "enter", *keys)
    await wait_until(pilot, lambda: pod_key(PODS - 1) in table.row_keys, "the web pods",
                     explain=lambda: table.row_keys)
    await settle(pilot)
    return table


async def test_a_deleted_pod_hands_the_selection_to_the_row_at_its_place(emulator, tmp_path):
    app = _app(emulator, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        table = await _web_pods(pilot, ("slash", *"^web", "enter"))
        assert table.row_keys == [pod_key(i) for i in range(PODS)], table.row_keys
        await pilot.press(*"jjjjj")
        assert table.cursor_key == pod_key(5)
        await _delete_pod(emulator, "web-00005")
        await wait_until(pilot, lambda: pod_key(5) not in table.row_keys, "the deleted pod's row to go",
                         explain=lambda: table.row_keys)
        await settle(pilot)
        # the row now at its place: web-00006, shown and offering its keys
        assert table.cursor_key == pod_key(6) and table.cursor_row == 5, (table.cursor_key, table.cursor_row)
        assert app.screen.selected_id() == pod_key(6)
        assert "logs" in footer_actions(app.screen), footer_actions(app.screen)
        await pilot.press("j")
        assert table.cursor_key == pod_key(7)
        # the last row deleted: the row before it takes the selection
        await _delete_pod(emulator, "web-00007")
        await wait_until(pilot, lambda: pod_key(7) not in table.row_keys, "the last pod's row to go")
        await settle(pilot)
        assert table.cursor_key == pod_key(6), table.cursor_key
        await pilot.press("k")
        assert table.cursor_key == pod_key(4), table.cursor_key
        # the tester's case: a ReplicaSet's pod deleted (its replacement has another name)
        await pilot.press("slash", "ctrl+u", *"^api-", "enter")
        await wait_until(pilot, lambda: len(table.row_keys) == 2 and table.cursor_key is not None, "the api pods",
                         explain=lambda: table.row_keys)
        api = table.row_keys
        assert table.move_to_key(api[1])
        await settle(pilot)
        await _delete_pod(emulator, api[1].rsplit("/", 1)[1])
        await wait_until(pilot, lambda: api[1] not in table.row_keys, "the deleted pod's row to go")
        await settle(pilot)
        assert table.cursor_key is not None and app.screen.selected_id() == table.cursor_key
        assert "logs" in footer_actions(app.screen), footer_actions(app.screen)
        before = table.cursor_row
        await pilot.press("k" if before else "j")
        assert table.cursor_row == (before - 1 if before else 1), (table.cursor_row, before)


async def test_a_row_no_longer_matching_the_filter_hands_on_and_a_sort_change_follows(emulator, tmp_path):
    for i in (1, 3, 5):
        emulator.inject_fault(NS, f"web-{i:05d}", "CrashLoopBackOff", event=False)
    app = _app(emulator, tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        table = pilot.app.screen.query_one(ResourceTable)
        await pilot.press(":", *"pods", "enter", "slash", *"CrashLoop", "enter")
        crashing = [pod_key(1), pod_key(3), pod_key(5)]
        await wait_until(pilot, lambda: table.row_keys == crashing, "the crashing pods",
                         explain=lambda: table.row_keys)
        await pilot.press("j")
        assert table.cursor_key == pod_key(3)
        emulator.inject_fault(NS, "web-00003", None)  # it runs again: the filter no longer matches it
        await wait_until(pilot, lambda: pod_key(3) not in table.row_keys, "web-00003's row to go",
                         explain=lambda: table.row_keys)
        await settle(pilot)
        assert table.cursor_key == pod_key(5), table.cursor_key
        # the user's own filter hiding the selected row still clears the cursor (and it waits)
        await pilot.press("slash", "ctrl+u", *"web-00001")
        await wait_until(pilot, lambda: table.row_keys == [pod_key(1)], "the narrower filter")
        assert table.cursor_key is None
        await pilot.press("escape", "escape")  # close the box, clear the filter
        await wait_until(pilot, lambda: pod_key(5) in table.row_keys and len(table.row_keys) > PODS,
                         "every pod again")
        assert table.cursor_key == pod_key(5), table.cursor_key
        # sorted by status: a change of the selected pod's status moves its row; the cursor follows it
        await pilot.press(*">>>>")
        assert app.screen.view.sort == "status"
        await settle(pilot)
        assert table.move_to_key(pod_key(6))
        row = table.cursor_row
        emulator.inject_fault(NS, "web-00006", "CrashLoopBackOff", event=False)
        await wait_until(pilot, lambda: table.row_keys.index(pod_key(6)) != row, "web-00006's row to move",
                         explain=lambda: table.row_keys)
        await settle(pilot)
        assert table.cursor_key == pod_key(6), table.cursor_key


async def test_at_60_columns_every_kind_keeps_its_status_in_view(emulator, tmp_path):
    emulator.inject_fault(NS, "web-00002", "CrashLoopBackOff", event=False)
    app = _app(emulator, tmp_path)
    async with app.run_test(size=(60, 20)) as pilot:
        await app_ready(pilot)
        table = pilot.app.screen.query_one(ResourceTable)
        for keys in ((), (":", *"pods", "enter")):  # every kind, then the pods: one rule
            await pilot.press(*keys)
            await wait_until(pilot, lambda: table.move_to_key(pod_key(2)), "web-00002's row",
                             explain=lambda: table.row_keys)
            await settle(pilot)
            room = table.scrollable_content_region.width
            assert table.virtual_size.width <= room, (table.virtual_size.width, room, table._widths)
            header = "".join(s.text for s in table.render_line(0))
            assert "STATUS" in header, header
            line = "".join(s.text for s in table.render_line(table.cursor_row + 1 - round(table.scroll_y)))
            assert "CrashLo" in line and "web-00002" in line, line
            assert table._widths[-1] >= STATUS_MIN


async def test_a_record_table_row_gone_hands_on_and_one_its_filter_hides_waits():
    """KeyedTable (Faults, Timeline, …): a resolved row's selection goes to the row at its place."""
    from rich.text import Text
    from textual.app import App

    from tui.widgets.keyed_table import KeyedTable

    class Records(App):
        def compose(self):
            yield KeyedTable([("resource", "RESOURCE"), ("reason", "REASON")])

    rows = {f"pod-{i}": (Text(f"pod-{i}"), Text("BackOff" if i % 2 else "OOMKilled")) for i in range(5)}
    app = Records()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(KeyedTable)
        table.sync(rows, list(rows))
        await pilot.pause()
        assert table.move_to_key("pod-2")
        del rows["pod-2"]  # resolved
        table.sync(rows, list(rows))
        await pilot.pause()
        assert table.cursor_key == "pod-3" and table.show_cursor
        await pilot.press("j")
        assert table.cursor_key == "pod-4"
        del rows["pod-4"]  # the last row resolved: the one before takes it
        table.sync(rows, list(rows))
        assert table.cursor_key == "pod-3"
        table.set_filter(lambda text, name: "OOMKilled" in text)  # hides pod-3: it waits
        await pilot.pause()
        assert table.cursor_key is None and table.cursor_cleared
        table.set_filter(None)
        assert table.cursor_key == "pod-3"
