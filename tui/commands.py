"""Command palette (ctrl+p) providers: environments and views, resources by
name, themes. Outside text (resource names) is cleaned before it is shown."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.theme import BUILTIN_THEMES as _TEXTUAL_THEMES

from screens.env_views import ENV_VIEWS
from tui.core.policy import PAUSE, REPAIR
from tui.core.sanitize import clean

if TYPE_CHECKING:
    from tui.app import EnvdeckApp

MAX_RESOURCE_HITS = 30
# The views every environment has (the Steps view only a created one's).
VIEWS = tuple(v.name for v in ENV_VIEWS if not v.managed_only)
MANAGED_VIEWS = tuple(v.name for v in ENV_VIEWS if v.managed_only)


class _EnvdeckProvider(Provider):
    @property
    def envdeck(self) -> EnvdeckApp:
        return self.app  # type: ignore[return-value]

    def commands(self) -> Iterator[tuple[str, Callable[[], object], str]]:
        return iter(())

    async def discover(self) -> Hits:
        for text, callback, help_text in self.commands():
            yield DiscoveryHit(text, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for text, callback, help_text in self.commands():
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), callback, help=help_text)


class EnvironmentCommands(_EnvdeckProvider):
    def commands(self) -> Iterator[tuple[str, Callable[[], object], str]]:
        app = self.envdeck
        if app.session is None:
            return
        yield "Environments overview", app.open_overview, "every environment with health, drift and faults"
        for env in app.session.environments():
            state = app.session.state(env)
            yield f"Open {env}", partial(app.open_env, env), f"{state.health()} · repair {state.repair}"
            managed = app.managed.get(env)
            for view in VIEWS[1:] + (MANAGED_VIEWS if managed is not None else ()):
                yield f"{env}: {view}", partial(app.open_env, env, view=view), f"the {view} view of {env}"
            verb = "Resume" if state.paused else "Pause"
            yield f"{verb} reconciling {env}", partial(self._pause, env), self._who(env, PAUSE)
            yield f"Repair drift in {env}", partial(self._repair, env), \
                f"{len(state.all_drifts())} drifted field(s); {self._who(env, REPAIR)}"
        yield from self._lifecycle_commands(app)

    def _lifecycle_commands(self, app: EnvdeckApp) -> Iterator[tuple[str, Callable[[], object], str]]:
        """New environment; destroy, sleep, wake of each created one (the service decides who may)."""
        from screens.lifecycle_flow import destroy, sleep_or_wake

        if app.session.templates():
            yield "New environment", self._new_env, "from a template: parameters, plan, create (n on the overview)"
        for env, managed in app.managed.items():
            if env not in app.session.states():
                yield f"Open {env}", partial(app.open_env, env), f"{managed.state} · its lifecycle steps"
            yield f"Destroy {env}", partial(destroy, app, env), "type its name to confirm; admin of it (D)"
            if managed.state == "sleeping":
                yield f"Wake {env}", partial(sleep_or_wake, app, env, sleep=False), "admin of it (W)"
            elif managed.state == "ready":
                yield f"Sleep {env}", partial(sleep_or_wake, app, env, sleep=True), "admin of it (Z)"

    def _new_env(self) -> None:
        app = self.envdeck
        app.open_overview()
        app.screen.action_new_env()

    def _who(self, env: str, action) -> str:
        """What choosing the command will do for this user: audited, or why it is refused."""
        decision = self.envdeck.session.policy.check(env, action)
        return f"{action.role.label} role; audited" if decision.allowed else f"not allowed: {clean(decision.reason)} (audited)"

    def _pause(self, env: str) -> None:
        from screens.action_flow import toggle_pause

        toggle_pause(self.envdeck, env)

    def _repair(self, env: str) -> None:
        from screens.action_flow import repair

        repair(self.envdeck, env)


class ResourceCommands(_EnvdeckProvider):
    """Jump to a resource's detail by name."""

    async def discover(self) -> Hits:
        return
        yield  # pragma: no cover

    async def search(self, query: str) -> Hits:
        app = self.envdeck
        if app.session is None or not query.strip():
            return
        # "xray NAME": the resource's xray instead of its details
        xray = query.lower().startswith("xray ")
        matcher = self.matcher(query[5:] if xray else query)
        hits = 0
        for env, state in app.session.states().items():
            for r in state.all_resources():
                text = f"{clean(r.name, max_len=80)} ({clean(r.kind, max_len=30)} in {env})"
                score = matcher.match(text)
                if score > 0:
                    yield Hit(score, matcher.highlight(f"xray {text}" if xray else text),
                              partial(self._open_xray if xray else self._open, env, r.id),
                              help=f"{r.health} · {clean(r.id, max_len=100)}")
                    hits += 1
                    if hits >= MAX_RESOURCE_HITS:
                        return

    def _open(self, env: str, resource_id: str) -> None:
        from screens.resource_detail import ResourceDetailScreen

        app = self.envdeck
        app.open_env(env)
        app.push_screen(ResourceDetailScreen(env, resource_id))


    def _open_xray(self, env: str, resource_id: str) -> None:
        from screens.xray import XrayScreen

        app = self.envdeck
        app.open_env(env)
        app.push_screen(XrayScreen(env, resource_id))


class ThemeCommands(_EnvdeckProvider):
    def commands(self) -> Iterator[tuple[str, Callable[[], object], str]]:
        app = self.envdeck
        for name in sorted(app.available_themes):
            if name.startswith("envdeck-") or name not in _TEXTUAL_THEMES:
                yield f"Theme: {name}", partial(setattr, app, "theme", name), "the choice is remembered"

