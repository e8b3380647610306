"""The open port-forwards as a table: local address → resource:port, state, bytes, connections
(active/accepted) and connections refused (another local user's: see the forwarder).

Rows are keyed by the forward's id (its audit row), so the cursor stays on a forward
while its counters change; the last error of the selected forward is shown by the screen."""

from __future__ import annotations

from rich.text import Text

from tui.core.port_forward import ForwardState, PortForward
from tui.widgets.cells import Palette, safe
from tui.widgets.keyed_table import Cells, KeyedTable

COLUMNS = (("local", "LOCAL"), ("resource", "TO"), ("state", "STATE"), ("bytes", "IN/OUT"), ("conns", "CONN"), ("refused", "REF"))
_STATE_VAR = {ForwardState.OPEN: "success", ForwardState.LISTENING: "text-muted",
              ForwardState.RECONNECTING: "warning", ForwardState.CLOSED: "text-muted"}


def byte_count(n: int) -> str:
    for unit in ("B", "K", "M", "G"):
        if n < 1024 or unit == "G":
            return f"{n}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n}"


def forward_cells(forward: PortForward, palette: Palette) -> Cells:
    stats = forward.stats
    target = forward.resource_id.split("/", 1)[-1]  # kubernetes/Pod/web → Pod/web
    return (safe(forward.local_address),
            safe(f"{target}:{forward.remote_port}", max_len=40),
            Text(str(forward.state), style=palette.style(_STATE_VAR.get(forward.state, "foreground")), end=""),
            Text(f"{byte_count(stats.bytes_in)}/{byte_count(stats.bytes_out)}", end=""),
            Text(f"{stats.active}/{stats.connections}", end=""),
            Text(str(stats.refused), style=palette.style("warning" if stats.refused else "text-muted"), end=""))


class PortForwardTable(KeyedTable):
    """One row per open forward (`show` re-syncs by difference)."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's word
        super().__init__(COLUMNS, id=id)

    def show(self, forwards: list[PortForward], palette: Palette) -> None:
        rows = {str(f.id): forward_cells(f, palette) for f in forwards}
        self.sync(rows, list(rows))
