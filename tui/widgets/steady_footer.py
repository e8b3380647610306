"""Textual's Footer recomposes every key widget whenever the screen's bindings are
refreshed (a screen resumed, the selection moved, a view shown), even when the keys it
shows are the same: on the environment screen that was the largest part of a switch
(mounting and styling ~20 FooterKey widgets, then rendering them). This footer
recomposes only when what it would show changed."""

from __future__ import annotations

from textual.widgets import Footer


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
        yield from super().compose()

    async def recompose(self) -> None:
        if self._shown is not None and self.is_attached and self._what_it_shows() == self._shown:
            return
        await super().recompose()
