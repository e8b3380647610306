"""One layout, not two, for a screen built on a switch (the environment screen's first visit).

Textual lays a new screen out when it is resumed, and then at once a second time, to the same
geometry: every widget mounted asked for a layout (their Layout messages reach the screen just
after the first one), the first layout sets every widget's virtual size (a reactive that asks for
another), and the end of the mount of the screen's composed widgets asks for one of the whole
screen. On a 20k-row environment screen that second layout and its frame were ~0.9M of the ~5.3M
bytecodes of the switch. The first layout answers all of these requests: they are dropped. Not if
it showed or hid a scrollbar (it arranged the widgets with the scrollbars as they were before), nor
a request that comes once anything was mounted or removed, nor anything after its next frame. The
whole-screen repaints asked in the same moment (the resume's, the mount's) are dropped as well: that
layout's frame drew the whole screen."""

from __future__ import annotations

from textual import messages
from textual._time import get_time
from textual.geometry import Size
from textual.screen import Screen
from textual.widget import Widget


class SettledFirstLayout(Screen):
    """Call `settle_next_layout()` before the layout that the requests queued until then wait for
    (the resume's of a screen built and styled on the switch)."""

    _settle_layout = False
    _settled_at = float("-inf")  # when that layout began: the Layout messages posted before it are answered
    _laid_out: tuple[Widget, ...] | None = None  # the widgets it arranged, until the next frame

    def settle_next_layout(self) -> None:
        self._settle_layout = True

    def _refresh_layout(self, size: Size | None = None, scroll: bool = False) -> None:
        self._laid_out = None
        if not self._settle_layout or scroll:
            super()._refresh_layout(size, scroll)
            return
        self._settle_layout = False
        widgets = tuple(self.walk_children(Widget))
        bars = [(w.show_vertical_scrollbar, w.show_horizontal_scrollbar) for w in widgets]
        began = get_time()
        super()._refresh_layout(size, scroll)
        if bars != [(w.show_vertical_scrollbar, w.show_horizontal_scrollbar) for w in widgets]:
            return  # laid out again as Textual does
        self._settled_at = began
        for widget in widgets:  # and their scrollbars (not children; the layout mounts a new one)
            for node in (widget, widget._vertical_scrollbar, widget._horizontal_scrollbar):
                if node is not None:
                    node._layout_required = False
        self._layout_required = False
        self._laid_out = widgets

    async def _on_layout(self, message: messages.Layout) -> None:
        if message.time < self._settled_at:
            message.stop()
            message.prevent_default()  # Textual's handler neither: answered by that layout

    def refresh(self, *regions, repaint: bool = True, layout: bool = False, recompose: bool = False):
        # The resume draws the whole screen again right after its layout, and the end of the mount
        # asks for a layout and a full draw: that layout's frame drew every widget (a full repaint of
        # a 20k-row screen: ~0.26M bytecodes and a frame of its own). A widget changed since asks for
        # itself; the screen's own request is dropped until the next frame, if nothing was mounted
        # or removed since.
        if self._laid_out is not None and not regions and not recompose:
            if tuple(self.walk_children(Widget)) == self._laid_out:
                return self
            self._laid_out = None
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def _compositor_refresh(self) -> None:
        compositor = self._compositor
        full = self is self.app.screen and compositor.size.region in compositor._dirty_regions
        super()._compositor_refresh()
        self._laid_out = None
        if full:
            # That frame drew the whole screen: the screen's own repaint, asked before it (its
            # Update message is handled after the frame), would draw the whole screen again.
            self._repaint_regions.clear()
