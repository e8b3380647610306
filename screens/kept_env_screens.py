"""The environment screens of the last few environments shown, kept mounted (installed
with Textual) after the user leaves them, so that going back to one is a show, not a
rebuild of seven views over every resource. A kept screen gets no updates while it is out
of the stack: `EnvironmentScreen.reopen` re-reads the session's state and resets it to
what a new screen shows before it is pushed again. Memory stays bounded: beyond KEEP
screens the least recently shown one is uninstalled and removed."""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.app import App

    from screens.environment import EnvironmentScreen

KEEP = 3


class KeptEnvScreens:
    def __init__(self, app: App, keep: int = KEEP) -> None:
        self.app = app
        self.keep_at_most = keep
        self._screens: OrderedDict[str, EnvironmentScreen] = OrderedDict()
        self._themes: dict[str, str] = {}  # the theme each kept screen was built with

    def __contains__(self, env: str) -> bool:
        return env in self._screens

    def take(self, env: str) -> EnvironmentScreen | None:
        """The kept screen of `env` when it can be shown again as it is (still mounted, its
        environment still observed, built with the current theme); otherwise None, and a
        kept one is dropped."""
        screen = self._screens.get(env)
        if screen is None:
            return None
        session = getattr(self.app, "session", None)
        usable = (screen.is_mounted and screen.ready and session is not None and env in session.states()
                  and self._themes.get(env) == self.app.theme)  # a theme change restyles only the stack
        if not usable:
            self.drop(env)
            return None
        self._screens.move_to_end(env)
        return screen

    def keep(self, screen: EnvironmentScreen) -> None:
        """Install `screen` (about to be pushed) so that popping it keeps it; the oldest kept
        screens beyond the limit go."""
        self.drop(screen.env)
        self.app.install_screen(screen, name=self._name(screen.env))
        self._screens[screen.env] = screen
        self._themes[screen.env] = self.app.theme
        for env in list(self._screens):
            if len(self._screens) <= self.keep_at_most:
                break
            if self._screens[env] is not screen and self._screens[env] not in self.app.screen_stack:
                self.drop(env)

    def drop(self, env: str) -> None:
        screen = self._screens.pop(env, None)
        self._themes.pop(env, None)
        if screen is None:
            return
        self.app.uninstall_screen(self._name(env))
        if screen not in self.app.screen_stack:  # as Textual removes a popped screen that is not installed
            screen.remove()

    @staticmethod
    def _name(env: str) -> str:
        return f"envdeck-environment:{env}"
