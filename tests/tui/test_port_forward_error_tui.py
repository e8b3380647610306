"""The port-forward panel at 80x24 (finding 10), in the TUI against the Kubernetes emulator:
F on a pod, another remote port (9999, nothing listens there) → the "Forwarding" toast; one
connection, refused by the pod's side → `P`: the toasts are gone (they covered the panel), the
row's state is `error` and its CONN column fits the panel (the narrow column set: LOCAL the
port only, TO cut in its middle), the detail line says "error: nothing listens on port 9999
in pod NAME" and names the whole local address."""

from __future__ import annotations

import asyncio

import pytest

from backends.sim.k8s_emulator import Emulator
from screens.port_choice import PortChoiceScreen
from screens.port_forwards import PortForwardsScreen
from tests.tui.pilot import app_ready, dialog_shown, wait_until
from tui.app import AppOptions, create_app
from tui.core.config import parse_config
from tui.core.port_forward import ForwardState
from tui.widgets.port_forwards import PortForwardTable
from tui.widgets.resource_table import ResourceTable

SIZE = (80, 24)
NS = "staging"
CONFIG = """environments:
  staging:
    access: {{operator: [olga]}}
    kubernetes: {{kubeconfig: "{kubeconfig}", context: emulator, namespace: staging}}
"""


@pytest.fixture
async def emulator():
    emu = Emulator(seed=5)
    await emu.start(host="127.0.0.1", port=0)
    emu.add_namespace(NS)
    emu.create_deployment(NS, "checkout-frontend", replicas=1)  # a long pod name, as real ones are
    try:
        yield emu
    finally:
        await emu.stop()


async def _refused(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"x")
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()


async def test_a_refused_port_reads_as_an_error_in_a_panel_that_fits_80_columns(emulator, tmp_path):
    [pod] = emulator.pod_names(NS)
    kubeconfig = emulator.write_kubeconfig(tmp_path / "kubeconfig", namespace=NS, context="emulator")
    app = create_app(parse_config(CONFIG.format(kubeconfig=kubeconfig)), tmp_path / "state",
                     options=AppOptions(start_env="staging", testing=True, user="olga"))
    async with app.run_test(size=SIZE) as pilot:
        await app_ready(pilot)
        table = app.screen.query_one(ResourceTable)
        await wait_until(pilot, lambda: table.move_to_key(f"kubernetes/Pod/{pod}"), "the pod's row")
        await pilot.pause()
        await pilot.press("F")
        await dialog_shown(pilot, PortChoiceScreen, "the port dialog")
        await pilot.press("tab")  # from the container's ports to "another remote port"
        await pilot.press(*"9999", "enter")
        await wait_until(pilot, lambda: app.session.port_forwards(), "the forward to open")
        [forward] = app.session.port_forwards()
        assert forward.remote_port == 9999
        await wait_until(pilot, lambda: any(n.title == "Forwarding" for n in app._notifications), "the toast")

        assert await _refused(forward.local_port) == b""
        await wait_until(pilot, lambda: forward.state is ForwardState.ERROR, "the refusal",
                         explain=lambda: (forward.state, forward.stats.last_error))

        await pilot.press("P")
        await wait_until(pilot, lambda: isinstance(app.screen, PortForwardsScreen), "the panel")
        await pilot.pause()
        assert list(app._notifications) == [], "no toast over the panel"
        panel = app.screen.query_one(PortForwardTable)
        key = str(forward.id)

        def row() -> list[str]:
            cells = panel.cells_of(key)
            return [c.plain for c in cells] if cells else []

        await wait_until(pilot, lambda: row() and row()[2] == "error", "the row in error", explain=row)
        assert panel.narrow and row()[0] == f":{forward.local_port}" and row()[4] == "0/1"
        assert row()[1].endswith(":9999") and len(row()[1]) <= 22 and "…" in row()[1]
        await pilot.pause()
        assert panel.virtual_size.width <= panel.scrollable_content_region.width, \
            "every column (CONN and REF too) fits the panel: no horizontal scrolling"
        detail = str(app.screen.query_one("#pf-detail").render())
        assert f"error: nothing listens on port 9999 in pod {pod}" in " ".join(detail.split())
        assert forward.local_address in detail
