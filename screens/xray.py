"""Xray: what the resource depends on and what depends on it, as a tree (tui/core/xray.py).

Two branches under the resource: "depends on" (following links down: Ingress → Service →
Pods → their ConfigMaps) and "depended on by" (up: who breaks when this does). Each node shows
its own health and, when something below it is worse, that roll-up beside it; the nodes whose
roll-up is not Healthy are opened, so the path to the red root is in view at once. Enter on a
node opens that resource's details. Outside text (names, reasons) is cleaned and shown as
`Text`, colours come from the theme's variables.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static, Tree
from textual.widgets.tree import TreeNode

from screens.base import EnvdeckScreen
from tui.core.errors import EnvdeckError
from tui.core.model import Health, worst_health
from tui.core.sanitize import clean
from tui.core.xray import XrayNode, XrayTree, xray_in
from tui.messages import RESOURCES
from tui.widgets.cells import Palette, health_cell
from tui.widgets.status_bar import StatusBar, status_text

NAME_WIDTH = 40


def node_label(node: XrayNode, palette: Palette) -> Text:
    label = Text(no_wrap=True, overflow="ellipsis", end="")
    label.append_text(health_cell(str(node.health), palette))
    if node.relation:
        label.append(f" {clean(node.relation)}", style=palette.style("text-muted"))
    label.append(f" {clean(node.kind)}/", style=palette.style("text-muted"))
    label.append(clean(node.name, max_len=NAME_WIDTH), style=palette.style("foreground", bold=True))
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


def branch_label(title: str, nodes: list[XrayNode], rolled: Health, palette: Palette) -> Text:
    label = Text(title, style=palette.style("accent", bold=True), no_wrap=True, end="")
    if not nodes:
        label.append("  nothing known", style=palette.style("text-muted"))
    else:
        label.append(f"  ({len(nodes)}) ", style=palette.style("text-muted"))
        label.append_text(health_cell(str(rolled), palette))
    return label


class XrayScreen(EnvdeckScreen):
    BINDINGS = [
        Binding("escape", "back", "Back", id="xray-back"),
        Binding("i", "describe", "Details", id="describe", tooltip="Open the selected node's details"),
        Binding("X", "xray", "Xray here", id="xray", tooltip="The xray of the selected node"),
    ]

    def __init__(self, env: str, resource_id: str) -> None:
        super().__init__()
        self.env = env
        self.resource_id = resource_id
        self.tree_shown: XrayTree | None = None
        self._revision: object = None

    def compose(self) -> ComposeResult:
        yield Static(id="title", classes="title-bar")
        yield Static(id="xray-hint", classes="hint")
        yield Tree("", id="xray-tree")
        yield StatusBar(id="status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        tree = self.query_one(Tree)
        tree.show_root = True
        tree.guide_depth = 3
        tree.auto_expand = False  # enter opens the details; space opens and closes a node
        self.ready = True
        self.refresh_all()
        tree.focus()

    def env_updated(self, env: str, kinds: set[str]) -> None:
        if env == self.env and RESOURCES in kinds:
            self.refresh_all()
        self.tick()

    def tick(self) -> None:
        if not self.app.is_running:
            return
        session = self.session
        role = session.policy.role(self.env)
        self.query_one(StatusBar).update(status_text(
            user=session.user, role=role.label if role else None, read_only=session.policy.read_only,
            state=session.state(self.env), now=self.envdeck.now(), palette=self.envdeck.palette,
            activity=self.envdeck.activity_label(), verbose=self.size.width >= 100))

    def refresh_all(self) -> None:
        palette = self.envdeck.palette
        title = Text(no_wrap=True, overflow="ellipsis", end="")
        title.append(f" {clean(self.env)}", style=palette.style("primary", bold=True))
        title.append(" › xray ", style=palette.style("text-muted"))
        title.append(clean(self.resource_id, max_len=90), style=palette.style("foreground", bold=True))
        self.query_one("#title", Static).update(title)
        try:
            found = xray_in(self.session, self.env, self.resource_id)
        except EnvdeckError as exc:
            self.tree_shown = None
            self.query_one("#xray-hint", Static).update(Text(clean(exc), style=palette.style("warning")))
            self.query_one(Tree).clear()
            return
        self.tree_shown = found
        self.query_one("#xray-hint", Static).update(Text(
            "enter details · space open/close · X xray here · below: worst under it",
            no_wrap=True, overflow="ellipsis", end=""))
        self._fill(found, palette)
        self.tick()

    def _fill(self, found: XrayTree, palette: Palette) -> None:
        tree = self.query_one(Tree)
        line = tree.cursor_line
        tree.clear()
        root = found.root
        tree.root.set_label(node_label(root, palette))
        tree.root.data = root.resource_id
        down = tree.root.add(branch_label("depends on", found.depends_on, found.rolled, palette), expand=True)
        self._add(down, found.depends_on, palette)
        up = tree.root.add(branch_label("depended on by", found.depended_on_by, found.dependents_rolled, palette),
                           expand=True)
        self._add(up, found.depended_on_by, palette)
        tree.root.expand()
        if line > 0:
            tree.cursor_line = min(line, max(0, tree.last_line))

    def _add(self, parent: TreeNode, nodes: list[XrayNode], palette: Palette, depth: int = 0) -> None:
        for node in nodes:
            label = node_label(node, palette)
            if not (node.children or node.more or node.truncated):
                parent.add_leaf(label, data=node.resource_id)
                continue
            opened = bool(node.children) and (depth == 0 or node.rolled is not Health.HEALTHY)
            child = parent.add(label, data=node.resource_id, expand=opened)
            self._add(child, node.children, palette, depth + 1)
            if node.more:
                child.add_leaf(Text(f"… {node.more} more", style=palette.style("text-muted")))
            elif node.truncated:
                child.add_leaf(Text("… deeper: X on this node", style=palette.style("text-muted")))

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
        if self.session.state(self.env).resource(resource_id) is None:
            self.notify(f"{clean(resource_id)} is not in the observed inventory", severity="warning")
            return
        from screens.resource_detail import ResourceDetailScreen

        self.envdeck.push_screen(ResourceDetailScreen(self.env, resource_id))

    def action_xray(self) -> None:
        node = self.query_one(Tree).cursor_node
        target = node.data if node is not None else None
        if isinstance(target, str) and target != self.resource_id and \
                self.session.state(self.env).resource(target) is not None:
            self.envdeck.push_screen(XrayScreen(self.env, target))

    def action_back(self) -> None:
        self.app.pop_screen()
