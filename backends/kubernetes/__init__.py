"""Kubernetes backend: inventory via list + watch, health, logs, metrics, actions.

`KubernetesBackend` is loaded lazily so that importing a sibling subpackage
(`backends.kubernetes.emulator`) does not import the kubernetes client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backends.kubernetes.backend import KubernetesBackend

__all__ = ["KubernetesBackend"]


def __getattr__(name: str) -> Any:
    if name == "KubernetesBackend":
        from backends.kubernetes.backend import KubernetesBackend

        return KubernetesBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
