"""A Deployment `web` whose desired replicas are 3, on the project's Kubernetes emulator: the
config and the counts on the server that the manual-action-vs-repair tests share
(tests/kubernetes and tests/tui)."""

from __future__ import annotations

WEB = "kubernetes/Deployment/web"


def desired_web_yaml(kubeconfig, namespace: str, *, repair: str = "auto", context: str | None = "emulator",
                     access: str = "", defaults: str = "", more_desired: str = "") -> str:
    """An `envdeck.yaml` with one environment, `prod`, whose kubernetes backend declares web at
    3 replicas (`more_desired`: further `desired:` lines, each indented by 8 spaces)."""
    lines = [defaults] if defaults else []
    lines += ["environments:", "  prod:", f"    repair: {repair}"]
    if access:
        lines.append(f"    access: {access}")
    lines += ["    kubernetes:", f"      kubeconfig: {kubeconfig}"]
    if context:
        lines.append(f"      context: {context}")
    lines += [f"      namespace: {namespace}", "      desired:", "        - {kind: Deployment, name: web, replicas: 3}"]
    return "\n".join(lines) + "\n" + more_desired


def patches(emulator, namespace: str, name: str = "web") -> int:
    """PATCH requests the server received for the Deployment `name`."""
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
    return sum(1 for method, p in list(emulator.request_log) if method == "PATCH" and p.startswith(path))


def replicas(emulator, namespace: str, name: str = "web") -> int:
    return emulator.get("deployments", namespace, name)["spec"]["replicas"]
