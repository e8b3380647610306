"""Driving the app under test (plain helpers, used by the TUI and security tests): one app
factory (the same `create_app` as the CLI), a fixed clock, the in-memory stage, and waiting
on conditions (never sleeping)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from tests.tui.stage import FIXED_NOW, Stage, stage_config, stage_factory
from tui.app import AppOptions, EnvdeckApp, create_app

DEADLINE_S = 30.0


def make_app(state_dir: Path, stage: Stage, *, theme: str | None = None, user: str = "alice",
             env: str | None = None, view: str | None = None, live: bool = False, config_text: str | None = None,
             read_only: bool = False, aws=None) -> EnvdeckApp:
    """`aws`: a backend class `(env, stage)` that replaces the stage's AWS backend."""
    config = stage_config(config_text) if config_text else stage_config()
    if theme:
        config.ui.theme = theme
    factory = stage_factory(stage)
    if aws is not None:
        base = factory

        def factory(env_name, env_cfg, cfg):
            out = base(env_name, env_cfg, cfg)
            if "aws" in out:
                out["aws"] = aws(env_name, stage)
            return out

    options = AppOptions(clock=lambda: FIXED_NOW, backends_factory=factory, start_reconciler=live,
                         start_env=env, start_view=view, user=user, testing=True)
    return create_app(config, state_dir, read_only=read_only, options=options)


async def wait_until(pilot, predicate: Callable[[], object], what: str, timeout: float = DEADLINE_S,
                     explain: Callable[[], object] | None = None) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            detail = f" (now: {explain()!r})" if explain is not None else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{detail}")
        await pilot.pause(0.05)


async def type_text(pilot, text: str) -> None:
    """Type the printable `text` as one burst: every key in the app's queue before the first is
    handled, as the terminal driver hands over the bytes of one read. The same Key events as
    `pilot.press(*text)`, without its wait for an idle app after each key (40 ms or more a key);
    the caller waits for what the keys do (an Input's value, say)."""
    from textual import events
    from textual.keys import _character_to_key

    app = pilot.app
    for ch in text:
        assert ch.isprintable(), f"type_text types printable characters, not {ch!r}"
        event = events.Key(ch if ch.isalnum() else _character_to_key(ch), ch)
        event.set_sender(app)
        app._driver.send_message(event)


async def palette_typed(pilot, query: str, first: str) -> None:
    """Open the command palette (ctrl+p), type `query` and wait until the whole query is in its box
    and the highlighted first hit's text holds `first`: Enter then chooses that hit."""
    from textual.command import CommandInput, CommandList, CommandPalette

    app = pilot.app
    await pilot.press("ctrl+p")
    await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette), "the command palette")
    palette = app.screen
    field, hits = palette.query_one(CommandInput), palette.query_one(CommandList)
    await type_text(pilot, query)

    def first_hit() -> str:
        return str(hits.get_option_at_index(0).prompt) if hits.option_count else ""

    await wait_until(pilot, lambda: field.value == query and hits.highlighted == 0 and first in first_hit(),
                     f"{first!r} first in the palette's answer to {query!r}",
                     explain=lambda: (field.value, hits.highlighted, first_hit()))


def drawn_keys(screen) -> tuple:
    """The keys the screen's footer drew at the last frame (DrawnKey: key, description, action,
    disabled, palette, region)."""
    from tui.widgets.steady_footer import SteadyFooter

    return tuple(key for footer in screen.query(SteadyFooter) for key in footer.drawn)


async def settle(pilot) -> None:
    """Let pending layout, the footer's keys and table sizing finish."""
    from tui.widgets.steady_footer import SteadyFooter

    app = pilot.app

    def footer_ready() -> bool:
        screen = app.screen
        if not getattr(screen, "ready", True):
            return False
        return all(f.drawn and not f.settling for f in screen.query(SteadyFooter))

    await wait_until(pilot, footer_ready, "the footer keys")
    await pilot.wait_for_scheduled_animations()
    for _ in range(3):
        await pilot.pause()


async def app_ready(pilot) -> None:
    from screens.base import EnvdeckScreen

    app = pilot.app
    wanted_env = app.options.start_env

    def ready() -> bool:
        screen = app.screen
        if app.session is None or not isinstance(screen, EnvdeckScreen) or not screen.ready:
            return False
        return wanted_env is None or getattr(screen, "env", None) == wanted_env

    await wait_until(pilot, ready, "the session to open and the first screen to be ready")
    await settle(pilot)


async def wait_for_audit(pilot, action: str, env: str = "staging", timeout: float = DEADLINE_S) -> list[dict]:
    """The audit rows of `action` in `env` once one has a final result (polls the store)."""
    app = pilot.app
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        rows = [r for r in await app.session.store.audit_entries(env, limit=100) if r["action"] == action]
        if rows and rows[0]["result"] != "pending":
            return rows
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for an audit row of {action!r}")
        await pilot.pause(0.05)


async def dialog_shown(pilot, cls: type | None = None, what: str = "the dialog"):
    """Wait until a dialog (of `cls`) is on top and takes keys: painted, and its guard against keys
    typed ahead (screens/dialog_guard.py, 250 ms) over. A key that confirms goes after this: one
    pressed sooner is ignored, as it is in the product."""
    app = pilot.app

    def shown() -> bool:
        screen = app.screen
        if cls is not None and not isinstance(screen, cls):
            return False
        takes_keys = getattr(screen, "takes_keys", None)
        return takes_keys is None or takes_keys()

    await wait_until(pilot, shown, what, explain=lambda: app.screen)
    return app.screen
