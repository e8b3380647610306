"""From a key press to a lifecycle request: `D` destroy (the environment's name typed),
`Z` sleep and `W` wake (a confirmation, Cancel focused). The request goes through
`Session.env_*` (policy, audit) in a worker with `wait=False`: the reconciler carries it
out, and its progress arrives as `LifecycleChanged`. The worker posts `LifecycleRequested`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

from screens.confirm import ConfirmRequest, ConfirmScreen
from tui.core.errors import EnvdeckError, PolicyDenied
from tui.core.lifecycle.lifecycle_store import allowed
from tui.core.lifecycle.records import EnvLifecycleState, Operation
from tui.core.sanitize import clean
from tui.messages import LifecycleRequested

if TYPE_CHECKING:
    from tui.app import EnvdeckApp


LIFECYCLE_ACTIONS = ("env_destroy", "env_sleep", "env_wake")


def lifecycle_keys(screen: Screen) -> str:
    """`D/Z/W` as bound on `screen` (after `ui.keymap`)."""
    keys: list[str] = []
    for action in LIFECYCLE_ACTIONS:
        for bindings in screen._bindings.key_to_bindings.values():
            for b in bindings:
                if b.action == action:
                    shown = screen.app.get_key_display(b)
                    if shown not in keys:
                        keys.append(shown)
    return "/".join(keys) or "D/Z/W"


def not_created_note(env: str, keys: str = "D/Z/W") -> str:
    return f"{clean(env)} is declared in the config; {keys} manage environments created from templates"


def explain_key(screen: Screen, key: str, env: str | None) -> bool:
    """A lifecycle key pressed on a config environment (its binding is off there, so nothing
    runs): say why in one line. True when `key` was one of them."""
    if env is None or env in screen.app.managed:  # type: ignore[attr-defined]
        return False
    for b in screen._bindings.key_to_bindings.get(key, ()):
        if b.action in LIFECYCLE_ACTIONS:
            screen.app.notify(not_created_note(env, lifecycle_keys(screen)), severity="warning", markup=False)
            return True
    return False


def _managed_or_say(app: EnvdeckApp, env: str, verb: str):
    managed = app.managed.get(env)
    if managed is None:
        app.notify(not_created_note(env), severity="warning", markup=False)
    return managed


def destroy(app: EnvdeckApp, env: str) -> None:
    managed = _managed_or_say(app, env, "destroy")
    if managed is None:
        return
    steps = len(managed.steps) or len(managed.spec.steps)
    details = [f"template {managed.template} · owner {managed.owner} · {managed.state}",
               f"{steps} step(s) are deleted in reverse order, then whatever still carries the "
               f"environment's owner mark is swept; what cannot be deleted is listed as an orphan."]

    def confirmed(params: dict[str, str] | None) -> None:
        if params is None:
            app.notify("cancelled; nothing was done", timeout=2, markup=False)
            return
        app.run_worker(request(app, env, Operation.DESTROY), group="lifecycle", exit_on_error=False)

    app.push_screen(ConfirmScreen(ConfirmRequest(title=f"Destroy environment {env}?", details=details,
                                                 type_to_confirm=env, destructive=True,
                                                 confirm_label="Destroy")), confirmed)


def sleep_or_wake(app: EnvdeckApp, env: str, *, sleep: bool) -> None:
    managed = _managed_or_say(app, env, "sleep" if sleep else "wake")
    if managed is None:
        return
    if sleep and managed.state == EnvLifecycleState.SLEEPING:
        app.notify(f"{clean(env)} is already sleeping (W wakes it)", markup=False)
        return
    if not sleep and managed.state != EnvLifecycleState.SLEEPING:
        app.notify(f"{clean(env)} is not sleeping ({managed.state})", markup=False)
        return
    operation = Operation.SLEEP if sleep else Operation.WAKE
    why = allowed(managed.state, operation, managed.operation)
    if why:  # said at once, as the reconciler would say it after the confirmation (a failed one: no sleep)
        app.notify(f"cannot {operation} {clean(env)}: {why}", severity="warning", markup=False)
        return
    details = (["Deployments and StatefulSets to 0, EC2 instances stopped, ECS services to 0, edge services "
                "stopped; the values before are kept for wake. Drift repair holds while asleep."] if sleep
               else ["What sleep scaled down or stopped is restored to the values kept before sleep."])

    def confirmed(params: dict[str, str] | None) -> None:
        if params is None:
            app.notify("cancelled; nothing was done", timeout=2, markup=False)
            return
        app.run_worker(request(app, env, operation), group="lifecycle", exit_on_error=False)

    verb = "Sleep" if sleep else "Wake"
    app.push_screen(ConfirmScreen(ConfirmRequest(title=f"{verb} environment {env}?", details=details,
                                                 confirm_label=verb)), confirmed)


async def request(app: EnvdeckApp, env: str, operation: Operation) -> None:
    """Hand `operation` over to the reconciler (`wait=False`); the answer is a message."""
    session = app.session
    calls = {Operation.DESTROY: session.env_destroy, Operation.SLEEP: session.env_sleep,
             Operation.WAKE: session.env_wake}
    try:
        managed = await calls[operation](env, wait=False)
    except PolicyDenied as exc:
        app.post_message(LifecycleRequested(env, str(operation), None, clean(exc), denied=True))
    except EnvdeckError as exc:
        app.post_message(LifecycleRequested(env, str(operation), None, clean(exc)))
    else:
        app.post_message(LifecycleRequested(env, str(operation), managed))
