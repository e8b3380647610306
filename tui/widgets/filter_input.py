"""The `/` filter box of the environment screen: an Input whose keystrokes repaint the box
instead of laying out the whole screen again.

Textual's Input sets its `virtual_size` (a reactive with `layout=True`) on every change of its
value, so each keystroke re-arranged every widget of the screen (tabs, footer keys, status bar,
the 20,000-row table's scrollbars): about half of a filter keystroke's CPU time. The box has a
fixed size (one line, full width), so its virtual size only bounds its own horizontal
scrolling (`max_scroll_x` reads it directly): it is set without a layout, and the box repaints.
A box given an automatic width or height still asks for the layout, as Textual's does.
"""

from __future__ import annotations

from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import Input


class FilterInput(Input):
    def _watch_value(self, value: str) -> None:
        if not self.styles.auto_dimensions:
            # the virtual size Input's watcher sets next is then already there: no layout
            size = Size(self.content_width, 1)
            if size != self.virtual_size:
                self.set_reactive(Widget.virtual_size, size)
                self.refresh()
        super()._watch_value(value)
