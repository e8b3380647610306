"""The open port-forwards as a table: local address → resource:port, state, bytes, connections
(active/accepted) and connections refused (another local user's: see the forwarder).

Rows are keyed by the forward's id (its audit row), so the cursor stays on a forward
while its counters change; the last error of the selected forward is shown by the screen."""

from __future__ import annotations

from rich.text import Text

from tui.core.port_forward import ForwardState, PortForward
from tui.core.text_cut import cell_width, cut_middle
from tui.widgets.cells import Palette, safe
from tui.widgets.keyed_table import Cells, KeyedTable

COLUMNS = (("local", "LOCAL"), ("resource", "TO"), ("state", "STATE"), ("bytes", "IN/OUT"), ("conns", "CONN"), ("refused", "REF"))
_STATE_VAR = {ForwardState.OPEN: "success", ForwardState.LISTENING: "text-muted",
              ForwardState.RECONNECTING: "warning", ForwardState.ERROR: "error", ForwardState.CLOSED: "text-muted"}
#: Below this many columns the table is narrow: LOCAL is the port only (the host is always
#: 127.0.0.1; the detail line names the whole address) and TO is cut in its middle to
#: NARROW_TO cells, its `:PORT` kept, so CONN and REF stay on screen at 80 columns (72 cells
#: inside the panel: 6 + 22 + 12 "reconnecting" + 13 "999.9K/999.9K" + 4 + 3, and 2 a column).
NARROW_BELOW = 100
NARROW_TO = 22


def byte_count(n: int) -> str:
    for unit in ("B", "K", "M", "G"):
        if n < 1024 or unit == "G":
            return f"{n}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n}"


def cut_target(text: str, suffix: str, width: int) -> str:
    """`text` + `suffix` in at most `width` cells: `text` cut in its middle with `…`, `suffix` kept
    (kept whole when fewer than two cells of `text` would stay)."""
    room = width - cell_width(suffix)
    if room < 3:
        return text + suffix
    return cut_middle(text, room) + suffix


def forward_cells(forward: PortForward, palette: Palette, *, narrow: bool = False) -> Cells:
    stats = forward.stats
    target = forward.resource_id.split("/", 1)[-1]  # kubernetes/Pod/web → Pod/web
    local = f":{forward.local_port}" if narrow else forward.local_address
    to = cut_target(target, f":{forward.remote_port}", NARROW_TO if narrow else 40)
    return (safe(local),
            safe(to, max_len=60),
            Text(str(forward.state), style=palette.style(_STATE_VAR.get(forward.state, "foreground")), end=""),
            Text(f"{byte_count(stats.bytes_in)}/{byte_count(stats.bytes_out)}", end=""),
            Text(f"{stats.active}/{stats.connections}", end=""),
            Text(str(stats.refused), style=palette.style("warning" if stats.refused else "text-muted"), end=""))


class PortForwardTable(KeyedTable):
    """One row per open forward (`show` re-syncs by difference)."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's word
        super().__init__(COLUMNS, id=id)
        self.narrow = False

    def on_mount(self) -> None:  # KeyedTable's own (adding the columns) is called by Textual too
        self.narrow = self.app.size.width < NARROW_BELOW

    def show(self, forwards: list[PortForward], palette: Palette) -> None:
        rows = {str(f.id): forward_cells(f, palette, narrow=self.narrow) for f in forwards}
        self.sync(rows, list(rows))
