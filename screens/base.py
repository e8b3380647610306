"""What every envdeck screen shares: typed access to the app and session, and
the stale flag for screens that were hidden while their environment changed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen
from textual.widgets import Input

from tui.core.env_state import EnvState

if TYPE_CHECKING:
    from tui.app import EnvdeckApp
    from tui.core.session import Session


class EnvdeckScreen(Screen):
    stale: bool = False
    ready: bool = False  # set by subclasses at the end of on_mount

    def on_screen_resume(self) -> None:
        if self.stale and self.ready:
            self.stale = False
            self.refresh_all()

    @property
    def _binding_chain(self):
        """Textual's, read while the terminal has not the focus as with it: Textual takes the focus
        away then (and gives it back to the same widget with the terminal's), so the footer, read
        meanwhile, showed the screen's keys without the table's (`⏎ Open` for `Z Sleep` on the
        overview, and no `W Wake` once another shell put the environment to sleep)."""
        last = getattr(self.app, "_last_focused_on_app_blur", None)
        if self.focused is not None or self.app.app_focus or last is None or not last.is_attached \
                or last.screen is not self:
            return super()._binding_chain
        self.set_reactive(Screen.focused, last)  # no watcher runs: only this read sees it
        try:
            return super()._binding_chain
        finally:
            self.set_reactive(Screen.focused, None)

    @property
    def envdeck(self) -> EnvdeckApp:
        return self.app  # type: ignore[return-value]

    @property
    def session(self) -> Session:
        session = self.envdeck.session
        assert session is not None, "screens are pushed only once the session is open"
        return session

    def env_state(self, env: str) -> EnvState:
        """`env`'s live state; once it is no longer observed (destroyed, here or by another
        process), the last one this screen read (an empty one if none): a screen of it kept off
        the stack or under another one still lays out, ticks and checks its keys (a resize laid
        out a kept screen of a destroyed environment: `KeyError: 'pr-2'`, the TUI gone)."""
        state = self.session.states().get(env)
        kept = self.__dict__.setdefault("_env_states_read", {})
        if state is not None:
            kept[env] = state
            return state
        return kept.get(env) or kept.setdefault(env, EnvState(name=env, repair="observe"))

    def env_updated(self, env: str, kinds: set[str]) -> None:
        """The reconciler changed `env` (called only while this screen is on top)."""

    def refresh_all(self) -> None:
        """Re-read everything (after being hidden while things changed, or a theme change)."""

    def palette_changed(self) -> None:
        self.refresh_all()

    def tick(self) -> None:
        """Called every second while on top: ages and the status bar."""



def steady_input(app, cls: type[Input] = Input, **kwargs) -> Input:
    """An Input (or `cls`, a subclass) whose cursor does not blink in deterministic test runs."""
    widget = cls(**kwargs)
    options = getattr(app, "options", None)
    if options is not None and options.testing:
        widget.cursor_blink = False
    return widget
