"""Xray: what the resource depends on and what depends on it, as a tree (tui/core/xray.py).

Two branches under the resource: "depends on" (following links down: Ingress → Service →
Pods → their ConfigMaps) and "depended on by" (up: who breaks when this does). Each node shows
its own health and, when something below it is worse, that roll-up beside it; the nodes whose
roll-up is not Healthy are opened, so the path to the red root is in view at once. Enter on a
node opens that resource's details. Outside text (names, reasons) is cleaned and shown as
`Text`, colours come from the theme's variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from screens.base import EnvdeckScreen
from tui.core.env_state import EnvState
from tui.core.errors import EnvdeckError, NotFound
from tui.core.model import Health, worst_health
from tui.core.sanitize import clean
from tui.core.xray import (
    XrayGraph,
    XrayNode,
    XrayTree,
    cached_graph,
    graph_key,
    link_sources,
    pending_backends,
    pending_reason,
    remember_graph,
    shown_names,
    snapshot,
    xray,
)
from tui.messages import RESOURCES
from tui.widgets.cells import Palette, health_cell
from tui.widgets.status_bar import StatusBar, status_text
from tui.widgets.steady_footer import SteadyFooter
from tui.widgets.throttled_refresh import ThrottledRefresh

NAME_WIDTH = 40
REFRESH_S = 3.0


def node_label(node: XrayNode, palette: Palette, name: str | None = None) -> Text:
    label = Text(no_wrap=True, overflow="ellipsis", end="")
    label.append_text(health_cell(str(node.health), palette))
    if node.relation:
        label.append(f" {clean(node.relation)}", style=palette.style("text-muted"))
    label.append(f" {clean(node.kind)}/", style=palette.style("text-muted"))
    label.append(clean(node.name if name is None else name, max_len=NAME_WIDTH),
                 style=palette.style("foreground", bold=True))
    if worst_health([node.health, node.rolled]) is not node.health:
        label.append("  below: ", style=palette.style("text-muted"))
        label.append_text(health_cell(str(node.rolled), palette))
    if node.cycle:
        label.append("  ↺ already above", style=palette.style("text-muted"))
    elif node.missing:
        label.append(f"  {clean(node.reason)}", style=palette.style("warning"))
    elif node.reason and node.health is not Health.HEALTHY:
        label.append(f"  {clean(node.reason, max_len=80)}", style=palette.style("text-muted"))
    return label


def branch_label(title: str, nodes: list[XrayNode], palette: Palette) -> Text:
    """The header of a branch: how many nodes and the worst roll-up among them (not the root's
    own health; the nodes come worst first, so those left out are no worse than the first)."""
    label = Text(title, style=palette.style("accent", bold=True), no_wrap=True, end="")
    if not nodes:
        label.append("  nothing known", style=palette.style("text-muted"))
    else:
        label.append(f"  ({len(nodes)}) ", style=palette.style("text-muted"))
        label.append_text(health_cell(str(worst_health([n.rolled for n in nodes])), palette))
    return label


class XrayTreeWidget(Tree):
    """The tree, each label cut to the width left beside its guides with a `…` (the Tree
    widget crops a long line without saying so)."""

    def render_label(self, node: TreeNode, base_style, style) -> Text:  # type: ignore[override]
        text = super().render_label(node, base_style, style)
        depth, parent = 0, node.parent
        while parent is not None:
            depth, parent = depth + 1, parent.parent
        guides = max(0, depth - (0 if self.show_root else 1)) * max(2, self.guide_depth)
        room = self.scrollable_content_region.width - guides
        if room > 1 and text.cell_len > room:
            text.truncate(room, overflow="ellipsis")
        return text


class XrayScreen(EnvdeckScreen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="xray-back"),
        Binding("i", "describe", "Details", id="describe", tooltip="Open the selected node's details"),
        Binding("x", "xray", "Xray here", id="xray", tooltip="The xray of the selected node"),
        Binding("j", "tree_down", "Down", id="xray-down", show=False),  # as in the tables (docs/tui.md)
        Binding("k", "tree_up", "Up", id="xray-up", show=False),
    ]

    def __init__(self, env: str, resource_id: str) -> None:
        super().__init__()
        self.env = env
        self.resource_id = resource_id
        self.tree_shown: XrayTree | None = None
        self._refresh = ThrottledRefresh(REFRESH_S)  # the graph's worker, at most every REFRESH_S
        self._xray_nodes: dict[str, XrayNode] = {}  # the nodes shown, by id (for the message line)

    def compose(self) -> ComposeResult:
        yield Static(id="title", classes="title-bar")
        yield Static(id="xray-hint", classes="hint")
        yield XrayTreeWidget("", id="xray-tree")
        yield Static(id="xray-message", classes="hint")  # the selected node's whole message
        yield StatusBar(id="status")
        yield SteadyFooter(compact=True)

    def on_mount(self) -> None:
        tree = self.query_one(Tree)
        tree.show_root = True
        tree.guide_depth = 3
        tree.auto_expand = False  # enter opens the details; space opens and closes a node
        self.ready = True
        self.refresh_all()
        tree.focus()

    def env_updated(self, env: str, kinds: set[str]) -> None:
        # followed at most every REFRESH_S (a watched namespace changes many times a second; the
        # graph of 20k pods takes a worker 0.2-0.8 s): tick() refreshes when something changed
        if env == self.env and RESOURCES in kinds:
            self._refresh.changed()
        self.tick()

    def tick(self) -> None:
        if not self.app.is_running:
            return
        if self._refresh.due():
            self.refresh_all()
        session = self.session
        role = session.policy.role(self.env)
        self.query_one(StatusBar).update(status_text(
            user=session.user, role=role.label if role else None, read_only=session.policy.read_only,
            state=self.env_state(self.env), now=self.envdeck.now(), palette=self.envdeck.palette,
            activity=self.envdeck.activity_label(), verbose=self.size.width >= 100))

    def refresh_all(self) -> None:
        """The tree of the current observation: at once when its graph is built already, else
        the graph is built in a worker thread (0.2-0.8 s at 20k pods) and `Built` shows it."""
        palette = self.envdeck.palette
        title = Text(no_wrap=True, overflow="ellipsis", end="")
        title.append(f" {clean(self.env)}", style=palette.style("primary", bold=True))
        title.append(" › xray ", style=palette.style("text-muted"))
        title.append(clean(self.resource_id, max_len=90), style=palette.style("foreground", bold=True))
        self.query_one("#title", Static).update(title)
        if self._refresh.running:
            self._refresh.changed()
            return
        state = self.env_state(self.env)
        try:
            sources = link_sources(self.session, self.env)
        except EnvdeckError as exc:
            self._show(None, exc)
            return
        graph = cached_graph(state, sources)
        if graph is not None:
            self._refresh.settled()
            self._show_from(graph)
            return
        self._refresh.begin()
        if self.tree_shown is None:
            self.query_one("#xray-hint", Static).update(Text("reading the links…", end=""))
        self.run_worker(partial(self._build, state, graph_key(state, sources), snapshot(state), sources),
                        thread=True, exclusive=True, group="xray", exit_on_error=False)

    def _build(self, state: EnvState, key: tuple, inputs: dict, sources: dict) -> None:
        """In a worker thread: the graph of the snapshot taken on the event loop."""
        graph = XrayGraph.of_inputs(inputs, sources)
        self.post_message(self.Built(state, key, graph))

    @dataclass
    class Built(Message):
        state: EnvState
        key: tuple
        graph: XrayGraph

    @on(Built)
    def _built(self, message: Built) -> None:
        self._refresh.done()
        remember_graph(message.state, message.key, message.graph)
        self._show_from(message.graph)  # news that came meanwhile: tick() follows them

    def _show_from(self, graph: XrayGraph) -> None:
        try:
            found = xray(None, self.resource_id, graph=graph, pending=pending_backends(self.env_state(self.env)))
        except KeyError:
            self._show(None, NotFound(f"no resource {self.resource_id} in {self.env}"))
            return
        self._show(found)

    def _show(self, found: XrayTree | None, error: Exception | None = None) -> None:
        palette = self.envdeck.palette
        self.tree_shown = found
        hint = self.query_one("#xray-hint", Static)
        if found is None:
            hint.update(Text(clean(error or ""), style=palette.style("warning")))
            self.query_one(Tree).clear()
            self._say_message(None)
            return
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        state = self.env_state(self.env)
        leader = state.leader if state.leader not in ("", "you") else None
        for name in pending_backends(state):  # not known yet, not unreachable (as `envdeck status` says)
            line.append(f"{pending_reason(name, leader)} · ", style=palette.style("warning"))
        line.append("enter details · space open/close · x xray here · below: worst under it")
        hint.update(line)
        self._fill(found, palette)
        cursor = self.query_one(Tree).cursor_node
        # right after a refill the cursor may still read the tree before it: the root's message then
        self._say_message(cursor.data if cursor is not None and isinstance(cursor.data, str)
                          else found.root.resource_id)
        self.tick()

    def _fill(self, found: XrayTree, palette: Palette) -> None:
        tree = self.query_one(Tree)
        line = tree.cursor_line
        tree.clear()
        root = found.root
        tree.root.set_label(node_label(root, palette))
        tree.root.data = root.resource_id
        self._xray_nodes = {root.resource_id: root}
        down = tree.root.add(branch_label("depends on", found.depends_on, palette), expand=True)
        self._add(down, found.depends_on, palette)
        up = tree.root.add(branch_label("depended on by", found.depended_on_by, palette), expand=True)
        self._add(up, found.depended_on_by, palette)
        tree.root.expand()
        if line > 0:
            tree.cursor_line = min(line, max(0, tree.last_line))

    def _add(self, parent: TreeNode, nodes: list[XrayNode], palette: Palette, depth: int = 0) -> None:
        for node, name in zip(nodes, shown_names(nodes), strict=True):
            label = node_label(node, palette, name)
            self._xray_nodes.setdefault(node.resource_id, node)
            if not (node.children or node.more or node.truncated):
                parent.add_leaf(label, data=node.resource_id)
                continue
            opened = bool(node.children) and (depth == 0 or node.rolled is not Health.HEALTHY)
            child = parent.add(label, data=node.resource_id, expand=opened)
            self._add(child, node.children, palette, depth + 1)
            if node.more:
                child.add_leaf(Text(f"… {node.more} more", style=palette.style("text-muted")))
            elif node.truncated:
                child.add_leaf(Text("… deeper: x on this node", style=palette.style("text-muted")))

    @on(Tree.NodeHighlighted)
    def _highlighted(self, event: Tree.NodeHighlighted) -> None:
        cursor = self.query_one(Tree).cursor_node  # not event.node: a highlight may arrive after a refill
        if cursor is not None and isinstance(cursor.data, str):  # a branch header keeps the last message
            self._say_message(cursor.data)

    def _say_message(self, resource_id: object) -> None:
        """The line under the tree: the selected node's id and its whole reason, wrapped."""
        node = self._xray_nodes.get(resource_id) if isinstance(resource_id, str) else None
        line = Text(end="")
        if node is not None:
            line.append(clean(node.resource_id), style=self.envdeck.palette.style("text-muted"))
            if node.reason:
                line.append(f"  {clean(node.reason)}")
        self.query_one("#xray-message", Static).update(line)

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected) -> None:
        event.stop()
        self._open(event.node.data)

    def action_describe(self) -> None:
        node = self.query_one(Tree).cursor_node
        self._open(node.data if node is not None else None)

    def _open(self, resource_id: object) -> None:
        if not isinstance(resource_id, str):
            return
        if self.env_state(self.env).resource(resource_id) is None:
            self.notify(f"{clean(resource_id)} is not in the observed inventory", severity="warning")
            return
        from screens.resource_detail import ResourceDetailScreen

        self.envdeck.push_screen(ResourceDetailScreen(self.env, resource_id))

    def action_xray(self) -> None:
        node = self.query_one(Tree).cursor_node
        target = node.data if node is not None else None
        if isinstance(target, str) and target != self.resource_id and \
                self.env_state(self.env).resource(target) is not None:
            self.envdeck.push_screen(XrayScreen(self.env, target))

    def action_tree_down(self) -> None:
        self.query_one(Tree).action_cursor_down()

    def action_tree_up(self) -> None:
        self.query_one(Tree).action_cursor_up()

    def action_back(self) -> None:
        self.app.pop_screen()
