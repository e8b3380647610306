"""The environment screen's views: one table, read by the screen, the command palette and
the `:` command line (names, titles, aliases, the widget each focuses and filters, and the
kinds of change that make each stale)."""

from __future__ import annotations

from dataclasses import dataclass

from tui.messages import DRIFTS, FAULTS, LIFECYCLE, RESOURCES, SAMPLES, TIMELINE


@dataclass(frozen=True, slots=True)
class EnvView:
    name: str  # the tab pane's id, the `:` word and the binding id suffix (`view-NAME`)
    title: str
    focus: str  # the widget that takes the focus when the view is shown
    kinds: frozenset[str]  # the changes (tui.messages kinds) that make the view stale
    aliases: tuple[str, ...] = ()  # other words for it on the `:` command line
    filtered: str | None = None  # the KeyedTable that `/` filters (resources and logs filter their own way)
    records: bool = False  # a RecordTable of rows about resources (the selection is the row's resource)
    reload_on_show: bool = False  # loaded again each time it is shown (not only when stale)
    shows_ages: bool = False  # its age column is redrawn as time passes
    managed_only: bool = False  # shown only for an environment created from a template


ENV_VIEWS: tuple[EnvView, ...] = (
    EnvView("resources", "Resources", "#resource-table", frozenset({RESOURCES, DRIFTS, SAMPLES}), ("res", "all"),
            shows_ages=True),
    EnvView("logs", "Logs", "#log", frozenset(), ("log",)),
    EnvView("metrics", "Metrics", "#series", frozenset(), ("metric",), filtered="#series", reload_on_show=True),
    EnvView("faults", "Faults", "#faults-table", frozenset({FAULTS, RESOURCES}), ("fault",),
            filtered="#faults-table", records=True, shows_ages=True),
    EnvView("timeline", "Timeline", "#timeline-table", frozenset({TIMELINE}), ("events", "audit"),
            filtered="#timeline-table", records=True, reload_on_show=True),
    EnvView("compliance", "Compliance", "#compliance-table", frozenset({RESOURCES}), ("findings",),
            filtered="#compliance-table", records=True),
    EnvView("drift", "Drift", "#drift-table", frozenset({DRIFTS, RESOURCES}), ("drifts",),
            filtered="#drift-table", records=True),
    # A managed (template-created) environment's steps; the tab is hidden for the others.
    EnvView("steps", "Steps", "#steps-table", frozenset({LIFECYCLE}), ("lifecycle",), filtered="#steps-table",
            shows_ages=True, managed_only=True),  # `/` matches a step's id, backend, kind, state or message
)
VIEW_BY_NAME: dict[str, EnvView] = {v.name: v for v in ENV_VIEWS}
VIEWS: tuple[str, ...] = tuple(v.name for v in ENV_VIEWS)
VIEW_ALIASES: dict[str, str] = {word: v.name for v in ENV_VIEWS for word in (v.name, *v.aliases)}
