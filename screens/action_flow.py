"""From a key press to an audited action: choose the action, show it disabled
with the reason when the role may not run it (and still audit the denial through
the Session), confirm, run in a worker with progress, report as a notification.

Every call goes through `Session` (policy + audit), the same path as the CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import sys
from typing import TYPE_CHECKING

from textual.app import SuspendNotSupported

from screens.confirm import ConfirmRequest, ConfirmScreen, fit_title
from screens.desired_conflict import HOLD, SET_DESIRED, DesiredConflictScreen
from screens.shell_handover import (
    HandOverInterrupted,
    Interrupted,
    call_in_foreground,
    end_by_signal,
    how_it_ended,
)
from tui.core import overrides
from tui.core.errors import EnvdeckError, PolicyDenied, StoreRefused
from tui.core.model import Resource
from tui.core.pause_text import already_paused
from tui.core.policy import PAUSE, REPAIR
from tui.core.sanitize import clean
from tui.core.session import ActionChoice
from tui.messages import ActionFinished, ActionStarted

if TYPE_CHECKING:
    from tui.app import EnvdeckApp

# What the action keys mean, in order of preference per resource kind.
RESTART_ACTIONS = ("restart", "force-new-deployment", "reboot")
SCALE_ACTIONS = ("scale", "set-desired-capacity", "set-concurrency")  # S on a Lambda: its reserved concurrency
DELETE_ACTIONS = ("delete", "terminate")
STOP_ACTIONS = ("stop",)
START_ACTIONS = ("start",)
# action key (binding action) -> the backend actions it may run, first found wins
KEY_ACTIONS = {"restart": RESTART_ACTIONS, "scale": SCALE_ACTIONS, "stop": STOP_ACTIONS, "start": START_ACTIONS,
               "delete": DELETE_ACTIONS}


def has_key_action(choices: list[ActionChoice], key_action: str) -> bool | None:
    """Whether a resource with these action choices has what the key runs (None: not an action key)."""
    names = KEY_ACTIONS.get(key_action)
    if names is None:
        return None
    return pick(choices, names, destructive_fallback=key_action == "delete") is not None
# Actions handled by the UI itself rather than `Session.act`.
UI_ACTIONS = {"logs", "shell"}


def has_ui_action(session, env: str, resources: list[Resource], action: str) -> bool | None:
    """Whether `l` (logs of any of these resources) or `s` (a shell on the one resource)
    has something to open; None: not a UI action."""
    try:
        if action == "logs":
            return any(session.has_logs(env, r) for r in resources)
        if action == "shell":
            return len(resources) == 1 and session.has_shell(env, resources[0])
    except EnvdeckError:
        return False
    return None


def explain_ui_key(screen, key: str, resources: list[Resource]) -> bool:
    """`l`/`s` pressed where the footer does not offer them (a queue, a group, a table: their
    binding is off, so nothing runs): say why in one line. True when `key` was one of them."""
    for b in screen._bindings.key_to_bindings.get(key, ()):
        if b.action in UI_ACTIONS and resources and screen.check_action(b.action, ()) is False:
            what = "logs" if b.action == "logs" else "shell"
            names = ", ".join(f"{clean(r.name, max_len=40)} ({clean(r.kind)})" for r in resources[:3])
            more = f" and {len(resources) - 3} more" if len(resources) > 3 else ""
            aws = any(r.backend == "aws" for r in resources)
            where = ("map a log group under aws.logs or tag it envdeck:log-group=GROUP" if aws
                     else "it writes no log envdeck can read") if b.action == "logs" \
                else "a shell opens on one running instance, pod or edge node"
            screen.app.notify(f"no {what} for {names}{more}: {where}", severity="warning", markup=False)
            return True
    return False


def pick(choices: list[ActionChoice], names: tuple[str, ...], *, destructive_fallback: bool = False
         ) -> ActionChoice | None:
    by_name = {c.spec.name: c for c in choices}
    for name in names:
        if name in by_name:
            return by_name[name]
    if destructive_fallback:
        return next((c for c in choices if c.spec.destructive), None)
    return None


def _param_default(resource: Resource, name: str) -> str:
    value = resource.attributes.get(name)
    if value is None and name in ("replicas", "desired_count"):
        value = resource.attributes.get("replicas", resource.attributes.get("desired_count"))
    return "" if value is None or isinstance(value, dict | list) else str(value)


# Parameters that count something (replicas, tasks, instances, concurrent executions): whole
# numbers, 0 or more, checked by the dialog before anything is sent, whatever the kind scaled.
COUNT_PARAMS = frozenset({"replicas", "desired_count", "desired_capacity", "reserved_concurrency"})


def _param_limits(resource: Resource, name: str) -> tuple[int, int] | None:
    """The range a parameter must be in, when the resource says (an Auto Scaling group's
    desired capacity: its min and max size), so the dialog refuses a value before any call."""
    if name != "desired_capacity":
        return None
    low, high = resource.attributes.get("min_size"), resource.attributes.get("max_size")
    if not isinstance(low, int) or not isinstance(high, int):
        return None
    return low, high


def run_action(app: EnvdeckApp, env: str, resources: list[Resource], names: tuple[str, ...], label: str,
               *, destructive_fallback: bool = False) -> None:
    """The action keys (r, S, ctrl+d) on one resource or on the marked ones."""
    session = app.session
    if session is None or not resources:
        return
    plan: list[tuple[Resource, ActionChoice]] = []
    missing: list[Resource] = []
    for r in resources:
        choice = pick(session.actions_for(env, r), names, destructive_fallback=destructive_fallback)
        if choice is None:
            missing.append(r)
        else:
            plan.append((r, choice))
    if not plan:
        kinds = sorted({clean(r.kind) for r in missing})
        app.notify(f"no {label} action for {', '.join(kinds)}", severity="warning", markup=False)
        return
    if missing:
        app.notify(f"{len(missing)} marked resource(s) have no {label} action and are skipped",
                   severity="warning", markup=False)
    start_action(app, env, plan)


def start_action(app: EnvdeckApp, env: str, plan: list[tuple[Resource, ActionChoice]]) -> None:
    """Confirm and run one action (possibly on several resources)."""
    denied = [(r, c) for r, c in plan if not c.decision.allowed]
    if denied:
        # Shown disabled with the reason; the denial still goes through the Session (audited `denied`).
        app.notify(f"{denied[0][1].spec.title}: {denied[0][1].decision.reason}", title="Not allowed",
                   severity="error", markup=False)
        app.run_worker(_audit_denials(app, env, denied), group="actions", exit_on_error=False)
        plan = [(r, c) for r, c in plan if c.decision.allowed]
        if not plan:
            return
    spec = plan[0][1].spec
    if spec.name in UI_ACTIONS:
        if spec.name == "shell":
            open_shell(app, env, plan[0][0])
        return
    first = plan[0][0]
    if len(plan) == 1:
        title = fit_title(f"{spec.title}: ", first.id, f" in {env}?", app.size.width or 80)
        details = [f"{first.kind} {first.name} — {first.health}" + (f", {first.status}" if first.status else "")]
        confirm_text = first.name if spec.destructive else None
    else:
        title = f"{spec.title}: {len(plan)} resources in {env}?"
        details = [r.id for r, _ in plan]
        confirm_text = env if spec.destructive else None
    limits = {p: r for p in spec.params if (r := _param_limits(first, p)) is not None} if len(plan) == 1 else {}
    for name, (low, high) in limits.items():
        details.append(f"{name}: between {low} and {high} (the group's min and max size)")
    request = ConfirmRequest(title=title, details=details,
                             params={p: _param_default(first, p) for p in spec.params},
                             type_to_confirm=confirm_text, destructive=spec.destructive,
                             confirm_label=spec.title, limits=limits,
                             counts=tuple(p for p in spec.params if p in COUNT_PARAMS))

    items = [(r.id, c.spec.name) for r, c in plan]

    def confirmed(params: dict[str, str] | None) -> None:
        if params is None:
            app.notify("cancelled", timeout=2)
            return
        # In `auto` mode the reconciler would undo an action against the desired state:
        # ask first (keep it as desired, hold the repair, or cancel).
        found = [c for r, choice in plan
                 for c in overrides.conflicts(app.session, env, r, choice.spec.name, params)]
        if not found:
            app.run_worker(_perform(app, env, items, params, spec.title), group="actions", exit_on_error=False)
            return

        def chosen(choice: str | None) -> None:
            if choice is None:
                app.notify("cancelled; nothing was done", timeout=2, markup=False)
                return
            app.run_worker(_perform(app, env, items, params, spec.title, override=(choice, found)),
                           group="actions", exit_on_error=False)

        what = f"{spec.title} {first.name}" if len(plan) == 1 else f"{spec.title} ×{len(plan)}"
        app.push_screen(DesiredConflictScreen(what, env, found, names={r.id: r.name for r, _ in plan}), chosen)

    app.push_screen(ConfirmScreen(request), confirmed)


async def _audit_denials(app: EnvdeckApp, env: str, denied: list[tuple[Resource, ActionChoice]]) -> None:
    for r, c in denied:
        with contextlib.suppress(EnvdeckError):  # denied, as shown already (or the store is gone)
            await app.session.act(env, r.id, c.spec.name)


async def _perform(app: EnvdeckApp, env: str, items: list[tuple[str, str]], params: dict[str, str],
                   title: str, *, override: tuple[str, list[overrides.Conflict]] | None = None) -> None:
    label = f"{title} {items[0][0].rsplit('/', 1)[-1]}" if len(items) == 1 else f"{title} ×{len(items)}"
    app.post_message(ActionStarted(env, clean(label)))
    why = f"{title} {' '.join(f'{k}={v}' for k, v in params.items())}".strip()
    if override is not None:  # before the action: no pass may undo it in between
        choice, found = override
        try:
            if choice == SET_DESIRED:
                await overrides.set_desired(app.session, env, found, reason=why)
            elif choice == HOLD:
                await overrides.hold_repair(app.session, env, sorted({c.resource for c in found}),
                                            overrides.DEFAULT_HOLD_S, reason=why)
        except EnvdeckError as exc:
            table = "desired_overlay" if choice == SET_DESIRED else "repair_holds"
            text = (failure_text(exc, table, "nothing was done") if isinstance(exc, StoreRefused)
                    else f"nothing was done: {clean(exc)}")
            app.post_message(ActionFinished(env, clean(label), False, text, denied=isinstance(exc, PolicyDenied)))
            return
    failures: list[str] = []
    messages: list[str] = []
    denied = False
    for rid, action in items:
        try:
            result = await app.session.act(env, rid, action, params)
        except PolicyDenied as exc:
            denied = True
            failures.append(str(exc))
        except EnvdeckError as exc:  # one resource: the reason alone (the toast names the action)
            failures.append(f"{rid}: {exc}" if len(items) > 1 else str(exc))
        else:
            (messages if result.ok else failures).append(f"{rid}: {result.message}" if len(items) > 1
                                                         else result.message or "done")
    ok = not failures
    text = "; ".join(messages if ok else failures)
    if override is not None and override[0] == SET_DESIRED:
        if ok:
            text += " (kept as desired)"
        else:  # the action did not happen: the config's value is desired again
            try:
                await overrides.undo_set_desired(app.session, env, override[1], reason=f"{why} failed")
            except EnvdeckError as exc:
                text += f"; the kept desired value was not dropped: {failure_text(exc, 'desired_overlay', 'it stays')}"
    elif override is not None and ok:
        text += f" (repair held {overrides.DEFAULT_HOLD_S / 60:.0f}m)"
    app.post_message(ActionFinished(env, clean(label), ok, clean(text, max_len=400), denied=denied))


# -- what a refusal of the team store says ----------------------------------------

_REFUSED_ROLE = re.compile(r"refuses this role \(([^)]*)\)")
_REFUSED_TABLE = re.compile(r"for (?:table|relation) \"?([A-Za-z_][A-Za-z0-9_]*)")


def store_refused(exc: StoreRefused, table: str, undone: str) -> str:
    """One plain sentence for a write the team store refused this database role (a member's
    role writes audit rows only, tui/core/store_pg.py): which role, which table, that nothing
    was applied (`undone`: "nothing paused", ...) and whom to ask. No driver text."""
    text = str(exc)
    role = _REFUSED_ROLE.search(text)
    named = _REFUSED_TABLE.search(text)
    who = f"your database role {role.group(1)}" if role and role.group(1) else "your database role"
    return clean(f"the team store refused it ({who} cannot write {named.group(1) if named else table}): {undone}; "
                 "ask an owner, or run it where envdeck uses the owner role (the agent's host)", max_len=400)


def failure_text(exc: EnvdeckError, table: str, undone: str) -> str:
    return store_refused(exc, table, undone) if isinstance(exc, StoreRefused) else clean(exc)


# -- repair, pause -------------------------------------------------------------

def repair(app: EnvdeckApp, env: str, resource: str | None = None, field: str | None = None) -> None:
    session = app.session
    if env not in session.states():
        app.notify(f"{clean(env)} is no longer observed: nothing to repair", markup=False, timeout=3)
        return
    state = session.state(env)
    drifts = [d for d in state.all_drifts() if (resource is None or d.resource == resource)
              and (field is None or d.field == field)]
    if not drifts:
        app.notify(f"no drift to repair{' on ' + clean(resource) if resource else ''}", markup=False)
        return
    if state.repair == "observe":
        app.notify(f"{env} is in 'observe' mode: drift is reported, not repaired "
                   "(set repair: propose or auto in the config)", severity="warning", markup=False)
        return
    if not session.policy.check(env, REPAIR).allowed:
        app.notify(session.policy.check(env, REPAIR).reason, title="Not allowed", severity="error", markup=False)
        app.run_worker(_repair(app, env, resource, field, quiet=True), group="actions", exit_on_error=False)
        return
    details = [f"{d.resource} {d.field}: {d.actual!r} → {d.desired!r}" for d in drifts]
    target = resource or env

    def confirmed(params: dict[str, str] | None) -> None:
        if params is not None:
            app.run_worker(_repair(app, env, resource, field), group="actions", exit_on_error=False)

    app.push_screen(ConfirmScreen(ConfirmRequest(
        title=f"Repair {len(drifts)} drifted field(s) of {target}?", details=details,
        confirm_label="Repair")), confirmed)


async def _repair(app: EnvdeckApp, env: str, resource: str | None, field: str | None, *, quiet: bool = False
                  ) -> None:
    label = f"repair {resource.rsplit('/', 1)[-1]}" if resource else "repair"
    if not quiet:
        app.post_message(ActionStarted(env, clean(label)))
    try:
        records = await app.session.repair(env, resource=resource, field=field)
    except EnvdeckError as exc:
        app.post_message(ActionFinished(env, clean(label), False, failure_text(exc, "the store", "nothing repaired")))
        return
    if quiet:
        return
    failed = [r for r in records if r.result != "succeeded"]
    text = "; ".join(f"{r.resource} {r.field}: {r.action} {r.result}"
                     + (f" ({r.message})" if r.message else "") for r in records) or "nothing to repair"
    app.post_message(ActionFinished(env, clean(label), not failed, clean(text, max_len=400),
                                    denied=any(r.result == "denied" for r in records)))


def toggle_pause(app: EnvdeckApp, env: str) -> None:
    session = app.session
    if env not in session.states():
        app.notify(f"{clean(env)} is no longer observed: nothing to pause", markup=False, timeout=3)
        return
    paused = not session.state(env).paused
    verb = "Pause" if paused else "Resume"
    decision = session.policy.check(env, PAUSE)
    if not decision.allowed:
        app.notify(decision.reason, title="Not allowed", severity="error", markup=False)
        app.run_worker(_set_paused(app, env, paused), group="actions", exit_on_error=False)
        return

    def confirmed(params: dict[str, str] | None) -> None:
        if params is not None:
            app.run_worker(_set_paused(app, env, paused), group="actions", exit_on_error=False)

    details = ["The reconciler stops repairing this environment until resumed; it keeps observing, "
               "so drift still shows."] if paused else ["The reconciler repairs again, per the repair mode."]
    app.push_screen(ConfirmScreen(ConfirmRequest(title=f"{verb} repairs of {env}?", details=details,
                                                 confirm_label=verb)), confirmed)


async def _set_paused(app: EnvdeckApp, env: str, paused: bool) -> None:
    label = f"{'pause' if paused else 'resume'} repairs"
    try:
        before = await app.session.set_paused(env, paused)
    except PolicyDenied as exc:
        app.post_message(ActionFinished(env, label, False, clean(exc), denied=True))
        return
    except EnvdeckError as exc:  # the store refused the write (a team member's role), or cannot be used
        undone = "nothing paused" if paused else "still paused"
        text = failure_text(exc, "repair_pauses", undone) if isinstance(exc, StoreRefused) \
            else f"{undone}: {clean(exc)}"
        app.post_message(ActionFinished(env, label, False, text))
        return
    if paused and before is not None:  # someone else paused it meanwhile: their pause stays as it is
        # whole (wrapped), as a refusal is: who paused, since when and why is what the on-caller needs
        app.toast(f"{label}: {already_paused(env, before)}", severity="warning", timeout=10.0, whole=True)
        return
    app.post_message(ActionFinished(env, label, True, "paused; still observing" if paused else "resumed"))


# -- shell and console -----------------------------------------------------------

async def run_in_terminal(app: EnvdeckApp, argv: list[str], on_interrupted: Interrupted | None = None) -> int | None:
    """Hand the terminal to `argv` and come back. None when this terminal cannot be
    handed over (browser via textual-serve, headless tests). A program that cannot be
    started raises its OSError only once the app has its terminal back; SIGHUP or
    SIGTERM to envdeck meanwhile awaits `on_interrupted` before the terminal is taken
    back (it may be gone), then raises `HandOverInterrupted`.

    The event loop keeps running while the program has the terminal — the reconciler
    goes on observing and repairing during a long SSH session — but nothing is drawn:
    repaints wait in a batch (`App.batch_update`) until the app has its terminal back."""
    failed: OSError | HandOverInterrupted | None = None
    try:
        with app.batch_update(), app.suspend():  # resumes first, then the batch's repaint
            try:
                return await call_in_foreground(argv, on_interrupted)
            except (OSError, HandOverInterrupted) as exc:  # raised through the suspension, Textual would never resume
                failed = exc
    except SuspendNotSupported:
        return None
    except OSError:
        if not isinstance(failed, HandOverInterrupted):  # resuming on a terminal that hung up
            raise
    assert failed is not None
    raise failed


def open_shell(app: EnvdeckApp, env: str, resource: Resource) -> None:
    async def shell() -> None:
        try:
            argv, audit_id = await app.session.open_shell(env, resource.id)
        except EnvdeckError as exc:
            app.post_message(ActionFinished(env, f"shell {clean(resource.name)}", False, clean(exc),
                                            denied=isinstance(exc, PolicyDenied)))
            return
        # From here on every way out finishes the audit row: never `pending` forever.
        finished = False

        async def finish(ok: bool, message: str) -> None:
            nonlocal finished
            if not finished:
                finished = True
                await app.session.shell_closed(audit_id, ok, message)

        async def interrupted(exc: HandOverInterrupted) -> None:  # SIGHUP or SIGTERM to envdeck
            await finish(False, str(exc))
            if exc.hung_up:  # no terminal to come back to: end as SIGHUP would have, the row written
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(app.session.close(), 10)
                end_by_signal(exc.signum)

        command = shlex.join(argv)
        try:
            code = await run_in_terminal(app, argv, interrupted)
        except HandOverInterrupted as exc:  # SIGTERM: recorded; the terminal is back, quit cleanly
            await finish(False, str(exc))
            app.exit(return_code=128 + exc.signum)
            return
        except OSError as exc:
            message = f"cannot run {argv[0]}: {exc.strerror or exc}"
            await finish(False, message)
            app.notify(clean(message), title="Shell", severity="error", markup=False, timeout=10)
            return
        except BaseException as exc:  # cancelled (the app is closing) or a bug
            with contextlib.suppress(Exception):
                await asyncio.shield(finish(False, f"interrupted: {clean(str(exc)) or type(exc).__name__}"))
            raise
        if code is None:
            await finish(True, "no terminal to hand over; the command was copied")
            app.copy_to_clipboard(command)
            app.notify(f"this terminal cannot be handed over; the command was copied: {clean(command)}",
                       title="Shell", severity="warning", markup=False, timeout=10)
            return
        ended = how_it_ended(argv[0], code)
        await finish(code == 0, ended)
        if code != 0:
            app.notify(clean(ended), title="Shell", severity="warning", markup=False)

    app.run_worker(shell(), group="shell", exit_on_error=False)


def open_console(app: EnvdeckApp, resource: Resource) -> None:
    url = resource.console_url
    if not url:
        app.notify(f"no console link for {clean(resource.kind)} {clean(resource.name)}", markup=False)
        return
    if not url.startswith(("https://", "http://")):
        app.notify(f"refusing to open a non-web link: {clean(url, max_len=80)}", severity="error", markup=False)
        return
    app.copy_to_clipboard(url)  # OSC 52: reaches the clipboard of an SSH user's own terminal
    opened = can_open_browser(app)
    if opened:
        app.open_url(url)
    app.notify(clean(url, max_len=300), markup=False, timeout=8,
               title="Opened and copied to the clipboard" if opened else "Copied to the clipboard")


def can_open_browser(app: EnvdeckApp) -> bool:
    """In a browser (textual-serve) or a desktop session. On a jump host Python's
    webbrowser would start a text browser inside our terminal: copy only."""
    if app.is_headless:
        return False
    if app.is_web or sys.platform == "darwin":
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
