"""`F` on a pod or service: ask for the remote port (the container's or the service's
ports as choices), open the forward in a worker, say where it listens. `P` shows the
open forwards (screens/port_forwards.py). Every call goes through `Session`: a role
that may not forward is told so and the refusal is still audited there (`denied`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from screens.port_choice import ForwardRequest, PortChoiceScreen
from tui.core.errors import EnvdeckError, PolicyDenied
from tui.core.model import Resource
from tui.core.policy import PORT_FORWARD
from tui.core.sanitize import clean

if TYPE_CHECKING:
    from tui.app import EnvdeckApp

FORWARDABLE = ("Pod", "Service")


def can_forward(resource: Resource) -> bool:
    return resource.backend == "kubernetes" and resource.kind in FORWARDABLE \
        and not resource.attributes.get("placeholder")


def start_port_forward(app: EnvdeckApp, env: str, resource: Resource) -> None:
    session = app.session
    if session is None:
        return
    if not can_forward(resource):
        what = "an edge service" if resource.backend == "edge" and resource.kind == "service" \
            else f"a {clean(resource.backend)} {clean(resource.kind)}"
        app.notify(f"{clean(resource.name)} is {what}: port-forward works on Kubernetes pods and Services",
                   severity="warning", markup=False)
        return
    decision = session.policy.check(env, PORT_FORWARD)
    if not decision.allowed:
        app.notify(f"{PORT_FORWARD.title}: {decision.reason}", title="Not allowed", severity="error", markup=False)
        app.run_worker(_audit_denial(app, env, resource), group="port-forward", exit_on_error=False)
        return
    app.run_worker(_ask(app, env, resource), group="port-forward", exit_on_error=False)


async def _audit_denial(app: EnvdeckApp, env: str, resource: Resource) -> None:
    try:
        await app.session.port_forward(env, resource.id, 0)
    except EnvdeckError:
        pass


async def _ask(app: EnvdeckApp, env: str, resource: Resource) -> None:
    try:
        ports = await app.session.forward_ports(env, resource.id)
    except EnvdeckError as exc:
        app.notify(clean(exc), title="Port-forward", severity="error", markup=False)
        return

    def chosen(request: ForwardRequest | None) -> None:
        if request is None:
            app.notify("cancelled", timeout=2)
            return
        app.run_worker(_open(app, env, resource, request), group="port-forward", exit_on_error=False)

    app.push_screen(PortChoiceScreen(f"{resource.kind}/{resource.name}", ports), chosen)


async def _open(app: EnvdeckApp, env: str, resource: Resource, request: ForwardRequest) -> None:
    try:
        forward = await app.session.port_forward(env, resource.id, request.remote_port, request.local_port)
    except EnvdeckError as exc:
        app.notify(clean(exc), title="Port-forward" if not isinstance(exc, PolicyDenied) else "Not allowed",
                   severity="error", markup=False, timeout=8)
        return
    app.notify(f"{forward.local_address} → {clean(resource.kind)}/{clean(resource.name)}:{request.remote_port} "
               "(P lists forwards)", title="Forwarding", markup=False, timeout=8)


def open_panel(app: EnvdeckApp) -> None:
    from screens.port_forwards import PortForwardsScreen

    if app.session is not None:
        app.push_screen(PortForwardsScreen())
