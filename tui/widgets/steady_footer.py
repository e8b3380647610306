"""Textual's Footer recomposes every key widget whenever the screen's bindings are
refreshed (a screen resumed, the selection moved, a view shown), even when the keys it
shows are the same: on the environment screen that was the largest part of a switch
(mounting and styling ~20 FooterKey widgets, then rendering them). This footer
recomposes only when what it would show changed.

Each key is given its `-compact` class when it is made: Textual's FooterKey sets it from
its `compact` watcher once mounted, a class change that styled every key a second time
(~20 of them on each build of an environment screen)."""

from __future__ import annotations

from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class SteadyFooter(Footer):
    _shown: tuple | None = None  # what the last compose showed

    def _what_it_shows(self) -> tuple:
        app = self.app
        keys = tuple((binding.key, app.get_key_display(binding), binding.description, binding.action, enabled,
                      tooltip, binding.show, binding.tooltip, binding.group)
                     for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
                     if binding.show or binding.key == app.COMMAND_PALETTE_BINDING)
        return (keys, self.compact, self.show_command_palette, self._bindings_ready, app.ENABLE_COMMAND_PALETTE)

    def compose(self):
        self._shown = self._what_it_shows()
        for widget in super().compose():
            self._compact_before_mount(widget)
            yield widget

    def _compact_before_mount(self, widget) -> None:
        """The class the key's `compact` watcher would set once mounted: the footer's `compact`
        (data_bind), or True (its own default) for the command palette's key, which is not bound."""
        if isinstance(widget, FooterKey):
            widget.set_class(self.compact or widget.has_class("-command-palette"), "-compact", update=False)

    # Textual queues one recompose per bindings refresh (a screen built on a switch refreshes them
    # ~7 times: focus, cursor, stack, ...): one queued at a time reads the bindings once they settle.
    _recompose_queued = False

    def bindings_changed(self, screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or self._recompose_queued:
            return
        if self.is_attached and screen is self.screen:
            self._recompose_queued = True
            self.call_after_refresh(self._queued_recompose)

    _recomposing = False

    @property
    def settling(self) -> bool:
        """A recompose is queued or under way (its keys are not drawn yet)."""
        return self._recompose_queued or self._recomposing

    async def _queued_recompose(self) -> None:
        self._recompose_queued = False
        self._recomposing = True
        try:
            await self.recompose()
        finally:
            self._recomposing = False
        settled = getattr(self.screen, "footer_settled", None) if self.is_attached else None
        if settled is not None and not self._recompose_queued:
            settled()

    async def recompose(self) -> None:
        if self._shown is not None and self.is_attached and self._what_it_shows() == self._shown:
            return
        await super().recompose()
