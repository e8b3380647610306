"""`F` in the TUI against the Kubernetes emulator (in-process, through the real Kubernetes
backend): F on a pod → the port dialog offers its container port → the forward opens and
carries bytes → `P` lists it (local address → Pod/NAME:80, open, bytes) → `c` closes it
(listener gone, audit row finished). Another local user's connection is refused and counted
in the panel (REF, the detail names the uid). A viewer's F is refused, audited `denied`, and no stream
reaches the server. `?` lists F. At 80×24."""

from __future__ import annotations

import asyncio

import pytest

from backends.sim.k8s_emulator import Emulator
from screens.help import HelpScreen
from screens.port_choice import PortChoiceScreen
from screens.port_forwards import PortForwardsScreen
from tests.other_user import connect_as, needs_other_user, other_user
from tests.tui.pilot import app_ready, dialog_shown, wait_until
from tui.app import AppOptions, create_app
from tui.core.config import parse_config
from tui.widgets.keyed_table import KeyedTable
from tui.widgets.port_forwards import NARROW_TO, PortForwardTable, cut_target
from tui.widgets.resource_table import ResourceTable

SIZE = (80, 24)
NS = "staging"
CONFIG = """environments:
  staging:
    access: {{viewer: [vera], operator: [olga]}}
    kubernetes: {{kubeconfig: "{kubeconfig}", context: emulator, namespace: staging}}
"""


@pytest.fixture
async def emulator():
    emu = Emulator(seed=5)
    await emu.start(host="127.0.0.1", port=0)
    emu.add_namespace(NS)
    emu.create_deployment(NS, "web", replicas=1)  # its container declares port 80
    try:
        yield emu
    finally:
        await emu.stop()


def _app(emulator: Emulator, tmp_path, user: str):
    kubeconfig = emulator.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS, context="emulator")
    config = parse_config(CONFIG.format(kubeconfig=kubeconfig))
    return create_app(config, tmp_path / f"state-{user}",
                      options=AppOptions(start_env="staging", testing=True, user=user))


def _pod(emulator: Emulator) -> str:
    from backends.sim.k8s_emulator.resources import lookup

    [pod] = [p["metadata"]["name"] for p in emulator.store.objects(lookup("pods"), NS)]
    return pod


async def _select_pod(pilot, pod: str) -> None:
    table = pilot.app.screen.query_one(ResourceTable)
    await wait_until(pilot, lambda: table.move_to_key(f"kubernetes/Pod/{pod}"), f"the row of pod {pod}",
                     explain=lambda: table.row_keys[:20])
    await pilot.pause()


async def _http_get(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /ping HTTP/1.1\r\nHost: web\r\n\r\n")
        await writer.drain()
        data = b""
        while b"GET /ping HTTP/1.1\n" not in data:
            chunk = await asyncio.wait_for(reader.read(65536), 30)
            if not chunk:
                break
            data += chunk
        return data
    finally:
        writer.close()


async def test_F_forwards_a_pod_port_listed_in_the_panel_and_closed_there(emulator, tmp_path):
    pod = _pod(emulator)
    app = _app(emulator, tmp_path, "olga")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await _select_pod(pilot, pod)
        await pilot.press("F")
        await dialog_shown(pilot, PortChoiceScreen, "the port dialog")
        await pilot.press("enter")  # the highlighted choice: the container's port 80
        await wait_until(pilot, lambda: app.session.port_forwards(), "the forward to open")
        [forward] = app.session.port_forwards()
        assert forward.remote_port == 80 and forward.resource_id == f"kubernetes/Pod/{pod}"

        answer = await _http_get(forward.local_port)
        assert answer.startswith(b"HTTP/1.1 200 OK") and f"pod {pod}".encode() in answer
        assert emulator.port_forwards.opened == 1

        await pilot.press("P")
        await wait_until(pilot, lambda: isinstance(app.screen, PortForwardsScreen), "the port-forward panel")
        table = app.screen.query_one(PortForwardTable)
        key = str(forward.id)

        def row() -> list[str]:
            cells = table.cells_of(key)
            return [c.plain for c in cells] if cells else []

        await wait_until(pilot, lambda: row() and row()[2] == "open" and row()[3] != "0B/0B",
                         "the forward's row, open, with its bytes", explain=row)
        # narrow (80 columns): the port only, the pod's name cut in its middle
        assert row()[0] == f":{forward.local_port}" and row()[1] == cut_target(f"Pod/{pod}", ":80", NARROW_TO)

        await pilot.press("c")
        await wait_until(pilot, lambda: not app.session.port_forwards(), "the forward to close")
        await wait_until(pilot, lambda: table.row_keys == [], "the panel to empty")
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", forward.local_port)
        [audit] = [r for r in await app.session.store.audit_entries("staging") if r["action"] == "port-forward"]
        assert audit["result"] == "succeeded" and audit["user"] == "olga"
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, PortForwardsScreen), "the panel to close")


@needs_other_user
async def test_the_panel_counts_and_names_another_users_refused_connection(emulator, tmp_path):
    pod = _pod(emulator)
    peer = other_user()
    app = _app(emulator, tmp_path, "olga")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await _select_pod(pilot, pod)
        await pilot.press("F")
        await dialog_shown(pilot, PortChoiceScreen, "the port dialog")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.session.port_forwards(), "the forward to open")
        [forward] = app.session.port_forwards()
        assert await connect_as(forward.local_port) in ("b''", "reset")
        assert emulator.port_forwards.opened == 0

        await pilot.press("P")
        await wait_until(pilot, lambda: isinstance(app.screen, PortForwardsScreen), "the port-forward panel")
        table = app.screen.query_one(PortForwardTable)

        def row() -> list[str]:
            cells = table.cells_of(str(forward.id))
            return [c.plain for c in cells] if cells else []

        await wait_until(pilot, lambda: row() and row()[5] == "1", "the refused count", explain=row)
        assert row()[4] == "0/0"  # nothing accepted
        detail = str(app.screen.query_one("#pf-detail").render())
        assert f"refused a connection from uid {peer.pw_uid} (user {peer.pw_name})" in detail


async def test_a_viewer_is_refused_and_nothing_reaches_the_server(emulator, tmp_path):
    pod = _pod(emulator)
    app = _app(emulator, tmp_path, "vera")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await _select_pod(pilot, pod)
        await pilot.press("F")

        async def denied() -> list[dict]:
            return [r for r in await app.session.store.audit_entries("staging") if r["action"] == "port-forward"]

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not await denied():
            assert loop.time() < deadline, "no denied audit row"
            await pilot.pause(0.05)
        [row] = await denied()
        assert row["result"] == "denied" and row["user"] == "vera"
        assert not isinstance(app.screen, PortChoiceScreen)
        assert app.session.port_forwards() == []
        assert emulator.port_forwards.opened == 0
        assert not [path for _, path in emulator.request_log if "portforward" in path]


async def test_help_lists_F_and_P(emulator, tmp_path):
    app = _app(emulator, tmp_path, "olga")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        await pilot.press("question_mark")
        await wait_until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help screen")
        keys = app.screen.query_one(KeyedTable).row_keys
        assert "port-forward:F" in keys and "port-forwards:P" in keys


async def test_F_in_a_service_detail_offers_the_service_ports(emulator, tmp_path):
    from screens.resource_detail import ResourceDetailScreen

    emulator.create_service(NS, "web", selector={"app": "web"}, port=8080, target_port=80)
    app = _app(emulator, tmp_path, "olga")
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        table = app.screen.query_one(ResourceTable)
        await wait_until(pilot, lambda: table.move_to_key("kubernetes/Service/web"), "the service's row")
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen), "the service's detail")
        await pilot.press("F")
        await wait_until(pilot, lambda: isinstance(app.screen, PortChoiceScreen), "the port dialog")
        assert [p.port for p in app.screen.ports] == [8080]
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ResourceDetailScreen), "back on the detail")
        assert app.session.port_forwards() == [] and emulator.port_forwards.opened == 0
