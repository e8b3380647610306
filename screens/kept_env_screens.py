"""The environment screens of the last few environments shown, kept mounted (installed
with Textual) after the user leaves them, so that going back to one is a show, not a
rebuild of seven views over every resource. A kept screen gets no updates while it is out
of the stack: `EnvironmentScreen.reopen` re-reads the session's state and resets it to
what a new screen shows before it is pushed again. Memory stays bounded: beyond KEEP
screens the least recently shown one is uninstalled and removed.

While the app is idle (no key or mouse input for IDLE_S), the screens of environments not
shown yet are built ahead, one per idle tick, off the screen stack (`prebuild`), as long as
fewer than KEEP are kept: a first visit of such an environment is then a show of a kept
screen too. A screen built ahead never evicts one the user has seen. The kept screens of an environment
no longer observed (destroyed) are dropped when the app hears of it (and before each step of
building ahead); until then such a screen reads the last state it had (EnvdeckScreen.env_state).

A screen dropped while it is still being built is removed once its build ended (after its mount
and the after-refresh calls its widgets queued as they mounted): Textual (8.2) mounts nothing into
a widget being removed, so its widgets' own mounts found their parts missing and raised (the
tab bar's `No Tab with id '--content-tab-resources'`, the Logs view's search box): a crash."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.app import App

    from screens.environment import EnvironmentScreen

KEEP = 5  # five environments of 20,000 rows: ~13 MiB a screen (bench/tui.py)
IDLE_S = 2.0  # no key or mouse input for this long: screens may be built ahead


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

    def prebuild(self, envs: Iterable[str], make: Callable[[str], EnvironmentScreen]) -> str | None:
        """One step of building ahead: a kept screen off the stack that is mounted but not laid
        out for the terminal's size is laid out; else the screen of the first of `envs` that has
        none kept is made (`make(env)`), installed and mounted off the screen stack (its compose
        and on_mount run now, not when it is first shown). Nothing while a screen built ahead is
        still mounting or KEEP are kept. Returns the environment whose screen got the step."""
        self.drop_unobserved()
        for env, screen in list(self._screens.items()):
            if screen not in self.app.screen_stack and self._themes.get(env) != self.app.theme:
                self.drop(env)  # built with another theme: built again with this one
                return env
            if screen.ready and screen not in self.app.screen_stack and screen.outer_size != self.app.size:
                # laid out for the terminal now, not on its show (Textual 8.2: what a shown screen's
                # first layout does; its widgets handle their Resize and Show events now too)
                screen._refresh_layout(self.app.size)
                return screen.env
        if len(self._screens) >= self.keep_at_most:
            return None
        if any(not screen.ready and screen not in self.app.screen_stack for screen in self._screens.values()):
            return None  # one at a time: the last one built ahead is still mounting
        env = next((env for env in envs if env not in self._screens), None)
        if env is None:
            return None
        screen = make(env)
        self.app.install_screen(screen, name=self._name(env))
        self._screens[env] = screen
        self._screens.move_to_end(env, last=False)  # built ahead, not shown: the first to go
        self._themes[env] = self.app.theme
        # what push_screen does first (Textual 8.2): register the installed screen, which mounts
        # it and its widgets; it stays off the stack until open_env shows it
        self.app._get_screen(screen)
        return env

    def drop_unobserved(self) -> list[str]:
        """Drop the kept screens (off the stack) of environments no longer observed (destroyed, here
        or by another process); the environments dropped."""
        session = getattr(self.app, "session", None)
        if session is None:
            return []
        observed = session.states()
        gone = [env for env, screen in self._screens.items()
                if env not in observed and screen not in self.app.screen_stack]
        for env in gone:
            self.drop(env)
        return gone

    def drop(self, env: str) -> None:
        screen = self._screens.pop(env, None)
        self._themes.pop(env, None)
        if screen is None:
            return
        self.app.uninstall_screen(self._name(env))
        if screen not in self.app.screen_stack:  # as Textual removes a popped screen that is not installed
            if screen.is_mounted:
                screen.remove()
            else:  # still being built (ahead, and `:prod⏎` came first): removed once built, see above
                screen.call_after_refresh(screen.remove)

    @staticmethod
    def _name(env: str) -> str:
        return f"envdeck-environment:{env}"
