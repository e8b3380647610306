"""The footer's keys drawn by one widget, not one widget per key.

Textual's Footer composes a FooterKey widget for each key, and composes them all again whenever the
screen's bindings are refreshed (a screen shown, the selection moved, a view shown). Widgets mounted
after a screen's first layout need a layout and a frame of their own: on a screen built on the
switch the footer's keys came a frame after the table (its bindings are known only once the table
is focused, after the footer was composed), and every later recompose mounted and styled ~10
widgets and laid the screen out again. This footer draws the same keys as one line when it is
rendered: the keys are read at that frame, so the first frame of a screen shows them, and a change
of keys is a repaint of one line.

What a FooterKey did is kept: the same styles (the `footer-*` theme variables, `-disabled` keys
dim, the hovered key highlighted), a click presses the key (a disabled one rings the bell), a
key's tooltip, one key per action, the command palette's key docked at the right, the keys past
it hidden under it. `drawn` gives what the last frame drew, with each key's place."""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual import events
from textual.geometry import Region
from textual.keys import key_to_character
from textual.widgets import Footer

PALETTE_ACTION = "command_palette"
# Keys a footer too narrow for all of its keys keeps to the last (a screen may say others: footer_keeps)
FOOTER_KEEPS = frozenset({"quit", "help", "command_line"})


@dataclass(frozen=True)
class FooterEntry:
    """A key the footer shows, as the screen's bindings give it."""
    key: str
    display: str
    description: str
    action: str
    disabled: bool
    tooltip: str
    palette: bool = False  # the command palette's key, docked at the right


@dataclass(frozen=True)
class DrawnKey:
    """A key as the last frame drew it: `x` and `width` in the footer's cells (a key the palette's
    key covers keeps its whole width: its `region` ends past the palette's start)."""
    entry: FooterEntry
    x: int
    width: int
    footer: Region

    @property
    def key(self) -> str:
        return self.entry.key

    @property
    def description(self) -> str:
        return self.entry.description

    @property
    def action(self) -> str:
        return self.entry.action

    @property
    def disabled(self) -> bool:
        return self.entry.disabled

    @property
    def palette(self) -> bool:
        return self.entry.palette

    @property
    def region(self) -> Region:
        """Where the key is on the screen."""
        return Region(self.footer.x + self.x, self.footer.y, self.width, 1)


def _typed_into(focused, node, key: str, display: str) -> bool:
    """The focused box types `key` rather than letting it reach `node`'s binding: `/ Filter` is
    not offered while the filter box has the focus (Textual leaves it in the bindings: its
    key_to_character knows no character for `slash`, so the box's claim on it is not asked)."""
    if focused is None or node is focused:
        return False
    character = key_to_character(key) or (display if len(display) == 1 else None)
    return focused.check_consume_key(key, character)


class SteadyFooter(Footer):
    COMPONENT_CLASSES = {
        "footer-key--key", "footer-key--description", "footer-key--item", "footer-key--disabled",
        "footer-key--hover", "footer-key--border",
    }
    # As FooterKey's own rules (the key and its description), its background (`item`), a disabled
    # key (`text-style: dim`), the hovered one, and the palette key's `border-left: vkey`.
    DEFAULT_CSS = """
    SteadyFooter {
        .footer-key--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .footer-key--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        .footer-key--item {
            background: $footer-item-background;
        }
        .footer-key--disabled {
            background: $footer-item-background;
            text-style: dim;
        }
        .footer-key--hover {
            color: $footer-key-foreground;
            background: $block-hover-background;
        }
        .footer-key--border {
            background: $footer-item-background;
            color: $foreground 20%;
        }
    }
    """

    def __init__(self, *, compact: bool = False, show_command_palette: bool = True, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(compact=compact, show_command_palette=show_command_palette, id=id, classes=classes)
        self._stale = True  # the bindings changed since the last frame drew the keys
        self._drawn: tuple[DrawnKey, ...] = ()
        self._room = 0  # the cells left of the palette's key at the last frame
        self._hover: FooterEntry | None = None

    def compose(self):
        return ()

    def entries(self) -> tuple[FooterEntry, ...]:
        """The keys to show now, as Textual's Footer would compose them (the first binding of
        each action, in the order of the screen's active bindings), the palette's key last."""
        if not self._bindings_ready:
            return ()
        app = self.app
        active = self.screen.active_bindings
        focused = self.screen.focused
        shown: dict[str, FooterEntry] = {}
        for node, binding, enabled, tooltip in active.values():
            if binding.show and binding.action not in shown and binding.action != PALETTE_ACTION \
                    and not _typed_into(focused, node, binding.key, app.get_key_display(binding)):
                shown[binding.action] = FooterEntry(binding.key, app.get_key_display(binding), binding.description,
                                                    binding.action, not enabled, tooltip or "")
        entries = list(shown.values())
        if self.show_command_palette and app.ENABLE_COMMAND_PALETTE:
            # by its action: a keymap may bind the palette to another key than COMMAND_PALETTE_BINDING
            found = active.get(app.COMMAND_PALETTE_BINDING)
            if found is None or found.binding.action != PALETTE_ACTION:
                found = next((ab for ab in active.values() if ab.binding.action == PALETTE_ACTION), None)
            if found is not None:
                _node, binding, enabled, _tooltip = found
                entries.append(FooterEntry(binding.key, app.get_key_display(binding), binding.description,
                                           binding.action, not enabled, binding.tooltip or binding.description,
                                           palette=True))
        return tuple(entries)

    @property
    def drawn(self) -> tuple[DrawnKey, ...]:
        """The keys as the last frame drew them."""
        return self._drawn

    @property
    def settling(self) -> bool:
        """The bindings changed since the last frame drew the keys (the next one draws them)."""
        return self._stale

    def bindings_changed(self, screen) -> None:
        # Textual's footer waits for the terminal's focus; a repaint of one line need not: a
        # dashboard watched from another pane keeps its keys true (`W Wake` once it sleeps)
        self._bindings_ready = True
        if self.is_attached and screen is self.screen:
            self._stale = True
            self.refresh()

    # -- drawing ---------------------------------------------------------------------------
    def _label(self, entry: FooterEntry, compact: bool) -> Text:
        """The key as FooterKey.render draws it (with its padding)."""
        key_style = self.get_component_rich_style("footer-key--key")
        description_style = self.get_component_rich_style("footer-key--description")
        if entry == self._hover:  # their backgrounds are the key's (transparent): the hovered one's
            under = Style(bgcolor=self.get_component_rich_style("footer-key--hover").bgcolor)
            key_style, description_style = key_style + under, description_style + under
        if entry.description:
            key_pad, (left, right) = ("", (1, 0)) if compact else (" ", (0, 1))
            label = Text.assemble((f"{key_pad}{entry.display}{key_pad}", key_style),
                                  (f"{' ' * left}{entry.description}{' ' * right}", description_style))
        else:
            label = Text.assemble((entry.display, key_style))
        label.stylize_before(self._item_style(entry))
        return label

    def _item_style(self, entry: FooterEntry) -> Style:
        if entry == self._hover:
            return self.get_component_rich_style("footer-key--hover")
        return self.get_component_rich_style("footer-key--disabled" if entry.disabled else "footer-key--item")

    def render(self) -> Text:
        entries = self.entries()
        self._stale = False
        compact = self.compact
        width = self.size.width
        palette = next((e for e in entries if e.palette), None)
        right = Text(end="")
        if palette is not None:
            # docked at the right: `border-left: vkey`, the label, `padding-right: 1` (themes/envdeck.tcss)
            label = self._label(palette, True)  # compact whatever the footer is (FooterKey's own default)
            right.append("▏", self.get_component_rich_style("footer-key--border"))
            right.append_text(label)
            right.append(" ", self._item_style(palette))
        room = max(0, width - right.cell_len)
        gap = 1 if compact else 0  # the key's margin: the footer's background
        labels = self._fitted([(e, self._label(e, compact)) for e in entries if not e.palette], room, gap)
        line = Text(no_wrap=True, overflow="crop", end="")
        drawn: list[DrawnKey] = []
        footer = self.region
        for entry, label in labels:
            drawn.append(DrawnKey(entry, line.cell_len, label.cell_len, footer))
            line.append_text(label)
            line.append(" " * gap)
        line.truncate(room, overflow="crop", pad=True)
        if palette is not None and right.cell_len <= width:
            drawn.append(DrawnKey(palette, room, right.cell_len, footer))
            line.append_text(right)
        self._drawn = tuple(drawn)
        self._room = room
        return line

    def _fitted(self, labels: list[tuple[FooterEntry, Text]], room: int, gap: int) -> list[tuple[FooterEntry, Text]]:
        """The keys that fit left of the palette's key: while they do not, the rightmost one the
        screen does not keep leaves (the screen's own rules chose first, e.g. the environment
        screen's FOOTER_GIVES_WAY; still bound, and listed by `?`), so that `q Quit ? Help
        : Command` show whole at 60 columns too."""
        keeps = getattr(self.screen, "footer_keeps", None)
        order = getattr(self.screen, "footer_leaves_first", None)
        first = order() if callable(order) else ()
        used = sum(label.cell_len + gap for _, label in labels)
        # the screen's own order first (the environment screen keeps `R Repair` over `r Restart`),
        # then the rightmost of the others; a screen's extra keeps (`p Resume`) before the three
        for kept in ((keeps() if callable(keeps) else FOOTER_KEEPS), FOOTER_KEEPS):
            while used > room:
                actions = [e.action for e, _ in labels]
                drop = next((actions.index(a) for a in first if a in actions and a not in kept), None)
                if drop is None:
                    drop = next((i for i in range(len(labels) - 1, -1, -1) if actions[i] not in kept), None)
                if drop is None:
                    break
                used -= labels.pop(drop)[1].cell_len + gap
        return labels

    # -- the mouse, as on FooterKey widgets ----------------------------------------------
    def _entry_at(self, x: int) -> FooterEntry | None:
        """The key drawn at column `x` (the palette's key over the keys it covers; none where the
        footer is too narrow to show a key)."""
        for key in self._drawn:
            end = key.x + key.width if key.palette else min(key.x + key.width, self._room)
            if key.x <= x < end:
                return key.entry
        return None

    def on_mouse_move(self, event: events.MouseMove) -> None:
        entry = self._entry_at(event.x)
        if entry != self._hover:
            self._hover = entry
            self.tooltip = (entry.tooltip or None) if entry is not None else None
            self.refresh()

    def on_leave(self, _event: events.Leave) -> None:
        if self._hover is not None:
            self._hover = None
            self.tooltip = None
            self.refresh()

    def on_mouse_down(self, event: events.MouseDown) -> None:
        entry = self._entry_at(event.x)
        if entry is None:
            return
        if entry.disabled:
            self.app.bell()
        else:
            self.app.simulate_key(entry.key)
