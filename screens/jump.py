"""`:` — the k9s command line: jump to an environment, a resource kind or a view.

    :staging          open an environment
    :pods  :deploy    show only that kind (in the environment on screen)
    :svc  :unit       Kubernetes Services; edge systemd services (also :edge-service)
    :drift  :logs     switch view (resources, logs, metrics, faults, timeline, compliance, drift)
    :prod drift       environment and view (or kind) at once; also :prod/pods
    :overview         the environments overview (also :envs, :ctx)
    :theme light      switch theme
    :versions         the version matrix: components × environments (also :ver)
    :diff prod        compare the environment on screen with prod, side by side (also :diff A B)
    :q                quit
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Input, Label

from screens.base import steady_input
from screens.env_views import ENV_VIEWS, VIEW_ALIASES
from screens.key_hold import release_keys
from themes import resolve_theme_name
from tui.core.sanitize import clean
from tui.widgets.resource_table import SHORT_KIND

if TYPE_CHECKING:
    from tui.app import EnvdeckApp

KIND_ALIASES = {
    "po": "Pod", "pod": "Pod", "pods": "Pod", "deploy": "Deployment", "deployment": "Deployment",
    "deployments": "Deployment", "dp": "Deployment", "sts": "StatefulSet", "statefulsets": "StatefulSet",
    "svc": "Service", "ec2": "ec2-instance", "instances": "ec2-instance", "s3": "s3-bucket", "buckets": "s3-bucket",
    "ecs": "ecs-service", "rds": "rds-instance", "nodes": "node", "no": "node",
    "lambda": "lambda-function", "functions": "lambda-function", "lb": "load-balancer", "elb": "load-balancer",
    "alb": "load-balancer", "nlb": "load-balancer", "tg": "target-group", "asg": "autoscaling-group",
    "dynamodb": "dynamodb-table", "ddb": "dynamodb-table", "tables": "dynamodb-table", "sqs": "sqs-queue",
    "queues": "sqs-queue",
    "ing": "Ingress", "ingresses": "Ingress", "hpa": "HorizontalPodAutoscaler", "cj": "CronJob",
    "pdb": "PodDisruptionBudget", "netpol": "NetworkPolicy", "cm": "ConfigMap", "cert": "Certificate",
}
SHORT_KINDS = {short: kind for kind, short in SHORT_KIND.items()}
# `service` names two kinds: Kubernetes `Service` (as in kubectl and k9s) and the edge nodes'
# systemd `service`; each has its own words, so that one never lists the other.
KUBERNETES_SERVICE_WORDS = frozenset({"svc", "service", "services"})
EDGE_SERVICE_WORDS = frozenset({"unit", "units", "edge-service", "edge-services", "systemd"})
OVERVIEW_WORDS = {"overview", "envs", "environments", "ctx", "context", "home"}
QUIT_WORDS = {"q", "q!", "quit", "exit"}
DIFF_WORDS = {"diff", "compare"}
VERSIONS_WORDS = {"versions", "version", "ver"}
CLI_ONLY_WORDS = frozenset({"extend", "promote"})  # verbs only the CLI has: the command line says how


@dataclass(frozen=True)
class Jump:
    env: str | None = None
    view: str | None = None
    kind: str | None = None  # "" clears the kind filter
    overview: bool = False
    quit: bool = False
    theme: str | None = None
    help: bool = False
    compare: tuple[str | None, str] | None = None  # :diff [A] B (A: the environment on screen)
    versions: bool = False
    error: str | None = None


def resolve_kind(word: str, known_kinds: set[str]) -> str | None:
    w = word.lower()
    if w in EDGE_SERVICE_WORDS:
        return "service"
    if w in KUBERNETES_SERVICE_WORDS:
        return "Service"
    if word in known_kinds:
        return word
    lowered = {k.lower(): k for k in known_kinds}
    if w in lowered:
        return lowered[w]
    if w.rstrip("s") in lowered:
        return lowered[w.rstrip("s")]
    alias = KIND_ALIASES.get(w)
    if alias is not None:
        return alias
    return SHORT_KINDS.get(w)  # the short kinds the Resources table shows in KIND (`sg`, `ebs`, `pvc`)


def cli_only(words: list[str], envs: list[str], here: str | None) -> str:
    """What `:extend` or `:promote A B` says: a verb of the CLI only, with the command to type
    (the environment on screen, or the ones typed, filled in)."""
    verb, rest = words[0].lower(), words[1:]
    named = [w for w in rest if w in envs]
    if verb == "extend":
        name = named[0] if named else here or "NAME"
        duration = next((w for w in rest if w not in envs), "24h")
        command = f"envdeck env extend {name} {duration}"
    else:
        if len(named) >= 2:
            a, b = named[:2]
        else:  # as `:diff B`: A is the environment on screen
            a = here if here and here not in named else "A"
            b = named[0] if named else "B"
        command = f"envdeck promote {a} {b} --plan (then --apply)"
    return clean(f"{verb} is a CLI command: {command}", max_len=160)


def parse_jump(text: str, envs: list[str], known_kinds: set[str], here: str | None = None) -> Jump:
    """`here`: the environment on screen (filled into the CLI command `:extend` points to)."""
    words = text.strip().lstrip(":").replace("/", " ").split()
    if not words:
        return Jump(error="empty command")
    first = words[0].lower()
    if first in QUIT_WORDS:
        return Jump(quit=True)
    if first in OVERVIEW_WORDS:
        return Jump(overview=True)
    if first in ("help", "?"):
        return Jump(help=True)
    if first in VERSIONS_WORDS and words[0] not in envs:
        return Jump(versions=True)
    if first in DIFF_WORDS and words[0] not in envs:
        return parse_diff(words[1:], envs)
    if first in CLI_ONLY_WORDS and words[0] not in envs:
        return Jump(error=cli_only(words, envs, here))
    if first == "theme":
        if len(words) < 2:
            return Jump(error="usage: :theme NAME (dark, light, high-contrast or a user theme)")
        return Jump(theme=resolve_theme_name(words[1]))
    env = None
    if words[0] in envs:
        env, words = words[0], words[1:]
    if not words:
        return Jump(env=env)
    word = words[0]
    if word.lower() in VIEW_ALIASES:
        view = VIEW_ALIASES[word.lower()]
        return Jump(env=env, view=view, kind="" if word.lower() in ("all", "res", "resources") else None)
    kind = resolve_kind(word, known_kinds)
    if kind is not None:
        return Jump(env=env, kind=kind)
    return Jump(error=f"no environment, view or kind {clean(word, max_len=40)!r} "
                      f"(environments: {', '.join(envs) or 'none'})")


def parse_diff(words: list[str], envs: list[str]) -> Jump:
    if not 1 <= len(words) <= 2:
        return Jump(error="usage: :diff B (against the environment on screen) or :diff A B")
    for word in words:
        if word not in envs:
            return Jump(error=f"no environment {clean(word, max_len=40)!r} (environments: {', '.join(envs) or 'none'})")
    if len(words) == 2 and words[0] == words[1]:
        return Jump(error="diff needs two different environments")
    return Jump(compare=(words[0], words[1]) if len(words) == 2 else (None, words[0]))


def current_env(app: EnvdeckApp) -> str | None:
    for screen in reversed(app.screen_stack):
        env = getattr(screen, "env", None)
        if isinstance(env, str):
            return env
    return None


def known_kinds(app: EnvdeckApp, env: str | None) -> set[str]:
    if app.session is None:
        return set()
    states = [app.session.state(env)] if env in app.session.states() else list(app.session.states().values())
    return {r.kind for s in states for r in s.all_resources()}


def run_command(app: EnvdeckApp, text: str) -> None:
    envs = app.session.environments() if app.session else []
    here = current_env(app)
    jump = parse_jump(text, envs, known_kinds(app, here), here)
    if jump.error:
        app.notify(jump.error, severity="warning", markup=False)
    elif jump.quit:
        app.exit()
    elif jump.overview:
        app.open_overview()
    elif jump.help:
        app.action_help()
    elif jump.versions:
        from screens.versions import VersionsScreen

        app.push_screen(VersionsScreen())
    elif jump.compare:
        open_compare(app, jump.compare[0] or here, jump.compare[1])
    elif jump.theme:
        if app.get_theme(jump.theme) is None:
            app.notify(f"no theme {clean(jump.theme)!r}", severity="warning", markup=False)
        else:
            app.theme = jump.theme
    else:
        env = jump.env or here
        if env is None:
            if len(envs) == 1:
                env = envs[0]
            else:
                app.notify("open an environment first (e.g. :" + (envs[0] if envs else "staging") + ")",
                           severity="warning", markup=False)
                return
        app.open_env(env, view=jump.view, kind=jump.kind)


def open_compare(app: EnvdeckApp, a: str | None, b: str) -> None:
    if a is None or a == b:
        app.notify(f"open another environment first, or :diff A {clean(b, max_len=40)}", severity="warning",
                   markup=False)
        return
    from screens.compare import CompareScreen

    app.push_screen(CompareScreen(a, b))


def suggested_view_words() -> set[str]:
    """Each view's name and its aliases, leaving out an alias that only shortens or pluralises
    the name (`res`, `fault`, `drifts`): the completion reaches the name from it anyway."""
    return {word for v in ENV_VIEWS for word in (v.name, *v.aliases)
            if word == v.name or not (v.name.startswith(word) or word.startswith(v.name))}


def suggestions(app: EnvdeckApp) -> list[str]:
    envs = app.session.environments() if app.session else []
    kinds = sorted(known_kinds(app, current_env(app)))
    words = envs + sorted(suggested_view_words()) + kinds
    if "service" in kinds:  # edge systemd services: `:service` is the Kubernetes kind
        words.append("unit")
    words += [f"{e} {v.name}" for e in envs for v in ENV_VIEWS[1:]]  # `:staging` alone opens the first view
    words += [f"diff {e}" for e in envs]
    words += ["overview", "versions", "theme dark", "theme light", "theme high-contrast", "quit"]
    return words


class CommandLineScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="command-line-cancel")]

    def __init__(self, words: list[str]) -> None:
        super().__init__()
        self.words = words
        self._submitted = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="command-bar"):
            yield Label(":", id="command-prompt")
            yield steady_input(self.app, placeholder="staging · pods · svc · unit · drift · overview · q",
                               suggester=SuggestFromList(self.words, case_sensitive=False), id="command-input")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        release_keys(self.app, "command-line")  # the keys typed since `:` go into the box, in order

    def holds_keys_after(self, key: str) -> str | None:
        """Enter and Esc close the command line: the keys typed after them wait until the
        command took effect (the app's `done` releases them), never typed into this box."""
        return "command-line" if key in ("enter", "escape") and not self._submitted else None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._close(event.value.strip() or None)

    def action_cancel(self) -> None:
        self._close(None)

    def _close(self, result: str | None) -> None:
        """Dismissed once: Textual's dismiss pops whatever screen is on top, so a second one
        (a key already queued for this screen) popped the screens under it."""
        if self._submitted or not self.is_current:
            return
        self._submitted = True
        self.dismiss(result)
