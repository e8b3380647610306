"""The Metrics view: one row per series with a sparkline, and a plot of the
selected series (Textual's Sparkline) over a window of 15m / 1h / 6h / 24h.

Loading runs in a worker (`Session.metrics`) and arrives as `MetricsLoaded`."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Sparkline, Static

from tui.core.model import MetricSeries, Resource
from tui.core.sanitize import clean
from tui.messages import MetricsLoaded
from tui.widgets.cells import Palette, format_number, muted, safe, sparkline_text
from tui.widgets.keyed_table import Cells, KeyedTable
from tui.widgets.record_views import resource_label

WINDOWS: tuple[tuple[str, float], ...] = (("15m", 900.0), ("1h", 3600.0), ("6h", 21600.0), ("24h", 86400.0))
SEP = "\t"


class SeriesTable(KeyedTable):
    COLUMNS = (("resource", "RESOURCE"), ("metric", "METRIC"), ("last", "LAST"), ("min", "MIN"), ("max", "MAX"),
               ("trend", "TREND"))

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(self.COLUMNS, id=id)


def series_key(s: MetricSeries) -> str:
    return f"{s.resource}{SEP}{s.name}"


class MetricsView(Vertical):
    BINDINGS = [
        Binding("w", "next_window", "Window", id="metrics-window", tooltip="15m / 1h / 6h / 24h"),
        Binding("ctrl+r", "reload", "Reload", id="metrics-reload", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.window_index = 1
        self.series: dict[str, MetricSeries] = {}
        self.error: str | None = None
        self.fetching = False
        self.resource_filter: str | None = None
        # Names resources ("staging-bastion (i-0abc…)" rather than the id); set by the screen.
        self.resource_lookup: Callable[[str], Resource | None] | None = None

    def _label(self, resource_id: str) -> str:
        lookup = self.resource_lookup
        return resource_label(resource_id, lookup(resource_id) if lookup is not None else None)

    @property
    def window(self) -> tuple[str, float]:
        return WINDOWS[self.window_index]

    def compose(self) -> ComposeResult:
        yield Static(id="metrics-toolbar", classes="toolbar")
        yield SeriesTable(id="series")
        yield Static(id="plot-title", classes="plot-title")
        yield Sparkline([], id="plot", summary_function=max)
        yield Static(id="plot-axis", classes="hint")

    def on_mount(self) -> None:
        self._update_toolbar()

    def _palette(self) -> Palette:
        return getattr(self.app, "palette", Palette({}))

    def _update_toolbar(self) -> None:
        palette = self._palette()
        t = Text(no_wrap=True, overflow="ellipsis", end="")
        t.append("window ", style=palette.style("text-muted"))
        for i, (label, _) in enumerate(WINDOWS):
            if i == self.window_index:
                t.append(f"[{label}]", style=palette.style("accent", bold=True))
            else:
                t.append(f" {label} ", style=palette.style("text-muted"))
        t.append(f"  {len(self.series)} series", style=palette.style("text-muted"))
        if self.resource_filter:
            t.append(f"  {clean(self._label(self.resource_filter), max_len=40)}")
        if self.fetching:
            t.append("  loading…", style=palette.style("primary"))
        if self.error:
            t.append(f"  {clean(self.error, max_len=100)}", style=palette.style("error"))
        self.query_one("#metrics-toolbar", Static).update(t)

    def mark_loading(self) -> None:
        self.fetching = True
        self._update_toolbar()

    @on(MetricsLoaded)
    def _loaded(self, message: MetricsLoaded) -> None:
        message.stop()
        self.fetching = False
        self.error = message.error
        if message.window_s != self.window[1]:
            self._update_toolbar()
            return
        self.series = {series_key(s): s for s in message.series if s.points}
        palette = self._palette()
        rows: dict[str, Cells] = {}
        for key, s in sorted(self.series.items()):
            values = [v for _, v in s.points]
            unit = f" {clean(s.unit)}" if s.unit else ""
            rows[key] = (safe(self._label(s.resource), max_len=40), safe(s.name, max_len=24),
                         Text(format_number(values[-1]) + unit, end=""), Text(format_number(min(values)), end=""),
                         Text(format_number(max(values)), end=""),
                         Text(sparkline_text(values, 16), style=palette.style("primary"), end=""))
        table = self.query_one(SeriesTable)
        table.sync(rows, list(rows))
        if not rows:
            self.query_one("#plot-title", Static).update(muted("no metrics in this window", palette))
        self._plot(table.cursor_key)
        self._update_toolbar()

    @on(DataTable.RowHighlighted, "#series")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._plot(event.row_key.value if event.row_key else None)

    def _plot(self, key: str | None) -> None:
        series = self.series.get(key) if key else None
        spark = self.query_one("#plot", Sparkline)
        title = self.query_one("#plot-title", Static)
        axis = self.query_one("#plot-axis", Static)
        if series is None:
            spark.data = []
            axis.update("")
            return
        values = [v for _, v in series.points]
        unit = f" {clean(series.unit)}" if series.unit else ""
        title.update(Text(f"{clean(self._label(series.resource), max_len=50)} · {clean(series.name)}{unit} · "
                          f"last {format_number(values[-1])} · min {format_number(min(values))} · "
                          f"max {format_number(max(values))}", no_wrap=True, overflow="ellipsis", end=""))
        spark.data = values
        first, last = series.points[0][0], series.points[-1][0]
        axis.update(Text(f"{first:%H:%M}  …  {last:%H:%M} UTC  ({len(values)} points, window {self.window[0]})",
                         end=""))

    def action_next_window(self) -> None:
        self.window_index = (self.window_index + 1) % len(WINDOWS)
        self.action_reload()

    def action_reload(self) -> None:
        self.post_message(self.ReloadRequested())
        self.mark_loading()

    class ReloadRequested(Message):
        """The user changed the window or asked for a reload."""
