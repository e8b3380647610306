"""Versions: components × environments, the version each runs (tui/core/compare/versions.py).

`:versions` (or `:ver`) opens it. A row per component (a role: `kubernetes/Deployment/web`
is the same component in every namespace), a column per environment the user may see. A row
whose environments do not all run the same version is marked `≠` and its cells that differ
from the first environment's are drawn in the theme's `warning` colour; `—` is a component an
environment does not have (a row marked `—`: the environments running it agree, some do not
run it — not counted as differing, the hint counts it per environment). Built from what the reconciler observed (no extra backend call),
in a worker thread, again when an environment changes. The line under the table shows the
selected row's whole versions. `/` filters the rows (a component's role or a version containing
the text; Esc clears it, then goes back), `r` builds the matrix again now. The table takes the terminal's width: the version columns
first (up to their longest version), the component the rest; a long version is cut at its
start (`…/api:2.1.0`: the tag or revision at its end is what differs). Outside text is
cleaned and shown as `Text`; colours are theme variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from screens.base import EnvdeckScreen, steady_input
from screens.compare import cut_start
from screens.key_hold import release_keys
from tui.core.compare.versions import ComponentRow, VersionMatrix, build_matrix
from tui.core.model import Resource
from tui.core.sanitize import clean
from tui.messages import RESOURCES
from tui.widgets.cells import Palette
from tui.widgets.status_bar import StatusBar, status_text
from tui.widgets.steady_footer import SteadyFooter
from tui.widgets.throttled_refresh import ThrottledRefresh

REFRESH_S = 3.0
MIN_COMPONENT, MIN_CELL = 12, 10


@dataclass(frozen=True, slots=True)
class MatrixWidths:
    component: int
    cells: tuple[int, ...]   # one per environment, in column order


def matrix_widths(matrix: VersionMatrix, width: int) -> MatrixWidths:
    """Columns that fit a terminal `width` wide: each environment's column as wide as its
    longest version (and its name) when there is room, else an equal share of what the
    component leaves; the component takes the rest, up to its longest name."""
    n = len(matrix.envs)
    room = max(width - 2 * (n + 2) - 2, MIN_COMPONENT + 1 + n * MIN_CELL)  # cell padding, mark, scrollbar
    room -= 1                                                              # the mark column
    wanted_comp = max([len(clean(r.role)) for r in matrix.rows] + [len("COMPONENT")])
    wanted = [max([len(clean(r.versions[e].text)) for r in matrix.rows if e in r.versions] + [len(clean(e)), 1])
              for e in matrix.envs]
    component = min(wanted_comp, max(MIN_COMPONENT, room // (n + 2)))
    share = (room - component) // n if n else 0
    cells = [min(w, max(share, MIN_CELL)) for w in wanted]
    component = min(wanted_comp, max(component, room - sum(cells)))
    left = room - component - sum(cells)
    if left > 0:   # the component is whole: give the rest to the cells still cut
        cut = [i for i, w in enumerate(wanted) if cells[i] < w]
        for i in cut:
            cells[i] = min(wanted[i], cells[i] + left // len(cut))
    return MatrixWidths(component, tuple(cells))


def component_cell(row: ComponentRow, palette: Palette, width: int) -> Text:
    if cell_len(clean(row.role, max_len=200)) > width:  # cut at its start: the name tells rows apart
        return Text(cut_start(clean(row.role, max_len=200), width), style=palette.style("foreground", bold=True),
                    no_wrap=True, end="")
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    backend, _, rest = row.role.partition("/")
    text.append(f"{clean(backend)}/", style=palette.style("text-muted"))
    text.append(clean(rest, max_len=200), style=palette.style("foreground", bold=True))
    text.truncate(width, overflow="ellipsis")
    return text


def version_cell(row: ComponentRow, env: str, first: str | None, palette: Palette, width: int) -> Text:
    version = row.versions.get(env)
    if version is None:
        return Text("—", style=palette.style("text-muted"), end="")
    # the image's name:tag stays readable (cut_version); the selected row's line shows it whole
    text = Text(cut_version(clean(version.text, max_len=400), width), no_wrap=True, end="")
    reference = row.versions.get(first) if first else None
    if row.versions_differ and (reference is None or reference.key != version.key or env == first):
        text.stylize(palette.style("warning", bold=env != first))
    return text


def cut_version(text: str, width: int) -> str:
    """A version in `width` cells, `name:tag` kept readable: an image's registry path goes first
    (`…/nginx:1.27`); then the tag stays whole, after as much of the name's start as fits
    (`wor…:latest-2026-12-01`: the tag is what differs between environments); a tag too long
    for that is cut after most of its start, its last characters kept (`nginx:1.27AAA…AAAAAA`).
    Never cut at the start of the name:tag: `…AAAA` hid which image it was."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…" if width == 1 else ""
    rest, at, digest = text.partition("@")
    if "/" in rest and ", " not in rest:
        text = rest.rsplit("/", 1)[1] + at + digest
        if cell_len(text) + 2 <= width:
            return "…/" + text
    name, colon, tag = rest.rsplit("/", 1)[-1].partition(":") if ", " not in rest else ("", "", "")
    tagpart = colon + tag + at + digest
    if colon and cell_len(tagpart) == width:  # the tag alone, its `:` taken by the `…`
        return "…" + tagpart[1:]
    if colon and cell_len(tagpart) + 1 <= width:
        room = width - 1 - cell_len(tagpart)
        head = name[:room]
        while cell_len(head) > room:  # wide characters
            head = head[:-1]
        return f"{head}…{tagpart}"
    budget = width - 1
    tail = min(6, budget // 3)
    head = text[:budget - tail]
    end = text[len(text) - tail:] if tail else ""
    while cell_len(head) + 1 + cell_len(end) > width and head:  # wide characters
        head = head[:-1]
    return f"{head}…{end}"


def mark_cell(row: ComponentRow, palette: Palette) -> Text:
    if row.versions_differ:
        return Text("≠", style=palette.style("warning", bold=True), end="")
    # the environments running it agree; some environment does not run it (not a difference)
    return Text("—", style=palette.style("text-muted"), end="") if row.absent else Text(" ", end="")


class VersionsScreen(EnvdeckScreen):
    DEFAULT_CSS = """
    VersionsScreen #versions-table { height: 1fr; }
    VersionsScreen #versions-detail { height: auto; max-height: 8; padding: 0 1; color: $text-muted; }
    VersionsScreen #versions-filter { display: none; height: 1; border: none; padding: 0 1; }
    VersionsScreen #versions-filter.shown { display: block; }
    """
    BINDINGS = [
        Binding("escape", "back", "Back", id="versions-back"),
        Binding("slash", "filter", "Filter", id="versions-filter", tooltip="rows whose component or a version contains the text"),
        Binding("r", "rebuild", "Refresh", id="versions-refresh", tooltip="build the matrix again now"),
        Binding("j", "cursor_down", "Down", id="versions-down", show=False),
        Binding("k", "cursor_up", "Up", id="versions-up", show=False),
    ]

    def __init__(self, envs: list[str] | None = None) -> None:
        super().__init__()
        self.only = envs
        self.matrix: VersionMatrix | None = None
        self._refresh = ThrottledRefresh(REFRESH_S)  # the matrix's worker, at most every REFRESH_S
        self._width = 0
        self.needle = ""  # the `/` filter, lowered
        self.shown_rows: list[ComponentRow] = []

    def compose(self) -> ComposeResult:
        yield Static(id="title", classes="title-bar")
        yield Static(id="versions-hint", classes="hint")
        yield steady_input(self.app, placeholder="filter: component or version", id="versions-filter")
        yield DataTable(id="versions-table", cursor_type="row", zebra_stripes=False)
        yield Static(id="versions-detail")  # not `.hint` (at most 2 lines): a line per environment
        yield StatusBar(id="status")
        yield SteadyFooter(compact=True)

    def on_mount(self) -> None:
        self.ready = True
        self.refresh_all()
        self.query_one(DataTable).focus()

    def on_resize(self) -> None:
        if self.ready and self.matrix is not None and self.size.width != self._width:
            self._show(self.matrix)

    def envs(self) -> list[str]:
        shown = self.session.environments()
        return [e for e in shown if self.only is None or e in self.only]

    # -- data: the observed inventories, the matrix built in a worker thread -------------
    def env_updated(self, env: str, kinds: set[str]) -> None:
        if RESOURCES in kinds:
            self._refresh.changed()
        self.tick()

    def tick(self) -> None:
        if not self.app.is_running:
            return
        if self._refresh.due():
            self.refresh_all()
        session = self.session
        self.query_one(StatusBar).update(status_text(
            user=session.user, role=None, read_only=session.policy.read_only, state=None,
            now=self.envdeck.now(), palette=self.envdeck.palette, activity=self.envdeck.activity_label(),
            verbose=self.size.width >= 100))

    def refresh_all(self) -> None:
        palette = self.envdeck.palette
        envs = self.envs()
        title = Text(no_wrap=True, overflow="ellipsis", end="")
        title.append(" versions ", style=palette.style("primary", bold=True))
        title.append(clean(" · ".join(envs)), style=palette.style("text-muted"))
        self.query_one("#title", Static).update(title)
        if not self._refresh.begin():  # one runs: the change is followed when it is done
            return
        states = self.session.states()
        observed = {env: list(states[env].all_resources()) for env in envs if env in states}
        mappings = getattr(getattr(self.session.config, "compare", None), "mappings", None) or []
        self.run_worker(partial(self._build, observed, list(mappings)), thread=True, exclusive=True,
                        group="versions", exit_on_error=False)

    def _build(self, observed: dict[str, list[Resource]], mappings: list) -> None:
        self.post_message(self.Built(build_matrix(observed, mappings)))

    @dataclass
    class Built(Message):
        matrix: VersionMatrix

    @on(Built)
    def _built(self, message: Built) -> None:
        self._refresh.done()
        self._show(message.matrix)

    # -- drawing -----------------------------------------------------------------------------
    def _show(self, matrix: VersionMatrix) -> None:
        palette = self.envdeck.palette
        self.matrix = matrix
        table = self.query_one(DataTable)
        keep = table.cursor_row
        self._width = self.size.width or 80
        widths = matrix_widths(matrix, self._width)
        table.clear(columns=True)
        table.add_column(" ", key="mark", width=1)
        table.add_column("COMPONENT", key="component", width=widths.component)
        for env, width in zip(matrix.envs, widths.cells, strict=True):
            table.add_column(Text(cut_start(clean(env), width), no_wrap=True, end=""), key=f"env:{env}", width=width)
        first = matrix.envs[0] if matrix.envs else None
        self.shown_rows = [row for row in matrix.rows if not self.needle or self.needle in clean(
            " ".join([row.role, *(v.text for v in row.versions.values())]), max_len=2000).lower()]
        for row in self.shown_rows:
            table.add_row(mark_cell(row, palette), component_cell(row, palette, widths.component),
                          *(version_cell(row, env, first, palette, width)
                            for env, width in zip(matrix.envs, widths.cells, strict=True)), key=row.role)
        if self.shown_rows:
            table.move_cursor(row=min(keep, len(self.shown_rows) - 1))
        differ = matrix.differing
        hint = Text(no_wrap=True, overflow="ellipsis", end="")
        if self.needle:
            hint.append(f"{len(self.shown_rows)} of ", style=palette.style("accent"))
        if matrix.rows:
            hint.append(f"{len(matrix.rows)} component(s), ")
            hint.append(f"{differ} differ (≠)", style=palette.style("warning" if differ else "success"))
            absent = matrix.absent_counts()
            if absent:   # not counted as differing: an environment that does not run it at all
                hint.append("; absent (—): " + ", ".join(f"{n} in {clean(env)}" for env, n in absent.items()),
                            style=palette.style("text-muted"))
            if self.needle:
                hint.append(f"  /{clean(self.needle, max_len=30)}", style=palette.style("accent"))
            tip = "  · envdeck promote A B --plan"
            if hint.cell_len + len(tip) <= self._width - 2:   # the counts first; the tip where it fits
                hint.append(tip, style=palette.style("text-muted"))
        else:
            hint.append("no versioned components observed yet (Kubernetes workloads, ECS services, Lambda "
                        "functions, edge services)", style=palette.style("text-muted"))
        self.query_one("#versions-hint", Static).update(hint)
        self._say_detail()
        self.tick()

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._say_detail()

    def _say_detail(self) -> None:
        """Under the table: the selected component, then each environment's whole version on a line."""
        line = Text(end="")
        matrix = self.matrix
        table = self.query_one(DataTable)
        if matrix is not None and self.shown_rows and 0 <= table.cursor_row < len(self.shown_rows):
            row = self.shown_rows[table.cursor_row]
            palette = self.envdeck.palette
            line.append(clean(row.role), style=palette.style("text-muted"))
            for env in matrix.envs:
                version = row.versions.get(env)
                line.append(f"\n{clean(env)}: ", style=palette.style("text-muted"))
                line.append(clean(version.text) if version else "—")
        self.query_one("#versions-detail", Static).update(line)

    def action_cursor_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    # -- the filter (`/`, k9s) and a rebuild (`r`) ----------------------------------------------
    def holds_keys_after(self, key: str) -> str | None:
        """`/` opens the box and Enter/Esc in it close it: the keys typed after them in one burst
        wait until the box (or the table) has the focus (screens/key_hold.py): `/web⏎j`."""
        box = self.query_one("#versions-filter", Input)
        if (key == "slash" and self.focused is self.query_one(DataTable)) or (
                key in ("enter", "escape") and self.focused is box):
            return "filter"
        return None

    def action_filter(self) -> None:
        box = self.query_one("#versions-filter", Input)
        box.add_class("shown")
        box.focus()
        release_keys(self.app, "filter")  # after the focus()

    @on(Input.Changed, "#versions-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.needle = event.value.strip().lower()
        if self.matrix is not None:
            self._show(self.matrix)

    @on(Input.Submitted, "#versions-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.needle:
            event.input.remove_class("shown")
        self.query_one(DataTable).focus()
        release_keys(self.app, "filter")

    def action_rebuild(self) -> None:
        """`r`: the matrix again now, from what the reconciler observed (no backend call)."""
        self.refresh_all()
        self.envdeck.notify("versions: building again from the last observations (no backend call)", timeout=2,
                            markup=False)

    def action_back(self) -> None:
        box = self.query_one("#versions-filter", Input)
        if box.has_class("shown") or self.needle:
            box.value = ""
            box.remove_class("shown")
            self.needle = ""
            if self.matrix is not None:
                self._show(self.matrix)
            self.query_one(DataTable).focus()
            release_keys(self.app, "filter")
            return
        self.app.pop_screen()
