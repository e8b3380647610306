"""The envdeck Textual app and its one factory, `create_app`, used by the CLI
(`envdeck`, `envdeck demo`, `envdeck serve`) and by the tests.

The app opens the Session (store + policy + reconciler) inside its own event
loop, subscribes a `ReconcilerBridge` that turns reconciler changes into
coalesced `EnvUpdated` messages, and forwards them to the screen on top (screens
below are marked stale and refresh when they come back).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from textual import events
from textual.app import App
from textual.await_complete import AwaitComplete
from textual.binding import Binding
from textual.notifications import Notification, Notify
from textual.worker import Worker, WorkerState

from backends.registry import create_backends_refusing_at_use, create_provisioner
from screens.confirm import ConfirmScreen
from screens.dialog_guard import clicked_ahead, typed_ahead
from screens.environment import EnvironmentScreen
from screens.kept_env_screens import IDLE_S, KeptEnvScreens
from screens.key_hold import KeyHold, hold_keys, release_keys
from screens.lifecycle_steps import LifecycleScreen
from screens.overview import OverviewScreen
from screens.registry import screen_keymap_classes
from themes import BUILTIN, DEFAULT_THEME, STYLESHEET, load_user_themes, resolve_theme_name
from tui.commands import EnvironmentCommands, ResourceCommands, ThemeCommands
from tui.core.config import EnvdeckConfig
from tui.core.heap import HeapSettler, settle_heap
from tui.core.lifecycle.driver import CreateProvisioner
from tui.core.lifecycle.outcome import ended_badly, kept_on_overview
from tui.core.lifecycle.records import EnvLifecycleState, ManagedEnvironment
from tui.core.model import Origin, now_utc
from tui.core.paths import themes_dir
from tui.core.reconciler import BackendFactory
from tui.core.sanitize import clean
from tui.core.session import Session
from tui.idle_collect import IdleCollector
from tui.messages import (
    ActionFinished,
    ActionStarted,
    ConfirmationRequested,
    EnvironmentsUpdated,
    EnvUpdated,
    LeadershipTakenOver,
    LifecycleRequested,
    LifecycleUpdated,
    ManagedLoaded,
    ReconcilerBridge,
    RepairsPerformed,
    SessionFailed,
    SessionOpened,
    StoreWaiting,
)
from tui.widgets.cells import Palette

log = logging.getLogger("envdeck.tui")

THEME_SETTING = "ui.theme"
# Repairs that arrive within this delay of each other make one toast (a burst at start, a pass
# that repairs several fields); then, per environment, at most one repair toast per quiet period
# (the ones in between are counted in the next toast; the Timeline has each).
REPAIR_TOAST_DELAY_S = 0.5
REPAIR_TOAST_QUIET_S = 10.0
TOAST_S = 5.0
WHOLE_TOAST_CHARS = 400  # an error toast's reason, wrapped (about 6 lines at 80 columns)
STORE_WAIT_TOAST_S = 3600.0  # the migration-lock wait's toast: removed when the wait is over
SCREEN_BUILD_AT_MOST_S = 5.0  # closing the app waits this long at most for a screen being built


@dataclass
class AppOptions:
    """Everything that varies between a live run and a deterministic test run."""

    clock: Callable[[], datetime] = now_utc
    backends_factory: BackendFactory = create_backends_refusing_at_use  # a refused file: that backend's error
    provisioners: CreateProvisioner = create_provisioner  # what creates a template's resources
    start_reconciler: bool = True  # False: one observe pass at start, no background loops (snapshots)
    start_env: str | None = None
    start_view: str | None = None
    user: str | None = None
    themes_dir: Path | None = None  # None: $XDG_CONFIG_HOME/envdeck/themes
    testing: bool = False  # no cursor blink, no animations, short toasts
    tick_s: float = 1.0  # how often ages and the status bar are redrawn
    build_ahead: bool | None = None  # environment screens built in idle time (kept_env_screens); None: unless testing
    idle_collect: bool | None = None  # full GCs in idle time (tui/idle_collect.py); None: unless testing
    title: str = "envdeck"
    extra: dict = field(default_factory=dict)


class EnvdeckApp(App):
    CSS_PATH = str(STYLESHEET)
    # A toast is one line (no title, no padding): at 80×24 a few never hide the screen.
    CSS = """
    Toast { padding: 0 1; margin-top: 0; width: auto; max-width: 90%; }
    """
    TITLE = "envdeck"
    ENABLE_COMMAND_PALETTE = True
    COMMANDS = App.COMMANDS | {EnvironmentCommands, ResourceCommands, ThemeCommands}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit envdeck"),
        Binding("ctrl+c", "quit", "Quit", show=False, id="quit-ctrl-c", priority=True),
        Binding("question_mark", "help", "Help", id="help", tooltip="Every key of this screen"),
        # priority: taken as the key arrives, so the keys typed in the same burst (over SSH) go to
        # the command line, not to the table under it; skipped where ':' is text (an input, a dialog)
        Binding("colon", "command_line", "Command", id="command-line", priority=True,
                tooltip=":staging, :pods, :drift, :overview, :theme light, :q"),
        Binding("ctrl+p", "command_palette", "Palette", id="command-palette", show=False),
    ]

    def __init__(self, config: EnvdeckConfig, state_dir: Path, *, read_only: bool = False,
                 options: AppOptions | None = None) -> None:
        super().__init__()
        self.config = config
        self.state_dir = Path(state_dir)
        self.read_only = read_only
        self.options = options or AppOptions()
        self.session: Session | None = None
        self.bridge = ReconcilerBridge(self.post_message)
        self.palette = Palette({})
        self._theme_ready = False
        self._unsubscribe: Callable[[], None] | None = None
        self.heap: HeapSettler | None = None
        self.activities: list[tuple[str, datetime]] = []
        # Managed (template-created) environments by name, not destroyed: read at start, then
        # kept by LifecycleChanged (the screens read it here, like EnvState from the session).
        self.managed: dict[str, ManagedEnvironment] = {}
        # whether this user may see each, by name: decided again when its instance, owner, access
        # or being destroyed changes (not for every step of it: the policy validates its section)
        self._sees: dict[str, tuple[tuple[object, ...], bool]] = {}
        self._repair_buffer: dict[str, list] = {}  # env -> records not toasted yet
        self._repair_toasted: dict[str, float] = {}  # env -> monotonic time of its last repair toast
        self._last_input = time.monotonic()  # the last key or mouse press (idle time builds screens ahead)
        self.keys = KeyHold(self)  # keys of a burst, queued while a command line or filter box opens
        self.idle_collector = IdleCollector()  # full collections in idle time, not in a keystroke
        self.title = self.options.title
        if self.options.testing:
            self.animation_level = "none"

    # -- clock ---------------------------------------------------------------
    def now(self) -> datetime:
        return self.options.clock()

    # -- startup -------------------------------------------------------------
    async def on_mount(self) -> None:
        self.console.size = (self.size.width, self.size.height)
        for theme in BUILTIN:
            self.register_theme(theme)
        loaded = load_user_themes(self.options.themes_dir or themes_dir())
        for theme in loaded.themes:
            self.register_theme(theme)
        for problem in loaded.errors:
            self.notify(problem, title="Theme skipped", severity="warning", markup=False)
        self.theme = self._known_theme(resolve_theme_name(self.config.ui.theme)) or DEFAULT_THEME
        self._apply_keymap()
        self.theme_changed_signal.subscribe(self, lambda _theme: self._theme_changed())
        self.palette = Palette(self.get_css_variables())
        self.heap = settle_heap()  # no full-GC pauses of hundreds of ms with a big inventory
        self.run_worker(self._open_session(), name="open-session", group="session", exit_on_error=False)

    def on_resize(self, event) -> None:
        # Rich asks the OS for the terminal size on every measurement unless the console
        # has one; DataTable measures every cell (3 syscalls each at 20k rows x 9 cells).
        self.console.size = (event.size.width, event.size.height)

    def _known_theme(self, name: str | None) -> str | None:
        return name if name and self.get_theme(name) is not None else None

    def _apply_keymap(self) -> None:
        keymap = dict(self.config.ui.keymap)
        unknown = sorted(set(keymap) - known_binding_ids())
        for binding_id in unknown:
            self.notify(f"ui.keymap: no binding with id {clean(binding_id)!r} (see ? for the ids)",
                        severity="warning", markup=False)
            keymap.pop(binding_id)
        for clash in keymap_clashes(keymap):
            self.notify(clash, severity="warning", markup=False, timeout=8)
        if keymap:
            self.set_keymap(keymap)

    async def _open_session(self) -> None:
        try:
            session = await Session.open(self.config, self.state_dir, origin=Origin.TUI, read_only=self.read_only,
                                         user=self.options.user, backends_factory=self.options.backends_factory,
                                         provisioners=self.options.provisioners,
                                         on_store_wait=lambda text: self.post_message(StoreWaiting(clean(text))))
        except Exception as exc:  # noqa: BLE001 - shown to the user, then the app exits
            self.post_message(SessionFailed(clean(exc)))
            return
        session.set_clock(self.options.clock)
        self.session = session
        stored = await session.store.get_setting(THEME_SETTING)
        if self._known_theme(stored) and stored != self.theme:
            self.theme = stored
        # Only choices made from now on are saved (the theme-changed signal of the line above
        # is published later, on the next message).
        self.call_later(setattr, self, "_theme_ready", True)
        self._unsubscribe = session.subscribe(self.bridge)
        if self.options.start_reconciler:
            await session.start_reconciling()
        else:
            await session.observe_in_turn()
        self.post_message(SessionOpened())

    _store_wait_note: Notification | None = None

    def on_store_waiting(self, message: StoreWaiting) -> None:
        """The store waits for another session's migration lock (up to $ENVDECK_MIGRATION_WAIT,
        30 s): said on the screen, whole (who holds it), until the session opened or failed —
        not on stderr, which the drawn screen would hide or be garbled by."""
        line = " ".join(message.text.split())[:WHOLE_TOAST_CHARS]
        self._store_wait_note = Notification(line, "", "warning", STORE_WAIT_TOAST_S, markup=False)
        self.post_message(Notify(self._store_wait_note))

    def _store_wait_over(self) -> None:
        note, self._store_wait_note = self._store_wait_note, None
        if note is not None:
            with contextlib.suppress(KeyError):  # gone by itself already
                self._unnotify(note)

    def on_session_failed(self, message: SessionFailed) -> None:
        self._store_wait_over()
        self.exit(return_code=1, message=f"envdeck: {message.error}")

    def on_session_opened(self, _message: SessionOpened) -> None:
        self._store_wait_over()
        envs = self.session.environments() if self.session else []
        self.push_screen(OverviewScreen())
        start = self.options.start_env or (envs[0] if len(envs) == 1 else None)
        if start:
            if start in envs:
                self.open_env(start, view=self.options.start_view)
            else:
                self.notify(f"no environment {clean(start)!r} visible to you", severity="error", markup=False)
        self.set_interval(self.options.tick_s, self._tick, name="tick")
        self.run_worker(self._load_managed(), name="managed environments", group="lifecycle",
                        exit_on_error=False)

    def _tick(self) -> None:
        if not self.screen_stack:  # the app is closing: its screens are gone, the interval not yet
            return
        tick = getattr(self.screen, "tick", None)
        if tick is not None and getattr(self.screen, "ready", False):
            tick()
        if self._builds_ahead() and time.monotonic() - self._last_input >= IDLE_S:
            self._build_env_screen_ahead()
        if self._collects_idle():
            self.idle_collector.tick(time.monotonic() - self._last_input)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown)):
            self._last_input = time.monotonic()  # screens are built ahead only while there is none
        if isinstance(event, events.Key) and self.screen_stack and typed_ahead(self.screen, event):
            return  # would act in a dialog it was typed before (also on its way back up: screens/dialog_guard.py)
        if (isinstance(event, (events.MouseDown, events.MouseUp)) and not event.is_forwarded and self.screen_stack
                and clicked_ahead(self.screen, event)):
            return  # a click on a dialog's button before it could be seen: no Click is made of it
        if isinstance(event, events.Key) and not event.is_forwarded and self.keys.take(event):
            return  # queued: replayed in order once what it is typed into is open (screens/key_hold.py)
        await super().on_event(event)

    def _builds_ahead(self) -> bool:
        wanted = self.options.build_ahead
        return (not self.options.testing) if wanted is None else wanted

    def _collects_idle(self) -> bool:
        wanted = self.options.idle_collect
        return (not self.options.testing) if wanted is None else wanted

    def _build_env_screen_ahead(self) -> None:
        """In idle time: the screen of the next environment not kept yet, in the overview's order
        after the one shown, built off the stack (a first visit of it is then a show)."""
        if self.session is None or not isinstance(self.screen, (EnvironmentScreen, OverviewScreen)):
            return
        envs = self.session.environments()
        shown = getattr(self.screen, "env", None)
        start = envs.index(shown) + 1 if shown in envs else 0
        observed = self.session.states()
        kept = getattr(self, "_kept_env_screens", None)
        if kept is None:
            kept = self._kept_env_screens = KeptEnvScreens(self)
        kept.prebuild((env for env in envs[start:] + envs[:start] if env in observed), EnvironmentScreen)

    # A screen still being built (`:prod⏎`, then the app quit or closed) ends its build before the
    # app closes, for at most SCREEN_BUILD_AT_MOST_S: Textual (8.2) mounts nothing once exit() was
    # called, nor into a widget being removed (the screens, as the app closes), so the half-built
    # screen's widgets found their parts missing as they mounted and raised (the tab bar's
    # `No Tab with id '--content-tab-resources'`): a traceback instead of a quit.
    def _building_screens(self) -> bool:
        return any(screen.is_attached and not screen.is_mounted
                   for screen in (*self.screen_stack, *self._popped_while_built))

    # A screen popped while still being built (Esc right after `i`: the resource detail's tabs still
    # mounting) leaves the stack at once (the keys after the Esc go to the screen below) and is
    # removed once its mount ran, as a kept screen dropped mid-build (screens/kept_env_screens.py):
    # removed half-built, its on_mount found its widgets gone (NoMatches '#summary').
    _popped_while_built: frozenset = frozenset()

    async def _replace_screen(self, screen):  # type: ignore[no-untyped-def]
        if screen.is_attached and not screen.is_mounted and screen not in self._popped_while_built:
            self._popped_while_built |= {screen}
            if screen.call_after_refresh(self.call_later, self._replace_built, screen):  # after its Mount
                return screen
            self._popped_while_built -= {screen}  # its queue closed: nothing more is built into it
        return await super()._replace_screen(screen)

    async def _replace_built(self, screen) -> None:  # type: ignore[no-untyped-def]
        try:
            await super()._replace_screen(screen)
        finally:
            self._popped_while_built -= {screen}

    async def _screens_built(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SCREEN_BUILD_AT_MOST_S
        while self._running and loop.time() < deadline and self._building_screens():
            await asyncio.sleep(0.01)

    def exit(self, result: object = None, return_code: int = 0, message: object = None) -> None:
        if self._running and self._building_screens():
            async def once_built() -> None:
                await self._screens_built()
                super(EnvdeckApp, self).exit(result, return_code, message)

            self.run_worker(once_built(), group="exit", exclusive=True, exit_on_error=False)
            return
        super().exit(result, return_code, message)

    async def _shutdown(self) -> None:  # also called directly, without exit() (App.run_test)
        await self._screens_built()
        await super()._shutdown()

    async def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self.session is not None:
            with contextlib.suppress(Exception):
                await self.session.close()
        if self.heap is not None:
            self.heap.unsettle()
        self.idle_collector.uninstall()  # generation 2's threshold as it was

    # -- navigation ----------------------------------------------------------
    def open_env(self, env: str, *, view: str | None = None, kind: str | None = None) -> None:
        """Show environment `env` (replacing any environment screen open now); a managed
        environment not observed yet shows its lifecycle steps."""
        # down to the overview, or to another environment's screen: that one is replaced at once
        # (popping it resumed the overview: its restyle and footer cost a cold first visit ~15 ms CPU)
        while len(self.screen_stack) > 2 and not isinstance(self.screen, OverviewScreen) and not (
                isinstance(self.screen, EnvironmentScreen) and self.screen.env != env):
            self.pop_screen()
        if self.session is not None and env not in self.session.states() and env in self.managed:
            if isinstance(self.screen, EnvironmentScreen):
                self.pop_screen()
            self.push_screen(LifecycleScreen(env))
            return
        managed = self.managed.get(env)
        if view is None and kind is None and managed is not None and managed.state not in (
                EnvLifecycleState.READY, EnvLifecycleState.SLEEPING):
            view = "steps"  # being created, torn down, or failed: its steps say the most
        if isinstance(self.screen, EnvironmentScreen):
            if self.screen.env == env:
                self.screen.jump(view=view, kind=kind)
                return
        # the screens of the last few environments shown stay mounted: going back is a show, not a rebuild
        kept = getattr(self, "_kept_env_screens", None)
        if kept is None:
            kept = self._kept_env_screens = KeptEnvScreens(self)
        screen = kept.take(env)
        if screen is not None:
            screen.reopen(view=view, kind=kind)  # as a new screen would show it, from the session's state
        else:
            screen = EnvironmentScreen(env, view=view, kind=kind)
            screen.hold_collector(self)  # built now, not ahead: no collection before its first frame
            kept.keep(screen)
        if isinstance(self.screen, EnvironmentScreen):  # replaced at once: the overview under it is not resumed
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    def open_overview(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()

    def pop_screen(self) -> AwaitComplete:
        """Never the overview at the bottom of the stack: popping it left a blank screen with no
        way back (a command line dismissed twice by one burst popped two screens under it)."""
        if self.screen_stack and isinstance(self.screen, OverviewScreen) and len(self.screen_stack) <= 2:
            log.warning("pop of the overview refused: it stays at the bottom of the screen stack")
            return AwaitComplete(asyncio.sleep(0)).call_next(self)
        return super().pop_screen()

    # -- reconciler changes ----------------------------------------------------
    def on_env_updated(self, message: EnvUpdated) -> None:
        kinds = self.bridge.take(message.env)
        if not kinds or not self.screen_stack:  # none while the app shuts down (a follower's load may land then)
            return
        samples = self.bridge.take_samples(message.env)
        top = self.screen
        for screen in self.screen_stack:
            if samples and hasattr(screen, "samples_added"):
                screen.samples_added(message.env, samples)
            updated = getattr(screen, "env_updated", None)
            if updated is None:
                continue
            if screen is top and screen.ready:
                updated(message.env, kinds)
            else:
                screen.stale = True

    # -- lifecycle of managed environments ---------------------------------------------
    async def _load_managed(self) -> None:
        # a destroyed one stays while it has orphans (tui/core/lifecycle/outcome.py)
        listed = await self.session.env_list(include_destroyed=True)
        self.post_message(ManagedLoaded([m for m in listed if kept_on_overview(m)]))

    def on_managed_loaded(self, message: ManagedLoaded) -> None:
        self.managed = {m.name: m for m in message.managed}
        self._lifecycle_to_screens(None)

    def _keep_managed(self, env: str, managed: ManagedEnvironment | None) -> None:
        """Hold `managed` (another process may have changed it), or drop it: ended, or no longer
        this user's to see (the name re-created by someone this user has no role with, its owner
        or access changed): then its screens close too."""
        if managed is not None and not self._user_sees(managed):
            self.managed.pop(env, None)
            self._close_env_screens(env)
            return
        if managed is None or not kept_on_overview(managed):
            self.managed.pop(env, None)
        else:
            self.managed[env] = managed

    def _user_sees(self, managed: ManagedEnvironment) -> bool:
        if self.session is None:
            return True
        key = (managed.instance, managed.owner, managed.state == EnvLifecycleState.DESTROYED,
               repr(managed.spec.environment.get("access")))
        held = self._sees.get(managed.name)
        if held is None or held[0] != key:
            held = self._sees[managed.name] = (key, self.session.lifecycle.sees(managed))
        return held[1]

    def _close_env_screens(self, env: str) -> None:
        """Close the screens of an environment this user may no longer see (its environment screen,
        its Steps), and forget its kept one."""
        if any(isinstance(s, (EnvironmentScreen, LifecycleScreen)) and s.env == env for s in self.screen_stack):
            self.open_overview()
            self.toast(f"{env} is no longer shown: you have no role in it")
        kept = getattr(self, "_kept_env_screens", None)
        if kept is not None and env in kept:
            self.call_after_refresh(kept.drop, env)  # once the screen above is popped

    def _lifecycle_to_screens(self, env: str | None) -> None:
        if not self.screen_stack:  # the app is closing: a lifecycle change (a create under way) may land then
            return
        top = self.screen
        for screen in self.screen_stack:
            changed = getattr(screen, "lifecycle_changed", None)
            if changed is None:
                continue
            if screen is top and screen.ready:
                changed(env, self.managed.get(env) if env else None)
            else:
                screen.stale = True

    def on_lifecycle_updated(self, message: LifecycleUpdated) -> None:
        managed = message.managed
        bad = ended_badly(self.managed.get(message.env), managed) if managed is not None else None
        self._keep_managed(message.env, managed)
        if managed is not None and not self._user_sees(managed):
            bad = None  # not this user's to see (its end is no news to them)
        if bad is not None:
            self.toast(bad, severity="error", timeout=20.0, whole=True)
        self._lifecycle_to_screens(message.env)

    def on_environments_updated(self, message: EnvironmentsUpdated) -> None:
        if not self.screen_stack:  # the app is closing: its screens are gone
            return
        top = self.screen
        if isinstance(top, LifecycleScreen) and top.env in message.added:
            self.open_env(top.env)  # observed now: the environment screen (its Steps view) takes over
        elif isinstance(top, EnvironmentScreen) and top.env in message.removed:
            self.open_overview()
            self.toast(f"{top.env} is no longer observed (destroyed)")
        kept = getattr(self, "_kept_env_screens", None)
        if kept is not None and message.removed:  # a resize laid them out: they read a state no longer there
            self.call_after_refresh(kept.drop_unobserved)  # once the screen above is popped
        self._lifecycle_to_screens(None)

    def on_lifecycle_requested(self, message: LifecycleRequested) -> None:
        what = f"{message.operation} {message.env}"
        if message.managed is None:
            self.toast(f"{'denied' if message.denied else 'failed'}: {what}: {message.error}", severity="error",
                       timeout=10.0)
            return
        self._keep_managed(message.env, message.managed)
        # not the state it was in (`(ready)` read as the answer): what is asked is under way
        self.toast(f"{what}: handed to the reconciler")
        self._lifecycle_to_screens(message.env)

    def toast(self, text: str, *, severity: str = "information", timeout: float | None = None,
              whole: bool = False) -> None:
        """A one-line notification without a title; the Timeline keeps the full record.
        `whole`: an error's reason, wrapped over as many lines as it takes (up to WHOLE_TOAST_CHARS)."""
        width = max(20, (self.size.width or 80) * 9 // 10 - 6)  # 90% less padding and border
        line = " ".join(clean(text).split())
        if whole:
            line = line if len(line) <= WHOLE_TOAST_CHARS else line[:WHOLE_TOAST_CHARS - 1] + "…"
        elif len(line) > width:  # cut in the middle: a closing "(…)" says what became of it
            _, paren, tail = line.rpartition(" (")
            keep = paren + tail if paren and tail.endswith(")") and len(tail) + 2 <= width // 2 else ""
            line = line[:width - 1 - len(keep)].rstrip() + "…" + keep
        self.notify(line, severity=severity, timeout=TOAST_S if timeout is None else timeout,  # type: ignore[arg-type]
                    markup=False)

    def on_leadership_taken_over(self, message: LeadershipTakenOver) -> None:
        self.toast(message.text)  # its Timeline row is in the store (tui/core/leadership.py)

    def on_repairs_performed(self, message: RepairsPerformed) -> None:
        records = self.bridge.take_repairs(message.env)
        if not records:
            return
        buffer = self._repair_buffer.setdefault(message.env, [])
        if not buffer:
            self.set_timer(REPAIR_TOAST_DELAY_S, lambda env=message.env: self._toast_repairs(env),
                           name=f"repair-toast:{message.env}")
        buffer.extend(records)

    def _toast_repairs(self, env: str) -> None:
        records = self._repair_buffer.get(env) or []
        failed = [r for r in records if r.result != "succeeded"]
        last = self._repair_toasted.get(env)
        now = time.monotonic()
        if not failed and last is not None and now - last < REPAIR_TOAST_QUIET_S:
            # counted in the next toast; try again when the quiet period is over
            self.set_timer(REPAIR_TOAST_QUIET_S - (now - last), lambda: self._toast_repairs(env),
                           name=f"repair-toast:{env}")
            return
        self._repair_buffer[env] = []
        if not records:
            return
        self._repair_toasted[env] = now
        self.toast(repair_summary(env, records), severity="error" if failed else "information",
                   timeout=10.0 if failed else None)

    def on_confirmation_requested(self, message: ConfirmationRequested) -> None:
        self.push_screen(ConfirmScreen(message.request), message.done)

    # -- actions in flight ------------------------------------------------------
    def on_action_started(self, message: ActionStarted) -> None:
        self.activities.append((message.label, self.now()))
        self._tick()

    def on_action_finished(self, message: ActionFinished) -> None:
        self.activities = [a for a in self.activities if a[0] != message.label]
        what = f"{message.label} in {message.env}"
        # A refusal or a failure leads with its reason and is shown whole (wrapped): the reason
        # is what the on-caller needs, and the label only says which action it was.
        if message.denied:
            self.toast(f"denied: {message.message} ({what})", severity="error", timeout=10.0, whole=True)
        elif message.ok:
            self.toast(f"{what}: {message.message or 'done'}")
        else:
            self.toast(f"failed: {message.message or 'no reason given'} ({what})", severity="error",
                       timeout=10.0, whole=True)
        if not self.screen_stack:  # the app is closing: an action that ended as it did has no screen to update
            return
        screen = self.screen
        if hasattr(screen, "env_updated") and screen.ready:
            screen.env_updated(message.env, {"timeline"})
        self._tick()

    def activity_label(self) -> str:
        if not self.activities:
            return ""
        label, since = self.activities[-1]
        more = f" (+{len(self.activities) - 1})" if len(self.activities) > 1 else ""
        return f"{label}… {int((self.now() - since).total_seconds())}s{more}"

    # -- themes --------------------------------------------------------------
    def _theme_changed(self) -> None:
        self.palette = Palette(self.get_css_variables())
        for screen in self.screen_stack:
            repaint = getattr(screen, "palette_changed", None)
            if repaint is not None:
                repaint()
        if self._theme_ready and self.session is not None:
            self.run_worker(self.session.store.set_setting(THEME_SETTING, self.theme), group="settings",
                            exit_on_error=False)

    # -- help / command line ---------------------------------------------------
    def action_help(self) -> None:
        from screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(self.screen))

    def action_command_line(self) -> None:
        from textual.actions import SkipAction
        from textual.widgets import Input, TextArea

        from screens.jump import CommandLineScreen, run_command

        if self.screen.is_modal or isinstance(self.focused, Input | TextArea):
            raise SkipAction()  # ':' is typed there (the command line's own input too), as before priority
        if isinstance(self.screen, CommandLineScreen):
            return

        def done(text: str | None) -> None:
            try:
                if text:
                    run_command(self, text)
            finally:  # the keys typed after Enter act on what the command opened
                release_keys(self, "command-line", when_settled=True)

        hold_keys(self, "command-line")  # released once its box has the focus
        self.push_screen(CommandLineScreen(self.command_suggestions()), done)

    def command_suggestions(self) -> list[str]:
        from screens.jump import suggestions

        return suggestions(self)

    # -- workers ---------------------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place that reports a worker that failed unexpectedly."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            log.error("worker %s failed: %s", event.worker.name, error, exc_info=error)
            self.notify(clean(error, max_len=300) or type(error).__name__, title=f"{event.worker.name} failed",
                        severity="error", markup=False)


def repair_summary(env: str, records: list) -> str:
    """One line for the repairs of one environment (the Timeline has each)."""
    failed = [r for r in records if r.result != "succeeded"]
    if len(records) == 1:
        r = records[0]
        name = r.resource.rsplit("/", 1)[-1]
        if not failed:
            return f"{env}: repaired {name} {r.field} ({r.action})"
        return f"{env}: repair of {name} {r.field} {r.result}" + (f": {r.message}" if r.message else "")
    text = f"{env}: {len(records)} repairs"
    if failed:
        text += f", {len(failed)} {'not done' if len(failed) > 1 else failed[0].result}"
    return text + " (see the Timeline)"


def create_app(config: EnvdeckConfig, state_dir: Path | str, *, read_only: bool = False,
               options: AppOptions | None = None) -> EnvdeckApp:
    """The one app factory: the CLI, the demo, `serve` and the tests build the app here."""
    return EnvdeckApp(config, Path(state_dir), read_only=read_only, options=options)


def keymap_classes() -> tuple[type, ...]:
    """The classes whose bindings users may remap by id (`ui.keymap`): the app, then the
    screens and widgets (one list, in screens/registry.py)."""
    return (EnvdeckApp, *screen_keymap_classes())


def keymap_clashes(keymap: dict[str, str]) -> list[str]:
    """What `keymap` takes from other bindings of the same screen or widget: `restart: l` on the
    environment screen leaves `l Logs` unreachable there (breaker finding, session 12: it hid Logs
    without a word). One line per clash, naming both ids and the key."""
    def keys(text: str) -> set[str]:
        return {k.strip() for k in text.split(",") if k.strip()}

    lines: list[str] = []
    for cls in keymap_classes():
        bindings = [b for b in cls.BINDINGS if isinstance(b, Binding) and b.id]
        for b in bindings:
            if b.id not in keymap:
                continue
            for other in bindings:
                if other.id == b.id or other.id in keymap or other.action == b.action:
                    continue
                taken = keys(keymap[b.id]) & keys(other.key)
                if taken:
                    lines.append(f"ui.keymap: {clean(b.id)} on {', '.join(sorted(taken))} takes the key of "
                                 f"{other.id} ({other.description or other.action}) in {cls.__name__}")
    return sorted(set(lines))


def known_binding_ids() -> set[str]:
    """Every binding id of envdeck, and Textual's own (for validating `ui.keymap`)."""
    ids: set[str] = set()
    for cls in (*keymap_classes(), App):
        for b in cls.BINDINGS:
            if isinstance(b, Binding) and b.id:
                ids.add(b.id)
    return ids
